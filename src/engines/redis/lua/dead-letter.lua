-- dead-letter: an entry was delivered redis.maxDeliveries times and never acknowledged (the workers that
-- took it died or lost their lease while running it). Move its messages to the partition's dead-letter
-- stream with the reason, and tell the producer, which completes each message as a dead letter
-- (handler status CONSUMER_DIED). Same exactly-once gates as publish-result.lua.
--
-- KEYS[1]  gq:{<name>:p<n>}:stream                    the partition stream
-- KEYS[2]  gq:{<name>:p<n>}:dead                      the partition's dead-letter stream
-- KEYS[3]  gq:{<name>:p<n>}:inbox:<producer>          the producer's inbox for this partition
-- KEYS[4]  gq:{<name>:p<n>}:done:<producer>:<firstId> the batch's done mark
-- ARGV[1]  consumer group
-- ARGV[2]  entry id
-- ARGV[3]  done mark lifetime, ms
-- ARGV[4]  the packed results (every message: status CONSUMER_DIED, attempts = deliveries)
-- ARGV[5]  the reason, in words
-- ARGV[6]  entries the dead-letter stream keeps (0: keep none)
-- ARGV[7]  producer id
-- ARGV[8]  the packed batch (the messages themselves, for inspection or re-enqueueing)
--
-- Output: 1 dead-lettered and published; 0 a duplicate (nothing done); 2 acknowledged only: the producer
--   is gone (nobody waits for these messages any more).
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if acked == 0 then
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return 2
end
if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[3]) then
  return 0
end
if tonumber(ARGV[6]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'p', ARGV[7], 'e', ARGV[2], 'r', ARGV[5], 'm', ARGV[8])
end
redis.call('XADD', KEYS[3], '*', 'm', ARGV[4], 'r', ARGV[5])
return 1
