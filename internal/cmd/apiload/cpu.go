package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Where the CPU went: this process (load generator and API together) and
// redis-server, read from /proc, so a run says which of them saturates
// the machine.

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// cpuTime is the user+system CPU time of process pid ("self" for this one).
func cpuTime(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it are fixed.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%s/stat: unreadable times", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// redisPID asks redis-server for its process id.
func redisPID(ctx context.Context, rc redis.UniversalClient) (string, error) {
	info, err := rc.Info(ctx, "server").Result()
	if err != nil {
		return "", fmt.Errorf("redis INFO server: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("redis INFO server has no process_id")
}

// cpuMeter measures the CPU both processes use between start and stop.
type cpuMeter struct {
	redisPID            string
	self0, redis0       time.Duration
	selfUsed, redisUsed time.Duration
}

func (m *cpuMeter) start() {
	m.self0, _ = cpuTime("self")
	m.redis0, _ = cpuTime(m.redisPID)
}

func (m *cpuMeter) stop() {
	s, _ := cpuTime("self")
	r, _ := cpuTime(m.redisPID)
	m.selfUsed, m.redisUsed = s-m.self0, r-m.redis0
}
