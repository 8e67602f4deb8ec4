package rdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis replicates asynchronously: a master that dies (or is demoted in a
// failover) takes with it the writes it acknowledged but had not sent to
// a replica yet. Most record writes can be lost that way and redone. Two
// cannot: the count of attempts to create a post, written before the
// create, is what makes a later run search for a post whose reply was
// lost instead of creating a second one; and the post's id, once the post
// is staged, is the only way back to it. A durable write returns only
// once a replica holds it (WAIT, on the connection that wrote), so a
// replica promoted afterwards knows it. A node with no replica online
// (one resyncing after a failover) cannot promise that: the write is
// plain then.

// ReplicaWait bounds how long a durable write waits for a replica.
const ReplicaWait = 2 * time.Second

// ErrNotReplicated is a durable write that Redis took but no replica
// acknowledged within ReplicaWait. The write stands; a caller retries the
// step, which reads it back.
var ErrNotReplicated = errors.New("no replica acknowledged the write")

// putDurable runs the put script on one connection of the node that owns
// keys and, when that node has replicas, waits for one of them. A node
// without replicas (a single Redis) costs one INFO more and no wait.
func (r *RDB) putDurable(ctx context.Context, keys []string, args []any) (int, error) {
	node, err := r.nodeFor(ctx, keys[0])
	if err != nil || node == nil {
		// A client kind without single nodes (a Ring): as durable as
		// any other write.
		if err != nil {
			return 0, err
		}
		return putScript.Run(ctx, r.c, keys, args...).Int()
	}
	conn := node.Conn()
	defer conn.Close()
	n, err := putScript.Run(ctx, conn, keys, args...).Int()
	if err != nil || n != 1 {
		return n, err
	}
	// A server that answers it cannot say (the embedded one has no INFO
	// replication) has no replica to wait for; a lost connection may have
	// one, and the step is retried.
	info, err := conn.Info(ctx, "replication").Result()
	var refused redis.Error
	switch {
	case errors.As(err, &refused):
		return n, nil
	case err != nil:
		return n, err
	case connectedReplicas(info) == 0:
		return n, nil
	}
	acked, err := conn.Wait(ctx, 1, ReplicaWait).Result()
	if err != nil {
		return n, err
	}
	if acked < 1 {
		return n, fmt.Errorf("%w within %s", ErrNotReplicated, ReplicaWait)
	}
	return n, nil
}

// nodeFor is the client of the one node that owns key: the Cluster
// master of its slot, or the single (or Sentinel-chosen) master.
func (r *RDB) nodeFor(ctx context.Context, key string) (*redis.Client, error) {
	switch c := r.c.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	}
	return nil, nil
}

// connectedReplicas counts the online replicas INFO replication lists
// (slaveN:ip=…,state=online,…): one still loading its first copy acks
// nothing until it is done, and a write must not wait for it.
func connectedReplicas(info string) int {
	n := 0
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.HasPrefix(k, "slave") &&
			k != "slave_read_only" && strings.Contains(v, "state=online") {
			n++
		}
	}
	return n
}
