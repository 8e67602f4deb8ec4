package redisurl_test

import (
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/redisurl"
)

// want is what a parsed URL must hold; the zero value of a field is checked
// too, so a parser that invents a login or a database fails.
type want struct {
	kind                   redisurl.Kind
	network                string
	addrs                  []string
	db                     int
	user, pass             string
	sentinelUser, sentPass string
	master                 string
	tls, skipVerify        bool
	poolSize               int
}

func TestParseForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		want want
	}{
		{"plain", "redis://127.0.0.1:6380/2", want{kind: redisurl.Standalone, network: "tcp", addrs: []string{"127.0.0.1:6380"}, db: 2}},
		{"default port and db", "redis://cache", want{kind: redisurl.Standalone, network: "tcp", addrs: []string{"cache:6379"}}},
		{"acl user", "redis://app:s3cret@h:1/1", want{kind: redisurl.Standalone, network: "tcp", addrs: []string{"h:1"}, db: 1, user: "app", pass: "s3cret"}},
		{"password only", "redis://:s3cret@h:1", want{kind: redisurl.Standalone, network: "tcp", addrs: []string{"h:1"}, pass: "s3cret"}},
		{"escaped password", "redis://:p%40ss%2Fw@h:1", want{kind: redisurl.Standalone, network: "tcp", addrs: []string{"h:1"}, pass: "p@ss/w"}},
		{"pool size", "redis://h:1/0?pool_size=7", want{kind: redisurl.Standalone, network: "tcp", addrs: []string{"h:1"}, poolSize: 7}},
		{"tls", "rediss://h:6390/4", want{kind: redisurl.Standalone, network: "tcp", addrs: []string{"h:6390"}, db: 4, tls: true}},
		{"tls skip verify", "rediss://h:6390?skip_verify=true", want{kind: redisurl.Standalone, network: "tcp", addrs: []string{"h:6390"}, tls: true, skipVerify: true}},
		{"ipv6", "redis://[::1]:6379/0", want{kind: redisurl.Standalone, network: "tcp", addrs: []string{"[::1]:6379"}}},
		{"unix", "unix:///run/redis.sock?db=5", want{kind: redisurl.Standalone, network: "unix", addrs: []string{"/run/redis.sock"}, db: 5}},
		{"unix with password", "unix://:pw@/run/redis.sock", want{kind: redisurl.Standalone, network: "unix", addrs: []string{"/run/redis.sock"}, pass: "pw"}},
		{"sentinel", "redis-sentinel://s1:26379,s2:26380,s3/3?master=mymaster",
			want{kind: redisurl.Sentinel, addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, db: 3, master: "mymaster"}},
		{"sentinel master auth", "redis-sentinel://app:mpw@s1:1,s2:2/3?master=m",
			want{kind: redisurl.Sentinel, addrs: []string{"s1:1", "s2:2"}, db: 3, master: "m", user: "app", pass: "mpw"}},
		{"sentinel separate auth", "redis-sentinel://:mpw@s1:1?master=m&sentinel_username=sen&sentinel_password=spw&db=6",
			want{kind: redisurl.Sentinel, addrs: []string{"s1:1"}, db: 6, master: "m", pass: "mpw", sentinelUser: "sen", sentPass: "spw"}},
		{"sentinel tls", "rediss-sentinel://s1:1,s2:2/0?master=m&skip_verify=true",
			want{kind: redisurl.Sentinel, addrs: []string{"s1:1", "s2:2"}, master: "m", tls: true, skipVerify: true}},
		{"cluster", "redis-cluster://n1:7000,n2:7001,n3:7002",
			want{kind: redisurl.Cluster, addrs: []string{"n1:7000", "n2:7001", "n3:7002"}}},
		{"cluster slash", "redis-cluster://app:pw@n1:7000/?pool_size=3",
			want{kind: redisurl.Cluster, addrs: []string{"n1:7000"}, user: "app", pass: "pw", poolSize: 3}},
		{"cluster tls", "rediss-cluster://n1:7000,n2:7001?skip_verify=1",
			want{kind: redisurl.Cluster, addrs: []string{"n1:7000", "n2:7001"}, tls: true, skipVerify: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := redisurl.Parse(tt.raw)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.raw, err)
			}
			if got := describe(o); !equal(got, tt.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.raw, got, tt.want)
			}
			c := o.Client()
			_ = c.Close()
		})
	}
}

func describe(o *redisurl.Options) want {
	w := want{kind: o.Kind, addrs: o.Addrs()}
	switch o.Kind {
	case redisurl.Standalone:
		s := o.Single
		w.network, w.db, w.user, w.pass, w.poolSize = s.Network, s.DB, s.Username, s.Password, s.PoolSize
		if s.TLSConfig != nil {
			w.tls, w.skipVerify = true, s.TLSConfig.InsecureSkipVerify
		}
	case redisurl.Sentinel:
		f := o.Failover
		w.db, w.user, w.pass, w.poolSize = f.DB, f.Username, f.Password, f.PoolSize
		w.sentinelUser, w.sentPass, w.master = f.SentinelUsername, f.SentinelPassword, f.MasterName
		if f.TLSConfig != nil {
			w.tls, w.skipVerify = true, f.TLSConfig.InsecureSkipVerify
		}
	case redisurl.Cluster:
		c := o.Cluster
		w.user, w.pass, w.poolSize = c.Username, c.Password, c.PoolSize
		if c.TLSConfig != nil {
			w.tls, w.skipVerify = true, c.TLSConfig.InsecureSkipVerify
		}
	}
	return w
}

func equal(a, b want) bool {
	if strings.Join(a.addrs, ",") != strings.Join(b.addrs, ",") {
		return false
	}
	a.addrs, b.addrs = nil, nil
	return a.kind == b.kind && a.network == b.network && a.db == b.db && a.user == b.user && a.pass == b.pass &&
		a.sentinelUser == b.sentinelUser && a.sentPass == b.sentPass && a.master == b.master &&
		a.tls == b.tls && a.skipVerify == b.skipVerify && a.poolSize == b.poolSize
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	// Every URL carries the password "hunter2" where it can, to prove no
	// message repeats it.
	tests := []struct {
		name, raw, part string
	}{
		{"no scheme", "hunter2@localhost:6379", "scheme"},
		{"unknown scheme", "http://:hunter2@h:1", `scheme "http"`},
		{"asynq-style sentinel", "sentinel://:hunter2@h:1", `scheme "sentinel"`},
		{"bad port", "redis://:hunter2@h:port/0", `host 1 "h:port": port "port"`},
		{"port out of range", "redis://:hunter2@h:70000", `port "70000"`},
		{"empty port", "redis://:hunter2@h:/0", `port ""`},
		{"no host", "redis://:hunter2@/0", "host: missing"},
		{"two hosts standalone", "redis://:hunter2@h1:1,h2:2/0", "host: redis:// takes one host"},
		{"bad db", "redis://:hunter2@h:1/zero", "database"},
		{"deep path", "redis://:hunter2@h:1/0/1", "database"},
		{"unknown option", "redis://:hunter2@h:1/0?pool=3", "query: unexpected option: pool"},
		{"bad pool size", "redis://:hunter2@h:1/0?pool_size=many", "pool_size"},
		{"skip verify without tls", "redis://:hunter2@h:1?skip_verify=true", "query skip_verify: only for TLS"},
		{"skip verify not a bool", "rediss://:hunter2@h:1?skip_verify=yes", "query skip_verify: want true or false"},
		{"bad password escape", "redis://:hunter2%zz@h:1", "password: bad percent-escape"},
		{"fragment", "redis://:hunter2@h:1/0#x", "fragment"},
		{"bad query escape", "redis://:hunter2@h:1/0?a=%zz", "query: bad percent-escape"},
		{"unix without path", "unix://:hunter2@", "path: unix:// needs a socket path"},
		{"sentinel without master", "redis-sentinel://:hunter2@s1:1,s2:2/3", "query master: missing"},
		{"sentinel stray comma", "redis-sentinel://:hunter2@s1:1,,s2:2?master=m", `host 2 "": empty`},
		{"sentinel bad db", "redis-sentinel://:hunter2@s1:1/x?master=m", "database"},
		{"sentinel password param", "redis-sentinel://s1:1?master=m&password=hunter2", "query password: not accepted"},
		{"sentinel skip verify without tls", "redis-sentinel://s1:1?master=m&skip_verify=true&sentinel_password=hunter2", "query skip_verify"},
		{"sentinel unknown option", "redis-sentinel://s1:1?master=m&sentinel_password=hunter2&foo=1", "query: unexpected option: foo"},
		{"cluster db path", "redis-cluster://:hunter2@n1:1,n2:2/3", `path "/3": a cluster has only database 0`},
		{"cluster db param", "redis-cluster://:hunter2@n1:1?db=1", "query db"},
		{"cluster addr param", "redis-cluster://:hunter2@n1:1?addr=n2:2", "query addr"},
		{"cluster skip verify without tls", "redis-cluster://:hunter2@n1:1?skip_verify=true", "query skip_verify"},
		{"cluster bad port", "redis-cluster://:hunter2@n1:1,n2:x", `host 2 "n2:x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := redisurl.Parse(tt.raw)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", tt.raw)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.part) {
				t.Errorf("Parse(%q) = %q; want it to name %q", tt.raw, msg, tt.part)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("Parse(%q) = %q: the password leaked", tt.raw, msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("Parse(%q) = %q: more than one line", tt.raw, msg)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{"redis://h:1/0", "redis://h:1/0"},
		{"redis://app:hunter2@h:1/0", "redis://app:xxxxx@h:1/0"},
		{"redis://app@h:1/0", "redis://app@h:1/0"},
		{"redis://:hun@ter2@h:1/0", "redis://:xxxxx@h:1/0"},
		{"redis-sentinel://:hunter2@s1:1,s2:2/3?master=m&sentinel_password=hunter3", "redis-sentinel://:xxxxx@s1:1,s2:2/3?master=m&sentinel_password=xxxxx"},
		{"redis-sentinel://s1:1?master=m&password=hunter2", "redis-sentinel://s1:1?master=m&password=xxxxx"},
		{"unix://:hunter2@/run/r.sock?db=1", "unix://:xxxxx@/run/r.sock?db=1"},
		{"rediss-cluster://u:hunter2@n1:1,n2:2", "rediss-cluster://u:xxxxx@n1:1,n2:2"},
		{"hunter2@h:1", "(URL without a scheme)"},
	}
	for _, tt := range tests {
		if got := redisurl.Redacted(tt.raw); got != tt.want {
			t.Errorf("Redacted(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestSetPoolSizeKeepsURLChoice(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]int{
		"redis://h:1/0":                   40,
		"redis://h:1/0?pool_size=3":       3,
		"redis-sentinel://s:1?master=m":   40,
		"redis-cluster://n:1?pool_size=2": 2,
		"redis-cluster://n:1":             40,
	} {
		o, err := redisurl.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		o.SetPoolSize(40)
		var got int
		switch {
		case o.Single != nil:
			got = o.Single.PoolSize
		case o.Failover != nil:
			got = o.Failover.PoolSize
		default:
			got = o.Cluster.PoolSize
		}
		if got != want {
			t.Errorf("%s: pool size %d after SetPoolSize(40), want %d", raw, got, want)
		}
	}
}
