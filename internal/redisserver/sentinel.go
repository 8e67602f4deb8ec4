package redisserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/freeport"
)

// SentinelSet is a password-protected master, one replica and three
// sentinels watching them, tuned to notice a dead master in about a second.
type SentinelSet struct {
	// MasterName is the name the sentinels monitor.
	MasterName string
	// Password is the data servers' requirepass; the sentinels have none.
	Password string
	// Data are the master and the replica as started; which one is master
	// now is MasterAddr's answer.
	Data []*Server
	// Sentinels are the three sentinels.
	Sentinels []*Server
	// SentinelAddrs are their addresses.
	SentinelAddrs []string
	// URL is redis-sentinel://:Password@s1,s2,s3/0?master=MasterName.
	URL string
}

const (
	sentinelMaster   = "mediaflow"
	sentinelPassword = "sentinel-test-pw"
	downAfter        = 500 * time.Millisecond
	failoverTimeout  = time.Second
	setTimeout       = 30 * time.Second
)

// StartSentinel launches the set with its files in dir and returns once the
// replica follows the master and every sentinel knows the replica and the
// two other sentinels, so a failover can be asked for at once.
func StartSentinel(dir string) (*SentinelSet, error) {
	set := &SentinelSet{MasterName: sentinelMaster, Password: sentinelPassword}
	// A master refuses writes while no replica follows it (right after a
	// failover, until the old master resyncs): a write it took then would
	// be lost at the next failover whatever the writer does. The replica
	// has the setting too, for when it is promoted. README, "Redis".
	durable := []string{"--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"}
	master, err := StartWith(dir, Options{Password: sentinelPassword, Args: durable})
	if err != nil {
		return nil, fmt.Errorf("sentinel set: master: %w", err)
	}
	set.Data = append(set.Data, master)
	host, port, _ := strings.Cut(master.Addr, ":")
	replica, err := StartWith(dir, Options{Password: sentinelPassword, Args: append([]string{"--replicaof", host, port}, durable...)})
	if err != nil {
		set.Kill()
		return nil, fmt.Errorf("sentinel set: replica: %w", err)
	}
	set.Data = append(set.Data, replica)
	if err := set.waitReplicaLinked(replica, master.Addr); err != nil {
		set.Kill()
		return nil, err
	}
	for i := range 3 {
		s, err := startSentinel(dir, i, master.Addr)
		if err != nil {
			set.Kill()
			return nil, fmt.Errorf("sentinel set: sentinel %d: %w", i+1, err)
		}
		set.Sentinels = append(set.Sentinels, s)
		set.SentinelAddrs = append(set.SentinelAddrs, s.Addr)
	}
	set.URL = "redis-sentinel://:" + sentinelPassword + "@" + strings.Join(set.SentinelAddrs, ",") + "/0?master=" + sentinelMaster
	if err := set.waitSentinelsReady(); err != nil {
		set.Kill()
		return nil, err
	}
	return set, nil
}

// startSentinel starts sentinel i. Its port is named in its config file,
// so it is picked here, and another one tried when a parallel test's
// server took it before the sentinel bound it, as StartWith does.
func startSentinel(dir string, i int, masterAddr string) (*Server, error) {
	var lastErr error
	for range 5 {
		port, err := freeport.Port()
		if err != nil {
			return nil, err
		}
		s, err := startSentinelOn(dir, i, port, masterAddr)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startSentinelOn(dir string, i, port int, masterAddr string) (*Server, error) {
	host, mport, _ := strings.Cut(masterAddr, ":")
	conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d-%d.conf", i, port))
	body := fmt.Sprintf(`sentinel monitor %[1]s %[2]s %[3]s 2
sentinel auth-pass %[1]s %[4]s
sentinel down-after-milliseconds %[1]s %[5]d
sentinel failover-timeout %[1]s %[6]d
sentinel parallel-syncs %[1]s 1
`, sentinelMaster, host, mport, sentinelPassword, downAfter.Milliseconds(), failoverTimeout.Milliseconds())
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	return StartWith(dir, Options{Port: port, sentinelConf: conf})
}

// MasterAddr is the master's address as the first sentinel that answers
// gives it.
func (set *SentinelSet) MasterAddr(ctx context.Context) (string, error) {
	var lastErr error
	for _, s := range set.Sentinels {
		if !s.Running() {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		a, err := sc.GetMasterAddrByName(ctx, set.MasterName).Result()
		_ = sc.Close()
		if err == nil && len(a) == 2 {
			return a[0] + ":" + a[1], nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("sentinel set: no sentinel gives the master: %v", lastErr)
}

// Master is the data server that is master now.
func (set *SentinelSet) Master(ctx context.Context) (*Server, error) {
	addr, err := set.MasterAddr(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range set.Data {
		if s.Addr == addr {
			return s, nil
		}
	}
	return nil, fmt.Errorf("sentinel set: master %s is none of the set's servers", addr)
}

// Failover asks a sentinel for a failover (SENTINEL FAILOVER) and waits
// until the replica is master and the old master follows it.
func (set *SentinelSet) Failover() error {
	ctx := context.Background()
	old, err := set.MasterAddr(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(setTimeout)
	sc := redis.NewSentinelClient(&redis.Options{Addr: set.Sentinels[0].Addr, MaxRetries: -1})
	defer sc.Close()
	for {
		err := sc.Failover(ctx, set.MasterName).Err()
		if err == nil {
			break
		}
		// Right after a failover the sentinels refuse another one
		// (INPROG) or do not know the old master as a replica yet
		// (NOGOODSLAVE): both pass.
		if time.Now().After(deadline) || !(strings.Contains(err.Error(), "INPROG") || strings.Contains(err.Error(), "NOGOODSLAVE")) {
			return fmt.Errorf("sentinel set: SENTINEL FAILOVER: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return set.waitNewMaster(old, deadline)
}

// KillMaster kills the master (SIGKILL) and waits until the sentinels have
// promoted the replica. It returns the killed server, which Restart brings
// back (the sentinels then make it a replica).
func (set *SentinelSet) KillMaster() (*Server, error) {
	m, err := set.Master(context.Background())
	if err != nil {
		return nil, err
	}
	m.Kill()
	return m, set.waitNewMaster(m.Addr, time.Now().Add(setTimeout))
}

// waitNewMaster waits until every running sentinel names a master other
// than old, that server says it is master, and every other running data
// server follows it with its link up.
func (set *SentinelSet) waitNewMaster(old string, deadline time.Time) error {
	ctx := context.Background()
	for {
		err := set.checkMaster(ctx, old)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sentinel set: no new master in %v: %w", setTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (set *SentinelSet) checkMaster(ctx context.Context, old string) error {
	var addr string
	for _, s := range set.Sentinels {
		if !s.Running() {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		a, err := sc.GetMasterAddrByName(ctx, set.MasterName).Result()
		_ = sc.Close()
		if err != nil {
			return err
		}
		got := a[0] + ":" + a[1]
		if got == old || (addr != "" && got != addr) {
			return fmt.Errorf("sentinel %s names %s", s.Addr, got)
		}
		addr = got
	}
	for _, s := range set.Data {
		if !s.Running() {
			continue
		}
		role, master, err := replication(ctx, s)
		if err != nil {
			return err
		}
		if s.Addr == addr && role != "master" {
			return fmt.Errorf("%s is %s, not master yet", s.Addr, role)
		}
		if s.Addr != addr && master != addr {
			if role == "master" {
				// Sentinel demotes a live old master only at its next
				// INFO poll, up to 10 s away; doing what it will do
				// anyway keeps tests fast.
				demote(ctx, s, addr)
			}
			return fmt.Errorf("%s does not follow %s yet", s.Addr, addr)
		}
	}
	return nil
}

func demote(ctx context.Context, s *Server, master string) {
	host, port, _ := strings.Cut(master, ":")
	rc := redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.Password, MaxRetries: -1})
	defer rc.Close()
	_ = rc.ReplicaOf(ctx, host, port).Err()
}

func (set *SentinelSet) waitReplicaLinked(replica *Server, master string) error {
	deadline := time.Now().Add(setTimeout)
	for {
		role, m, err := replication(context.Background(), replica)
		if err == nil && role == "slave" && m == master {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sentinel set: replica %s not linked to %s: role %q, %v", replica.Addr, master, role, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replication is a data server's role and, for a replica whose link is up,
// its master's address.
func replication(ctx context.Context, s *Server) (role, master string, err error) {
	rc := redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.Password, MaxRetries: -1})
	defer rc.Close()
	info, err := rc.Info(ctx, "replication").Result()
	if err != nil {
		return "", "", err
	}
	f := infoFields(info)
	if f["role"] == "slave" && f["master_link_status"] == "up" {
		master = f["master_host"] + ":" + f["master_port"]
	}
	return f["role"], master, nil
}

func (set *SentinelSet) waitSentinelsReady() error {
	deadline := time.Now().Add(setTimeout)
	for _, s := range set.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		for {
			m, err := sc.Master(context.Background(), set.MasterName).Result()
			if err == nil && m["num-slaves"] == "1" && m["num-other-sentinels"] == strconv.Itoa(len(set.Sentinels)-1) && m["flags"] == "master" {
				break
			}
			if time.Now().After(deadline) {
				_ = sc.Close()
				return fmt.Errorf("sentinel set: sentinel %s not ready in %v: %v %v", s.Addr, setTimeout, m, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = sc.Close()
	}
	return nil
}

// Kill stops every server of the set at once.
func (set *SentinelSet) Kill() {
	for _, s := range set.Sentinels {
		s.Kill()
	}
	for _, s := range set.Data {
		s.Kill()
	}
}

func infoFields(info string) map[string]string {
	f := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			f[k] = v
		}
	}
	return f
}
