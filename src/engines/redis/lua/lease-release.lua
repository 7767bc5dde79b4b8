-- lease-release: gives a partition back at shutdown, so another worker takes it at once instead of after
-- the lease expires. Only the holder's own lease is deleted.
--
-- KEYS[1]  gq:{<name>:p<n>}:lease
-- ARGV[1]  worker id
--
-- Output: 1 released; 0 it was not held by this worker.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
