-- The usual Redis design of a first-come coupon, as one atomic script (EVALSHA):
--   KEYS[1] stock counter, KEYS[2] set of users who hold a coupon, ARGV[1] the user.
-- Returns 1 granted, 0 sold out, -1 already claimed. Redis runs a script alone, so the check,
-- the decrement and the insert cannot interleave with another client's: no oversell, one
-- coupon per user. bench/compare loads it with SCRIPT LOAD and drives it with redis-benchmark.
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  return -1
end
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
if stock <= 0 then
  return 0
end
redis.call('DECR', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
