package rdb

import "fmt"

// The key layout of doc.go, as functions; nothing else in this package
// spells a key.

const prefix = "mediaflow:"

// Shards is how many hash slots the records are spread over. A record and
// every index entry about it live in its shard, so one script call can
// change them together; several shards keep one Redis Cluster node from
// holding every record.
const Shards = 16

// ShardOf is the shard of a pipeline id. It must never change: records are
// found by it.
// It is 32-bit FNV-1a of the id, written out because every record
// access computes it and hash/fnv's allocates.
func ShardOf(id string) int {
	const offset32, prime32 = 2166136261, 16777619
	h := uint32(offset32)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= prime32
	}
	return int(h % Shards)
}

// tag is a shard's hash tag: Redis Cluster hashes only what is between the
// braces, so every key carrying it lands in one slot.
func tag(shard int) string { return fmt.Sprintf("{mf%02d}", shard) }

// shardPrefixes are "mediaflow:{mfNN}:" of every shard, made once: every
// key of a record starts with one.
var shardPrefixes = func() (p [Shards]string) {
	for i := range p {
		p[i] = prefix + tag(i) + ":"
	}
	return p
}()

func shardPrefix(shard int) string { return shardPrefixes[shard] }

func recordPrefix(shard int) string  { return shardPrefix(shard) + "p:" }
func historyPrefix(shard int) string { return shardPrefix(shard) + "h:" }

func packedPrefix(shard int) string { return shardPrefix(shard) + "c:" }

func recordKey(id string) string  { return recordPrefix(ShardOf(id)) + id }
func packedKey(id string) string  { return packedPrefix(ShardOf(id)) + id }
func historyKey(id string) string { return historyPrefix(ShardOf(id)) + id }

// Index kinds, in the order the scripts take their keys.
const (
	idxAll     = "all"
	idxDue     = "due"
	idxCleanup = "cleanup"
	idxNotify  = "notify"
	idxDone    = "done"
)

var indexKinds = []string{idxAll, idxDue, idxCleanup, idxNotify, idxDone}

func indexKey(shard int, kind string) string { return shardPrefix(shard) + kind }

// finishedKey is the list retention reads (doc.go): "<done ms>:<id>"
// for every record that came to owe nothing, in the order they did.
func finishedKey(shard int) string { return shardPrefix(shard) + "finished" }

func stateKey(shard int, state string) string { return shardPrefix(shard) + "state:" + state }

// Keys outside the shards: small, and never touched by a record script.
const (
	sweepsKey = prefix + "sweeps"
	// CancelChannel carries the ids of pipelines a cancel was asked for, so
	// workers interrupt their running steps.
	CancelChannel = prefix + "cancel"
)

func sweepSlotKey(slot string) string { return prefix + "sweep:" + slot }

// readyKey and queueReadyKey are the write probe's keys (health.go): one in
// each shard, one in the slot of each asynq queue.
func readyKey(shard int) string         { return shardPrefix(shard) + "ready" }
func queueReadyKey(queue string) string { return prefix + "ready:{" + queue + "}" }

// The layout before shards (see legacy.go).
const (
	legacyAllKey = prefix + "pipelines"
)

func legacyRecordKey(id string) string { return prefix + "{" + id + "}:pipeline" }

func legacyIndexKeys(states []string) []string {
	keys := []string{legacyAllKey, prefix + "pipelines:due", prefix + "pipelines:cleanup"}
	for _, s := range states {
		keys = append(keys, prefix+"pipelines:"+s)
	}
	return keys
}
