package rdb

import "github.com/redis/go-redis/v9"

// createScript: see doc.go.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  local cur = redis.call('HMGET', KEYS[1], 'v', 'doc')
  return {0, cur[1], cur[2]}
end
redis.call('HSET', KEYS[1], 'v', 1, 'doc', ARGV[1])
return {1}
`)

// casScript: see doc.go.
var casScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', tonumber(v) + 1, 'doc', ARGV[2])
return 1
`)
