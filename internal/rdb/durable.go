package rdb

import (
	"context"
	"errors"
	"fmt"
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

// putDurable runs the durable put script on one connection of the node
// that owns keys and, when that node has online replicas (the script says
// how many), waits for one of them there. A node without replicas (a
// single Redis) costs nothing more than a plain put.
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
	res, err := putDurableScript.Run(ctx, conn, keys, args...).Int64Slice()
	if err != nil {
		return 0, err
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("durable put answered %v", res)
	}
	if n, replicas := int(res[0]), res[1]; n != 1 || replicas == 0 {
		return n, nil
	}
	acked, err := conn.Wait(ctx, 1, ReplicaWait).Result()
	if err != nil {
		return 1, err
	}
	if acked < 1 {
		return 1, fmt.Errorf("%w within %s", ErrNotReplicated, ReplicaWait)
	}
	return 1, nil
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
