package redisserver

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/freeport"
)

// Cluster is a Redis Cluster of masters without replicas.
type Cluster struct {
	// Nodes are the masters, in the order redis-cli was given them.
	Nodes []*Server
	// Addrs are the nodes' addresses.
	Addrs []string
	// URL is redis-cluster://addr1,addr2,… in the form REDIS_URL accepts.
	URL string
}

// StartCluster launches masters redis-servers (3 or more) in cluster mode
// with their files in dir, joins them with redis-cli --cluster create and
// returns once every node reports cluster_state:ok.
func StartCluster(dir string, masters int) (*Cluster, error) {
	if masters < 3 {
		return nil, fmt.Errorf("redis cluster: %d masters; Redis Cluster needs at least 3", masters)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, errors.New("redis cluster: redis-cli is not in PATH")
	}
	c := &Cluster{}
	for i := range masters {
		s, err := startNode(dir, i)
		if err != nil {
			c.Kill()
			return nil, fmt.Errorf("redis cluster: node %d: %w", i+1, err)
		}
		c.Nodes = append(c.Nodes, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	c.URL = "redis-cluster://" + strings.Join(c.Addrs, ",")
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		c.Kill()
		return nil, fmt.Errorf("redis cluster: redis-cli --cluster create: %v: %s", err, lastLine(out))
	}
	if err := c.waitOK(15 * time.Second); err != nil {
		c.Kill()
		return nil, err
	}
	return c, nil
}

// startNode starts cluster node i. The bus port is chosen too (port+10000
// may be taken or past 65535); a parallel test's server may take it before
// the node binds it, so each attempt picks both ports again.
func startNode(dir string, i int) (*Server, error) {
	var lastErr error
	for range 5 {
		bus, err := freeport.Port()
		if err != nil {
			return nil, fmt.Errorf("find a bus port: %w", err)
		}
		s, err := StartWith(dir, Options{Args: []string{
			"--cluster-enabled", "yes",
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", fmt.Sprintf("nodes-%d-%d.conf", i, bus),
			"--cluster-node-timeout", "2000",
		}})
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// waitOK waits until every node sees every slot served: until then a client
// gets CLUSTERDOWN.
func (c *Cluster) waitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, s := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_slots_ok:16384") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.Nodes))) {
				break
			}
			if time.Now().After(deadline) {
				_ = rc.Close()
				return fmt.Errorf("redis cluster: node %s not ok after %v: %v %s", s.Addr, timeout, err, firstLine(info))
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = rc.Close()
	}
	return nil
}

// Kill stops every node at once.
func (c *Cluster) Kill() {
	for _, s := range c.Nodes {
		s.Kill()
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
