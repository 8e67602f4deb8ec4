package budget_test

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/budget"
	"github.com/mediaflow/mediaflow/internal/redistest"
)

// BenchmarkFleetBudgetRedisCost measures what the fleet budget costs Redis
// per API call (docs/benchmarks.md): callers ask a budget as their API
// calls would, for 3 s, and INFO commandstats counts the commands (inside
// scripts too) and the round trips (script calls) that took. Run with
//
//	go test -run xxx -bench FleetBudgetRedisCost -benchtime 1x ./budget/
func BenchmarkFleetBudgetRedisCost(b *testing.B) {
	for _, sc := range []struct {
		name    string
		rate    float64
		burst   int
		callers int
		work    time.Duration // each call's own time, after the budget let it go
	}{
		{"unlimited/16 callers", math.Inf(1), 10, 16, 2 * time.Millisecond},
		{"1000 per s/16 callers, below the rate", 1000, 50, 16, 20 * time.Millisecond},
		{"200 per s/16 callers, at the rate", 200, 20, 16, 2 * time.Millisecond},
		{"10 per s/20 callers, at the rate (the default)", 10, 10, 20, 50 * time.Millisecond},
	} {
		b.Run(sc.name, func(b *testing.B) {
			r := redistest.New(b)
			bud := budget.NewFleet(r.Client, "bench-app", sc.rate, sc.burst, nil, zerolog.Nop())
			if c, ok := any(bud).(interface{ Close() }); ok {
				defer c.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			before := commandStats(b, r)
			var calls atomic.Int64
			var wg sync.WaitGroup
			for range sc.callers {
				wg.Go(func() {
					for {
						if err := bud.Wait(ctx, "GET /media/{id}"); err != nil {
							return
						}
						calls.Add(1)
						time.Sleep(sc.work)
					}
				})
			}
			wg.Wait()
			after := commandStats(b, r)
			n := float64(calls.Load())
			b.ReportMetric(n/3, "calls/s")
			b.ReportMetric(float64(after.commands-before.commands)/n, "redis-cmds/call")
			b.ReportMetric(float64(after.scripts-before.scripts)/n, "round-trips/call")
		})
	}
}

type cmdStats struct{ commands, scripts int64 }

// commandStats sums INFO commandstats, leaving out INFO itself.
func commandStats(b *testing.B, r *redistest.Redis) cmdStats {
	b.Helper()
	info, err := r.Client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var s cmdStats
	for _, line := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || name == "info" {
			continue
		}
		v, _, _ := strings.Cut(rest, ",")
		n, _ := strconv.ParseInt(v, 10, 64)
		s.commands += n
		if name == "evalsha" || name == "eval" {
			s.scripts += n
		}
	}
	return s
}
