package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisSnap is what Redis says about itself at one moment: calls per
// command (INFO commandstats, which counts commands run inside Lua scripts
// under their own names too) and the CPU it used.
type redisSnap struct {
	calls map[string]int64
	cpu   time.Duration
}

func snapRedis(ctx context.Context, c redis.UniversalClient) (redisSnap, error) {
	raw, err := c.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return redisSnap{}, fmt.Errorf("INFO commandstats: %w", err)
	}
	s := redisSnap{calls: map[string]int64{}}
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, rest, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(name, "cmdstat_") {
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "calls="); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					s.calls[strings.TrimPrefix(name, "cmdstat_")] = n
				}
			}
			continue
		}
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				sec, _ := strconv.ParseFloat(v, 64)
				s.cpu += time.Duration(sec * float64(time.Second))
			}
		}
	}
	return s, nil
}

// cmdDelta is the commands Redis ran between two snapshots.
type cmdDelta map[string]int64

func (after redisSnap) since(before redisSnap) cmdDelta {
	d := cmdDelta{}
	for k, v := range after.calls {
		if n := v - before.calls[k]; n > 0 {
			d[k] = n
		}
	}
	// The INFO that took the first snapshot is counted by the second one;
	// it is the benchmark's, not the system's.
	if d["info"]--; d["info"] <= 0 {
		delete(d, "info")
	}
	return d
}

func (d cmdDelta) total() int64 {
	var n int64
	for _, v := range d {
		n += v
	}
	return n
}

// top lists the commands by calls, most first.
func (d cmdDelta) top() []string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if d[keys[i]] != d[keys[j]] {
			return d[keys[i]] > d[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// cpuTime is the CPU this process used so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the busy and total CPU time of the whole machine so far
// (/proc/stat), every process included: on a shared machine it tells
// whether the cores were free while a phase ran.
func machineCPU() (busy, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	var sum, idle int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest time is already in user time
			break
		}
		sum += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	tick := time.Second / 100 // USER_HZ
	return time.Duration(sum-idle) * tick, time.Duration(sum) * tick
}

// peakRSS is VmHWM, the process's peak resident set, in MiB.
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// lifetimePeak keeps the peak RSS of the phases before the last reset.
var lifetimePeak float64

// peakRSSLifetime is the process's peak RSS over the whole run.
func peakRSSLifetime() float64 { return max(lifetimePeak, peakRSS()) }

// resetPeakRSS returns what it can to the OS and restarts VmHWM from the
// current RSS, so the next peakRSS is the peak of the phase that follows
// (Linux: "5" in clear_refs). It reports whether the reset worked.
func resetPeakRSS() bool {
	lifetimePeak = max(lifetimePeak, peakRSS())
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// schedSnap is the Go scheduler's histogram of how long runnable
// goroutines waited for a CPU: when it grows, the process is short of
// CPU, whatever the cores' busy share says.
type schedSnap struct{ counts []uint64 }

const schedMetric = "/sched/latencies:seconds"

var schedBuckets []float64

func snapSched() schedSnap {
	s := []metrics.Sample{{Name: schedMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return schedSnap{}
	}
	h := s[0].Value.Float64Histogram()
	schedBuckets = h.Buckets
	return schedSnap{counts: slices.Clone(h.Counts)}
}

// schedQuantile is the q-quantile of the waits between two snapshots (the
// upper bound of its bucket).
func (after schedSnap) quantile(before schedSnap, q float64) time.Duration {
	if len(after.counts) == 0 || len(before.counts) != len(after.counts) {
		return 0
	}
	var total uint64
	d := make([]uint64, len(after.counts))
	for i := range d {
		d[i] = after.counts[i] - before.counts[i]
		total += d[i]
	}
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	var seen uint64
	for i, n := range d {
		seen += n
		if seen > want {
			up := schedBuckets[i+1]
			if math.IsInf(up, 1) {
				up = schedBuckets[i]
			}
			return time.Duration(up * float64(time.Second))
		}
	}
	return 0
}
