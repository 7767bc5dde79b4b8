-- publish-result: a worker ran a batch; hand its results to the producer exactly once and forget the
-- entry (bounded memory: acknowledged entries are deleted, not kept until a trim).
--
-- Exactly once, in two gates, both atomic with the publication:
--   1. XACK must acknowledge the entry now. 0 means another delivery of it (a worker that took over an
--      expired lease, or this one before a reconnect) already published: publish nothing.
--   2. The batch's done mark must be new (SET NX PX). An existing mark means the same batch reached the
--      stream twice (a producer's XADD resent after a reconnect): publish nothing.
--
-- KEYS[1]  gq:{<name>:p<n>}:stream                    the partition stream
-- KEYS[2]  gq:{<name>:p<n>}:inbox:<producer>          the producer's inbox for this partition
-- KEYS[3]  gq:{<name>:p<n>}:done:<producer>:<firstId> the batch's done mark
-- ARGV[1]  consumer group
-- ARGV[2]  entry id
-- ARGV[3]  done mark lifetime, ms (redis.doneTtlMs)
-- ARGV[4]  the packed results (wire.ts), in the batch's order
--
-- Output: 1 published; 0 not published (a duplicate, see the gates); 2 acknowledged, not published: the
--   producer is gone (its inbox no longer exists), so nobody waits for the result.
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if acked == 0 then
  return 0
end
-- No inbox: its producer is gone (or Redis lost it; the producer recreates it and ships the batch
-- again). Set no done mark then, or that second delivery would be taken for a duplicate.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return 2
end
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) then
  return 0
end
redis.call('XADD', KEYS[2], '*', 'm', ARGV[4])
return 1
