package tasks

import (
	"context"
	"slices"
	"testing"
	"time"
)

// SeedCopies (make bench -scale) writes copies of its templates in turn,
// each under a new id with its times moved to its creation time, stored
// in the form its state calls for and listed by it; pending copies have
// their first tasks enqueued, so a worker runs each to the end.
func TestSeedCopiesOfTemplatesInTurn(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	ctx := context.Background()
	one := b.publish(b.request(ActionPublishNow, "a.png"))
	two := b.publish(b.request(ActionPublishNow, "b.png", "c.png"))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var created []time.Time
	for i := range 5 {
		created = append(created, base.Add(time.Duration(i)*time.Minute))
	}
	ids, err := b.client.SeedCopies(ctx, []string{one.ID, one.ID, two.ID}, created, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(created) {
		t.Fatalf("%d copies, want %d", len(ids), len(created))
	}
	templates := []*Record{one, one, two, one, one}
	for i, id := range ids {
		rec, err := b.client.Get(ctx, id)
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		tmpl := templates[i]
		if id == tmpl.ID || rec.State != StatePending || len(rec.Media) != len(tmpl.Media) || rec.Media[0].Source != tmpl.Media[0].Source {
			t.Errorf("copy %d is not a pending copy of %s: %s", i, tmpl.ID, dump(rec))
		}
		if !rec.CreatedAt.Equal(created[i]) || len(rec.History) != len(tmpl.History) ||
			rec.History[0].At.Sub(rec.CreatedAt) != tmpl.History[0].At.Sub(tmpl.CreatedAt) {
			t.Errorf("copy %d created at %s (history %v), want %s, its history moved with it", i, rec.CreatedAt, rec.History, created[i])
		}
		if s, err := b.client.store.get(ctx, id); err != nil || !s.packed {
			t.Errorf("copy %d: a pending record not packed (%v)", i, err)
		}
	}
	page, err := b.client.List(ctx, ListOptions{State: StatePending, Since: base.Add(-time.Second), Until: base.Add(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range page.Records {
		listed = append(listed, r.ID)
	}
	slices.Sort(listed)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("the creation range lists %v, want the copies %v", listed, want)
	}

	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: testTiming})
	for _, id := range ids {
		if rec := b.wait(id); rec.State != StateSucceeded {
			t.Errorf("copy %s ended %s", id, dump(rec))
		}
	}
}
