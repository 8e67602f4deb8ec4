package rdb

// The key layout of doc.go, as functions; nothing else in this package
// spells a key.

const prefix = "mediaflow:"

func recordKey(id string) string { return prefix + "{" + id + "}:pipeline" }

const (
	allKey     = prefix + "pipelines"
	dueKey     = prefix + "pipelines:due"
	cleanupKey = prefix + "pipelines:cleanup"
	sweepsKey  = prefix + "sweeps"
)

func stateKey(state string) string { return prefix + "pipelines:" + state }

func sweepSlotKey(slot string) string { return prefix + "sweep:" + slot }
