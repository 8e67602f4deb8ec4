// Package rdb is every Redis key and Lua script mediaflow owns, in one
// reviewable place: the pipeline records and their indexes (package
// tasks), the Swonkie call budget a fleet shares (package budget), what
// the fleet remembers of a workspace's labels and posts (package tasks),
// and the HTTP surfaces' defences: failed authentications per client
// (package authlimit) and the page sessions ended at logout (package ui).
// asynq keeps its own keys under "asynq:"; ours never overlap them.
//
// # Shards
//
// Records are spread over 16 shards, each with its own hash tag {mfNN}
// (NN = FNV-1a of the pipeline id, mod 16). A record and every index
// entry that names it live in its shard, so one script can write the
// record and its index entries together, and every script touches one
// hash slot: the same code runs on a standalone Redis, Sentinel and Redis
// Cluster (where the 16 tags spread the records over the masters). No
// command ever spans two shards; listing merges the shards' pages in Go.
//
// # Keys
//
//	mediaflow:{mfNN}:p:<id>        hash   v    version, +1 on every write
//	                                      req  the request and its trace context, written once (JSON, package tasks)
//	                                      doc  everything that changes (JSON, package tasks)
//	                                      meta what the indexes hold: "s|created|due|cleanup|notify|done"
//	mediaflow:{mfNN}:h:<id>        list   history events (JSON); the first 4 and the last ones, 40 in all
//	mediaflow:{mfNN}:c:<id>        string the record packed, instead of the two keys above (never both):
//	                                      "<v> <meta>\n<bytes>", the bytes package tasks's (request, document
//	                                      and history in one compressed value; tasks/encoding.go says when)
//	mediaflow:{mfNN}:all           zset   no longer written: every record, by creation time, as older workers
//	                                      kept it; repair and retention remove what is left (listing every
//	                                      state reads the state indexes: an entry here cost ~140 bytes a record)
//	mediaflow:{mfNN}:state:<state> zset   records in that state, by creation time (ms)
//	mediaflow:{mfNN}:due           zset   unfinished records, by since when the sweep's PENDING_KICK_AFTER
//	                                      counts (creation, then its last look; the sweep's setting decides)
//	mediaflow:{mfNN}:cleanup       zset   records owing a cleanup, by since when
//	mediaflow:{mfNN}:notify        zset   records owing a webhook event, by since when
//	mediaflow:{mfNN}:done          zset   finished records owing nothing, by when: as older workers kept it
//	                                      (retention and repair empty it), and those retention found dated
//	                                      more than ClockSkew past its now (a writer's clock ahead), which
//	                                      would otherwise hold up the finished list's head
//	mediaflow:{mfNN}:finished      list   "<done ms>:<id>" for each record that came to owe nothing, in that
//	                                      order (retention pops it from the head; an entry whose record's meta
//	                                      says another done time is stale and dropped): ~55 bytes an entry
//	                                      where a sorted-set entry costs ~140
//	mediaflow:{mfNN}:ready         string readiness write probe (expires): Redis still takes writes there
//	mediaflow:ready:{<queue>}      string the same, in the slot of asynq's keys of that queue
//	mediaflow:sweep:<slot>         string who ran that sweep slot (SET NX, expires)
//	mediaflow:sweeps               list   the last sweep results, newest first (capped)
//	mediaflow:cancel               pubsub channel: ids of pipelines just cancelled
//	mediaflow:op:<id>              string a bulk operation's progress (JSON; expires a week after its last write)
//	mediaflow:budget:{<ws>}        string the fleet's Swonkie budget: GCRA arrival time (ms, Redis clock);
//	                                      <ws> = hash of the API id, never the id or the key
//	mediaflow:budget:{<ws>}:pause  hash   endpoint ("*" = all) → paused until (ms), after a 429; same tag
//	mediaflow:budget:{<ws>}:peers  zset   processes sharing the budget → last seen (ms); same tag
//	mediaflow:budget:{<ws>}:turns  string the last turn handed to a run deferred for the budget (ms, Redis
//	                                      clock; turns.go); same tag
//	mediaflow:active:{<w>}         zset   a workspace's active pipelines: "<pipeline id> <run id>" → lease end
//	                                      (ms, Redis clock; active.go); <w> = its configured name
//	mediaflow:active:{<w>}:turns   string the last turn handed to a run refused a place there; same tag
//	mediaflow:ws:<w>:label:<h>      string the label id used for the name hashed h (expires; workspace.go)
//	mediaflow:ws:<w>:label:<h>:lock string who is resolving that name: finds it or creates it (SET NX PX)
//	mediaflow:ws:<w>:post:<postId>  string the pipeline owning a post it made without media (SET NX, expires)
//	mediaflow:ws:<w>:post:<postId>:lock string the run reading and changing a post of the caller's (SET NX PX)
//	                                      <w> = swonkie.Client.Workspace(): a hash of base URL and API id
//	mediaflow:profiles:<name>      string a workspace's profile directory (GET /profiles: ids, networks, names,
//	                                      statusLevel) as JSON (expires; profiles.go); <name> = its configured name
//	mediaflow:workspaces           string JSON list of the workspace names the workers serve (registry.go)
//	mediaflow:paused:<name>        string why a workspace is paused, by hand or for refused credentials (JSON;
//	                                      pause.go); DEL resumes it
//	mediaflow:authfail:<client>    string failed authentications of a client: GCRA arrival time (ms, Redis
//	                                      clock); <client> = an IPv4 address or an IPv6 /64; expires when refilled
//	mediaflow:ui:revoked:<sid>     string a page session ended at logout, until it would have expired;
//	                                      <sid> = hash of the session's nonce, never the cookie
//	mediaflow:ui:secret            string 32 random bytes: the key of workspaces-file tokens' page sessions
//	                                      (auth.go; SET NX once)
//
// In meta, s is the state's place in the list the RDB was made with, and
// every other part is milliseconds, 0 for "not in that index".
//
// # Scripts (scripts.go)
//
//	create  write a new record (in parts or packed), its indexes and first
//	        events at once; if the record exists, return it and repair its
//	        index entries instead
//	put     compare-and-set on v, whatever the form: the document (or the
//	        record laid out in parts again, or packed), the index entries
//	        moved from the old meta to the new, and the events appended, at
//	        once (scripts.go lists the forms a write may leave); a durable
//	        put (Body.Durable, durable.go) runs on one connection of the
//	        record's node and, when that node has online replicas, is
//	        followed by WAIT 1 there: the count of attempts to create a post
//	        and the post's id must outlive a failover
//	get     a record in either form, in one round trip
//	getfull a record in either form with its history (GetMany, GetFull), at
//	        once: a write packing the record between separate reads left
//	        it read in parts without its history
//	scan    the ZRANGEs of a listing's indexes in one shard, at once (a
//	        record a write moves between two of them is read once)
//	setdue  move an unfinished record's due entry (the sweep, finding it
//	        waiting)
//	repair  make a record's index entries what its meta says, or drop them
//	        when the record is gone
//	expire  delete the records of one shard finished before a cutoff, with
//	        their history and index entries, in batches: from the old done
//	        index while it holds any, then from the head of the finished list
//	        (an entry dated past now + ClockSkew moves to the done index)
//
// turns.go holds turn (the next turn of a run that gave its worker slot
// back: the later of now plus its earliest wait and the last turn plus
// an interval, recorded with an expiry just past it), and active.go
// admit (drop the places whose lease ended, then take one for a run when
// its pipeline holds one already or fewer than maxActive pipelines do;
// several runs of one pipeline count once). Both are single-key.
//
// budget.go holds two more: take (GCRA on one key, after a pause check; the
// fleet budget takes a call with it, and auth.go counts a failed
// authentication or, with "peek", only asks whether a client is over its
// limit) and pause.
//
// workspace.go holds two more, each on one key: release (delete a
// label-name claim only if the caller still holds it) and claimPost (own a
// post unless someone does, and say who does).
//
// Each script writes its index entries before the record itself: Redis does
// not roll a script back, so if a command is refused half way (an ACL that
// forbids ZADD, an out-of-memory refusal), the record is not written and
// the caller gets the error — a record never exists without its entries.
// A crash cannot split a script either. The due entry is written only by
// create and setdue (a write of a running record passes "k", keep), which
// spares every step's write a command.
//
// # Time
//
// Leases between workers are judged by Redis's clock (Now, TIME), never a
// worker's own: the post claim a record's doc carries (package tasks) is
// stamped and compared with it, so workers whose clocks disagree still
// agree on when it lapses. The sweep's slot claim expires in Redis itself.
//
// # The layout before shards
//
// Records written by older workers (mediaflow:{<id>}:pipeline with
// unsharded indexes) are read through legacy.go and moved over by package
// tasks the first time they are read, and by the sweep.
package rdb
