package rdb

import "github.com/redis/go-redis/v9"

// The scripts of doc.go. Record scripts take the same keys, in this order:
//
//	KEYS[1] record  KEYS[2] history  KEYS[3] all (only ever emptied)  KEYS[4] due  KEYS[5] cleanup
//	KEYS[6] notify  KEYS[7] done (only ever emptied)  KEYS[8..#KEYS-2]  one state index per state
//	KEYS[#KEYS-1] packed record  KEYS[#KEYS] finished
//
// and keep a record's index entries equal to its stored meta, which is
// "s|created|due|cleanup|notify|done": s is the state's place (from 1) in
// the states the RDB was made with, the rest are milliseconds, 0 for "not
// in that index".
//
// A record is stored in one of two forms, never both: in parts (the
// record hash, v req doc meta, and the history list) or packed (one
// string, "<v> <meta>\n<packed bytes>", the bytes package tasks's: the
// request, the document and the history in one compressed value). The
// version goes on across forms, so a writer that read version v knows the
// form it replaces; a write names the form it leaves:
//
//	d  in parts, from parts: the document replaced, events appended
//	e  in parts, from packed: request, document and the whole history given
//	p  packed, from either: the packed value given (events inside it)
const prelude = `
local P = KEYS[#KEYS - 1]
local F = KEYS[#KEYS]

-- head reads the version and meta of a packed value.
local function head(s)
  local sp = string.find(s, ' ', 1, true)
  local nl = string.find(s, '\n', sp + 1, true)
  return string.sub(s, 1, sp - 1), string.sub(s, sp + 1, nl - 1), nl
end

-- current is the record's version, meta and form ('d' in parts, 'p'
-- packed), or nil when there is none.
local function current()
  local cur = redis.call('HMGET', KEYS[1], 'v', 'meta')
  if cur[1] then return cur[1], cur[2], 'd' end
  local s = redis.call('GET', P)
  if not s then return nil end
  local v, m = head(s)
  return v, m, 'p'
end

local function parse(m)
  local t = {}
  for x in string.gmatch(m, '[^|]+') do t[#t+1] = x end
  return t
end

-- index moves id's entries from old (nil for a new record) to new and
-- returns the meta to store. A due of 'k' keeps the current one: only the
-- create, the write reopening a finished record (a replay) and the sweep
-- (setdue) place a running record in the due index,
-- which spares every step's write an index command. Every ZADD comes
-- before any ZREM, and the caller writes the record after: a command
-- refused half way (Redis does not roll a script back) leaves the old
-- entries in place and the record unchanged.
local function index(id, old, new)
  local adds, rems = {}, {}
  if old == nil then
    if new[3] == 'k' then new[3] = '0' end
    adds[#adds + 1] = {KEYS[7 + tonumber(new[1])], new[2]}
    old = {new[1], new[2], '0', '0', '0', '0'}
  elseif old[1] ~= new[1] then
    adds[#adds + 1] = {KEYS[7 + tonumber(new[1])], new[2]}
    rems[#rems + 1] = KEYS[7 + tonumber(old[1])]
  end
  if new[3] == 'k' then new[3] = old[3] end
  for j = 3, 5 do
    if old[j] ~= new[j] then
      if new[j] == '0' then rems[#rems + 1] = KEYS[j + 1] else adds[#adds + 1] = {KEYS[j + 1], new[j]} end
    end
  end
  for _, a in ipairs(adds) do redis.call('ZADD', a[1], a[2], id) end
  if old[6] ~= new[6] then
    -- done: an entry in the finished list; one made before (the record
    -- owed nothing, then something again) is left to retention, which
    -- finds it stale. An older worker's done entry goes.
    if new[6] ~= '0' then redis.call('RPUSH', F, new[6] .. ':' .. id) end
    if old[6] ~= '0' then rems[#rems + 1] = KEYS[7] end
  end
  for _, k in ipairs(rems) do redis.call('ZREM', k, id) end
  return table.concat(new, '|')
end

-- reindex writes id's entries as meta m says, whatever they were.
local function reindex(id, m)
  local s = 7 + tonumber(m[1])
  for i = 8, #KEYS - 2 do
    if i ~= s then redis.call('ZREM', KEYS[i], id) end
  end
  redis.call('ZADD', KEYS[s], m[2], id)
  for j = 3, 5 do
    if m[j] == '0' then redis.call('ZREM', KEYS[j + 1], id) else redis.call('ZADD', KEYS[j + 1], m[j], id) end
  end
  -- all and done: no longer written (listing every state reads every
  -- state's index; retention reads the finished list); an older worker's
  -- entries go, its done entry to the finished list. A record any script
  -- here wrote has its finished entry already (index), and a list cannot
  -- be searched: another would be a repeat at every repair.
  redis.call('ZREM', KEYS[3], id)
  if redis.call('ZREM', KEYS[7], id) == 1 and m[6] ~= '0' then
    redis.call('RPUSH', F, m[6] .. ':' .. id)
  end
end

-- history appends ARGV[first..] and keeps the first keep events and the
-- latest ones, cap in all.
local function history(first, keep, cap)
  if #ARGV < first then return end
  local n = redis.call('RPUSH', KEYS[2], unpack(ARGV, first))
  while n > cap do
    redis.call('LSET', KEYS[2], keep, '-')
    redis.call('LREM', KEYS[2], 1, '-')
    n = n - 1
  end
end
`

// createScript: ARGV id, form, meta, keep, cap, then for form d: req,
// doc, events…; for form p: the packed value.
// A new record is written with its indexes (and history): {1}. An
// existing one is returned as {0, v, req, doc, false} or, packed, as
// {0, v, false, false, packed value}, and its indexes are repaired.
var createScript = redis.NewScript(prelude + `
local v, m, form = current()
if v then
  reindex(ARGV[1], parse(m))
  if form == 'p' then return {0, v, false, false, redis.call('GET', P)} end
  local cur = redis.call('HMGET', KEYS[1], 'req', 'doc')
  return {0, v, cur[1], cur[2], false}
end
local meta = index(ARGV[1], nil, parse(ARGV[3]))
if ARGV[2] == 'p' then
  redis.call('SET', P, '1 ' .. meta .. '\n' .. ARGV[6])
else
  redis.call('HSET', KEYS[1], 'v', 1, 'req', ARGV[6], 'doc', ARGV[7], 'meta', meta)
  history(8, tonumber(ARGV[4]), tonumber(ARGV[5]))
end
return {1}
`)

// putScript: ARGV id, expected v, form, meta, keep, cap, then for form d:
// doc, events…; e: req, doc, the whole history then the new events…; p:
// the packed value.
// Writes only if v is still the expected one and the record in the form
// the writer read (which the version implies): 1; 0 on a mismatch; -1
// when the record is gone.
var putScript = redis.NewScript(prelude + putFunc + `return put()`)

// putDurableScript is put, then how many online replicas the node holds
// (a replica still loading its first copy acks nothing, and a write must
// not wait for it): {put's answer, replicas}. Reading INFO here spares a
// durable write a round trip; a server that does not answer it (the
// embedded one, an ACL without +info) has no replica to wait for. The
// caller then WAITs on the connection that ran it (durable.go).
var putDurableScript = redis.NewScript(prelude + putFunc + `
local n = put()
if n ~= 1 then return {n, 0} end
local info = redis.pcall('INFO', 'replication')
local replicas = 0
if type(info) == 'string' then
  for _ in string.gmatch(info, 'slave%d+:[^\r\n]*state=online') do replicas = replicas + 1 end
end
return {n, replicas}
`)

// putFunc is the put scripts' work, as the Lua function put.
const putFunc = `
local function put()
  local v, m, form = current()
  if not v then return -1 end
  if v ~= ARGV[2] or (ARGV[3] == 'd' and form ~= 'd') or (ARGV[3] == 'e' and form ~= 'p') then return 0 end
  local meta = index(ARGV[1], parse(m), parse(ARGV[4]))
  local nv = tonumber(v) + 1
  if ARGV[3] == 'p' then
    redis.call('SET', P, nv .. ' ' .. meta .. '\n' .. ARGV[7])
    if form == 'd' then redis.call('DEL', KEYS[1], KEYS[2]) end
  elseif ARGV[3] == 'e' then
    redis.call('HSET', KEYS[1], 'v', nv, 'req', ARGV[7], 'doc', ARGV[8], 'meta', meta)
    redis.call('DEL', P)
    history(9, tonumber(ARGV[5]), tonumber(ARGV[6]))
  else
    redis.call('HSET', KEYS[1], 'v', nv, 'doc', ARGV[7], 'meta', meta)
    history(8, tonumber(ARGV[5]), tonumber(ARGV[6]))
  end
  return 1
end
`

// getScript: KEYS record, packed record. A record in either form, in one
// round trip: {v, req, doc, false} in parts, {false, false, false, packed
// value} packed, all false when there is none. (Reading the hash, then the
// string when the hash is missing, was two round trips for every packed
// record: the first read of every pipeline.)
var getScript = redis.NewScript(`
local r = redis.call('HMGET', KEYS[1], 'v', 'req', 'doc')
if r[1] then return {r[1], r[2], r[3], false} end
return {false, false, false, redis.call('GET', KEYS[2])}
`)

// getFullScript: KEYS record, packed record, history. A record in either
// form with its history, at once: {v, req, doc, false, history} in
// parts, {false, false, false, packed value, {}} packed, all false when
// there is none. Read with three commands, a write packing the record
// between them (the one that ends a pipeline) left the record read in
// parts with its history already gone.
var getFullScript = redis.NewScript(`
local r = redis.call('HMGET', KEYS[1], 'v', 'req', 'doc')
if r[1] then return {r[1], r[2], r[3], false, redis.call('LRANGE', KEYS[3], 0, -1)} end
return {false, false, false, redis.call('GET', KEYS[2]), {}}
`)

// scanScript: KEYS some indexes of one shard; ARGV start, stop, "1" for
// newest first, count. Each key's ZRANGE … BYSCORE LIMIT 0 count
// WITHSCORES, in one call (span.go Scan): a record a write moves from one
// index to another is in exactly one of them.
var scanScript = redis.NewScript(`
local out = {}
for i, k in ipairs(KEYS) do
  if ARGV[3] == '1' then
    out[i] = redis.call('ZRANGE', k, ARGV[1], ARGV[2], 'BYSCORE', 'REV', 'LIMIT', 0, ARGV[4], 'WITHSCORES')
  else
    out[i] = redis.call('ZRANGE', k, ARGV[1], ARGV[2], 'BYSCORE', 'LIMIT', 0, ARGV[4], 'WITHSCORES')
  end
end
return out
`)

// setDueScript: ARGV id, due. Moves a non-terminal record's due entry
// (later or earlier): 1; 0 when it has none (terminal); -1 when the record
// is gone (its due entry is dropped).
var setDueScript = redis.NewScript(prelude + `
local v, m, form = current()
if not v then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return -1
end
local t = parse(m)
if t[3] == '0' then return 0 end
t[3] = ARGV[2]
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
if form == 'd' then
  redis.call('HSET', KEYS[1], 'meta', table.concat(t, '|'))
else
  local s = redis.call('GET', P)
  local _, _, nl = head(s)
  redis.call('SET', P, v .. ' ' .. table.concat(t, '|') .. string.sub(s, nl))
end
return 1
`)

// repairScript: ARGV id. Makes id's index entries what its record says,
// or removes them all (and any history) when the record is gone: 1 or 0.
var repairScript = redis.NewScript(prelude + `
local v, m = current()
if not v then
  for i = 3, #KEYS - 2 do redis.call('ZREM', KEYS[i], ARGV[1]) end
  redis.call('DEL', KEYS[2])
  return 0
end
reindex(ARGV[1], parse(m))
return 1
`)

// expireScript deletes the records of one shard that have owed nothing
// since a cutoff or before, with their history and index entries: first
// those in the done index older workers kept, then from the head of the
// finished list, while its entries are at or before the cutoff.
//
//	KEYS[1] done  KEYS[2..5] all, due, cleanup, notify  KEYS[6..#KEYS-1] one state index per state
//	KEYS[#KEYS] finished
//	ARGV cutoff, limit, record key prefix, history key prefix, packed key prefix, ahead
//
// The record and history keys are built from the prefixes: they carry the
// shard's hash tag, so the script stays in one slot (asynq builds its task
// keys the same way). Returns {deleted, looked at}.
//
// The finished list is in the order records came to owe nothing, which
// is the order of their done times but for clock skew between workers: an
// entry waits behind one whose writer's clock was ahead, for as long as it
// was. Past a bound (ARGV ahead: the sweeper's now and ClockSkew), that
// wait would hold up the whole shard, so an entry dated after it moves to
// the done index, which is read by time whatever the order. An entry whose
// record's meta has another done time is stale (the record owed something
// again, or was deleted) and is dropped.
var expireScript = redis.NewScript(`
local function meta(id)
  local m = redis.call('HGET', ARGV[3] .. id, 'meta')
  if not m then
    local s = redis.call('GET', ARGV[5] .. id)
    if s then
      local sp = string.find(s, ' ', 1, true)
      m = string.sub(s, sp + 1, string.find(s, '\n', sp + 1, true) - 1)
    end
  end
  if not m then return nil end
  local t = {}
  for x in string.gmatch(m, '[^|]+') do t[#t+1] = x end
  return t
end
-- drop deletes a record and its entries, which are where its meta says
-- (every script keeps them so): its state's, due, cleanup and notify when
-- set, and all and done where an older worker wrote them. Removing only
-- those keeps a batch's command short at a million records.
local function drop(id, t)
  redis.call('DEL', ARGV[3] .. id, ARGV[4] .. id, ARGV[5] .. id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[5 + tonumber(t[1])], id)
  for j = 3, 5 do
    if t[j] ~= '0' then redis.call('ZREM', KEYS[j], id) end
  end
end
-- forget removes the entries of a record that is gone.
local function forget(id)
  for i = 1, #KEYS - 1 do redis.call('ZREM', KEYS[i], id) end
end
local cutoff, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local deleted, looked = 0, 0
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  looked = looked + 1
  local t = meta(id)
  if not t then
    forget(id)
  elseif t[6] == '0' then
    redis.call('ZREM', KEYS[1], id)
  elseif tonumber(t[6]) > cutoff then
    redis.call('ZADD', KEYS[1], t[6], id)
  else
    drop(id, t)
    deleted = deleted + 1
  end
end
local F, ahead = KEYS[#KEYS], tonumber(ARGV[6])
while looked < limit do
  local e = redis.call('LINDEX', F, 0)
  if not e then break end
  local c = string.find(e, ':', 1, true)
  local at = string.sub(e, 1, c - 1)
  local id = string.sub(e, c + 1)
  if tonumber(at) > cutoff then
    if tonumber(at) <= ahead then break end
    redis.call('LPOP', F)
    redis.call('ZADD', KEYS[1], at, id)
  else
    redis.call('LPOP', F)
    local t = meta(id)
    if not t then
      forget(id)
    elseif t[6] == at then
      drop(id, t)
      deleted = deleted + 1
    end
  end
  looked = looked + 1
end
return {deleted, looked}
`)
