-- ship: appends one packed batch (one shard's READY slots, in position order) to its partition stream,
-- unless the stream already holds too many entries: producer backpressure on stream depth. The producer
-- then keeps the batch and tries again later, so its ring fills and enqueue reports FULL / TIMEOUT.
--
-- KEYS[1]  gq:{<name>:p<n>}:stream   the partition stream (its consumer group exists: the producer made it)
-- ARGV[1]  entries the stream may hold (redis.maxStreamEntries)
-- ARGV[2]  producer id (names the inbox results go to)
-- ARGV[3]  config digest (gq:{<name>}:config:<digest> holds the handler and geometry)
-- ARGV[4]  the packed batch (wire.ts)
--
-- Output: the new entry id, or false (nil reply) when the stream is full.
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then
  return false
end
return redis.call('XADD', KEYS[1], '*', 'p', ARGV[2], 'c', ARGV[3], 'm', ARGV[4])
