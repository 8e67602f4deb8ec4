package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

// bulk acts on every pipeline its filter matches and on no other, prints
// the operation as JSON and a summary line; --dry-run only counts; a bad
// action or time is bad input (exit 2).
func TestBulkCommand(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	ids := map[string]string{}
	for _, key := range []string{"camp-1", "camp-2", "camp-3", "other-1"} {
		code, stdout, stderr := c.run("", "publish", "--media", "a.png", "--profile", c.profiles[0], "--caption", "x", "--at", later, "--key", key)
		if code != exitOK {
			t.Fatalf("publish %s: exit %d, %s", key, code, stderr)
		}
		ids[key] = strings.TrimSpace(stdout)
	}
	operation := func(stdout string) tasks.Operation {
		t.Helper()
		var op tasks.Operation
		if err := json.Unmarshal([]byte(stdout), &op); err != nil {
			t.Fatalf("stdout is not the operation: %v\n%s", err, stdout)
		}
		return op
	}

	code, stdout, stderr := c.run("", "bulk", "cancel", "--key-prefix", "camp-", "--dry-run")
	if op := operation(stdout); code != exitOK || op.Matched != 3 || op.Done != 0 {
		t.Errorf("dry run: exit %d, %+v, %s", code, op, stderr)
	}
	code, stdout, stderr = c.run("", "bulk", "cancel", "--key-prefix", "camp-", "--state", "pending")
	op := operation(stdout)
	if code != exitOK || op.State != tasks.OperationDone || op.Matched != 3 || op.Done != 3 || op.Failed != 0 ||
		!strings.Contains(stderr, "enqueue bulk cancel: 3 matched, 3 done, 0 skipped, 0 failed") {
		t.Errorf("bulk cancel: exit %d, %+v\n%s", code, op, stderr)
	}
	cl := tasks.NewClient(c.redis.Client)
	defer cl.Close()
	for key, id := range ids {
		rec, err := cl.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.HasPrefix(key, "camp-"); rec.CancelRequested != want {
			t.Errorf("%s: cancel requested %v, want %v", key, rec.CancelRequested, want)
		}
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"bulk", "explode"}, "action"},
		{[]string{"bulk", "reschedule", "--state", "pending"}, "shift"},
		{[]string{"bulk", "reschedule", "--at", "tomorrow"}, "--at"},
	} {
		if code, _, stderr := c.run("", tt.args...); code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, %s", tt.args, code, stderr)
		}
	}
}
