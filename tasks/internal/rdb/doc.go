// Package rdb is every Redis access mediaflow makes for pipeline records:
// the key layout, the Lua scripts and the indexes, in one reviewable place
// (asynq keeps its own keys under "asynq:"; ours never overlap them).
//
// # Keys
//
//	mediaflow:{<id>}:pipeline   hash   v   = version, +1 on every write
//	                                   doc = the record as JSON (owned by package tasks)
//	mediaflow:pipelines         zset   every record, scored by creation time (ms)
//	mediaflow:pipelines:<state> zset   records in that state, scored by creation time (ms)
//	mediaflow:pipelines:due     zset   records not yet terminal, scored by the time (ms) by
//	                                   which they should have moved on (the sweep's stuck check)
//	mediaflow:pipelines:cleanup zset   records that still owe a cleanup (media to delete),
//	                                   scored by when it became owed (ms)
//	mediaflow:sweep:<slot>      string who ran that sweep slot (SET NX, expires)
//	mediaflow:sweeps            list   the last sweep results, newest first (capped)
//
// # Scripts
//
// Both scripts touch only the one key of a record, and every key of one
// record carries the record's id as a hash tag, so each script is
// single-slot and a Redis Cluster mode can follow without a redesign.
//
//	create  KEYS[1]=record  ARGV[1]=doc
//	        If the record exists, return {0, v, doc}; else write v=1 and doc
//	        and return {1}. Same-key idempotent creation relies on it.
//	cas     KEYS[1]=record  ARGV[1]=expected v  ARGV[2]=doc
//	        Write doc and v+1 only if v is still the expected one; return 1,
//	        0 on a version mismatch, -1 when the record is gone.
//
// # Indexes
//
// Index keys live in other slots than the record, so they are written by
// plain commands pipelined right after a successful script, never inside
// it. If a process dies between the two, an index can point at a record in
// another state; readers check the record itself and the sweep repairs the
// entry when it meets it. Listing and sweeping read the indexes only: no
// SCAN of the keyspace.
package rdb
