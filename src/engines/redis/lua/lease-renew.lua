-- lease-renew: extends a worker's lease on a partition, if it still holds it.
--
-- KEYS[1]  gq:{<name>:p<n>}:lease
-- ARGV[1]  worker id
-- ARGV[2]  lease length, ms (redis.leaseMs)
--
-- Output: 1 renewed; 0 the lease expired or another worker holds it (stop reading the partition).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
