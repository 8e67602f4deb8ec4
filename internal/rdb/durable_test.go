package rdb

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redisserver"
)

// A durable write is on a replica when it returns; with the replica stuck
// it says so (ErrNotReplicated) rather than pretend, and the write stands.
// Without replicas it is a plain write.
func TestDurablePutWaitsForAReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	write := func(t *testing.T, db *RDB, id string) error {
		t.Helper()
		e, err := db.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return db.PutBody(ctx, id, e.Version, Body{Doc: []byte(`{"attempts":1}`), Durable: true}, Meta{State: "running", Created: t0}, nil)
	}
	create := func(t *testing.T, db *RDB, id string) {
		t.Helper()
		if _, _, err := db.Create(ctx, id, []byte(`{}`), []byte(`{"attempts":0}`), Meta{State: "running", Created: t0}, nil); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("no replica", func(t *testing.T) {
		db, _ := setup(t)
		create(t, db, "alone")
		start := time.Now()
		if err := write(t, db, "alone"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d >= ReplicaWait {
			t.Errorf("a durable write without replicas waited %s", d)
		}
	})

	t.Run("a replica", func(t *testing.T) {
		dir := t.TempDir()
		master, err := redisserver.Start(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(master.Kill)
		host, port, _ := net.SplitHostPort(master.Addr)
		replica, err := redisserver.StartWith(dir, redisserver.Options{Args: []string{"--replicaof", host, port}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { replica.Thaw(); replica.Kill() })
		mc := redis.NewClient(&redis.Options{Addr: master.Addr})
		rc := redis.NewClient(&redis.Options{Addr: replica.Addr})
		t.Cleanup(func() { _ = mc.Close(); _ = rc.Close() })
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			info, _ := mc.Info(ctx, "replication").Result()
			if connectedReplicas(info) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the replica did not connect: %s", info)
			}
		}
		db, onReplica := New(mc, states), New(rc, states)
		create(t, db, "kept")
		if err := write(t, db, "kept"); err != nil {
			t.Fatal(err)
		}
		if e, err := onReplica.Get(ctx, "kept"); err != nil || e.Version != 2 {
			t.Fatalf("the replica holds %+v (%v) as the durable write returns, want version 2", e, err)
		}

		replica.Freeze()
		create(t, db, "stuck")
		start := time.Now()
		err = write(t, db, "stuck")
		if !errors.Is(err, ErrNotReplicated) {
			t.Fatalf("with the replica frozen: %v, want ErrNotReplicated", err)
		}
		if d := time.Since(start); d < ReplicaWait {
			t.Errorf("gave up after %s, before ReplicaWait", d)
		}
		if e, err := db.Get(ctx, "stuck"); err != nil || e.Version != 2 {
			t.Errorf("the master holds %+v (%v), want the write (version 2)", e, err)
		}
	})
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
