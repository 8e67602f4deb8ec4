package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is one run's figures.
type result struct {
	sent, accepted, failed int
	// statuses counts the answers that were not 202, by status (0: no answer).
	statuses       map[int]int
	elapsed        time.Duration
	acceptedPerSec float64
	p50, p90, p99  time.Duration
	max            time.Duration
	// cores used on average by this process and by redis-server.
	selfCores, redisCores float64
}

func (r result) String() string {
	s := fmt.Sprintf("%d accepted in %.2fs = %.0f accepted/s; latency p50 %s p90 %s p99 %s max %s; cores used: apiload %.2f, redis-server %.2f",
		r.accepted, r.elapsed.Seconds(), r.acceptedPerSec, ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max), r.selfCores, r.redisCores)
	if r.failed > 0 {
		var parts []string
		for code, n := range r.statuses {
			parts = append(parts, fmt.Sprintf("%d×%d", n, code))
		}
		sort.Strings(parts)
		s += fmt.Sprintf("; %d NOT ACCEPTED (%s)", r.failed, strings.Join(parts, ", "))
	}
	return s
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms" }

// body is publish request i of a run: every one different, so that none is
// an idempotent replay of another.
func body(run string, i, media int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"media":[`)
	for m := range media {
		if m > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"source":"https://cdn.example.com/%s/%d/%d.jpg"}`, run, i, m)
	}
	fmt.Fprintf(&b, `],"post":{"profileIds":["UHJvZmlsZUlk"],"caption":"load %s %d"},"action":"publishNow"}`, run, i)
	return b.Bytes()
}

// drive sends n publish requests, concurrency at a time, and measures each
// from just before it is sent to the end of its answer's body.
func (e *env) drive(ctx context.Context, o options, n int, run string) (result, error) {
	if n == 0 {
		return result{}, nil
	}
	lat := make([]time.Duration, n)
	codes := make([]int, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu := cpuMeter{redisPID: e.redisPID}
	cpu.start()
	start := time.Now()
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body(run, i, o.media)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				if o.keys {
					req.Header.Set("Idempotency-Key", run+"-"+strconv.Itoa(i))
				}
				t0 := time.Now()
				resp, err := e.http.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					codes[i] = resp.StatusCode
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu.stop()
	if err := ctx.Err(); err != nil {
		return result{}, fmt.Errorf("run %s: %w", run, err)
	}
	r := result{sent: n, elapsed: elapsed, statuses: map[int]int{}}
	for _, c := range codes {
		if c == http.StatusAccepted {
			r.accepted++
		} else {
			r.failed++
			r.statuses[c]++
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(n-1, int(p*float64(n)))] }
	r.p50, r.p90, r.p99, r.max = pct(0.50), pct(0.90), pct(0.99), lat[n-1]
	r.acceptedPerSec = float64(r.accepted) / elapsed.Seconds()
	r.selfCores = cpu.selfUsed.Seconds() / elapsed.Seconds()
	r.redisCores = cpu.redisUsed.Seconds() / elapsed.Seconds()
	return r, nil
}

// medianOf takes each figure's median across runs on its own.
func medianOf(rs []result) result {
	med := func(get func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	d := func(get func(result) time.Duration) time.Duration {
		return time.Duration(med(func(r result) float64 { return float64(get(r)) }))
	}
	out := result{statuses: map[int]int{}}
	out.acceptedPerSec = med(func(r result) float64 { return r.acceptedPerSec })
	out.elapsed = d(func(r result) time.Duration { return r.elapsed })
	out.accepted = int(med(func(r result) float64 { return float64(r.accepted) }))
	out.p50 = d(func(r result) time.Duration { return r.p50 })
	out.p90 = d(func(r result) time.Duration { return r.p90 })
	out.p99 = d(func(r result) time.Duration { return r.p99 })
	out.max = d(func(r result) time.Duration { return r.max })
	out.selfCores = med(func(r result) float64 { return r.selfCores })
	out.redisCores = med(func(r result) float64 { return r.redisCores })
	for _, r := range rs {
		out.failed += r.failed
		for c, n := range r.statuses {
			out.statuses[c] += n
		}
	}
	return out
}
