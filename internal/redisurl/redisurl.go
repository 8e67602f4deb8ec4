// Package redisurl turns REDIS_URL into one go-redis client, so every
// mediaflow program (worker, enqueue, the API, the benchmarks) accepts the
// same forms and hands asynq the same kind of pool:
//
//	redis://[user:pass@]host:port/db           one server
//	rediss://[user:pass@]host:port/db          one server over TLS
//	unix://[user:pass@]/path/to/socket?db=N    one server on a Unix socket
//	redis-sentinel://[user:pass@]h1:p1,h2:p2/db?master=NAME[&sentinel_username=U][&sentinel_password=P]
//	rediss-sentinel://…                        the same over TLS
//	redis-cluster://[user:pass@]h1:p1,h2:p2    Redis Cluster
//	rediss-cluster://…                         the same over TLS
//
// user:pass is always the data servers' login (the master's, the cluster
// nodes'); sentinels have their own, in sentinel_username/sentinel_password.
// Other query parameters are go-redis's own (pool_size, dial_timeout, …),
// parsed by go-redis. skip_verify=true turns TLS verification off and is
// accepted only on a TLS form.
package redisurl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Kind is the deployment a URL names.
type Kind int

// The deployments.
const (
	Standalone Kind = iota
	Sentinel
	Cluster
)

func (k Kind) String() string {
	switch k {
	case Sentinel:
		return "sentinel"
	case Cluster:
		return "cluster"
	default:
		return "standalone"
	}
}

// Options is a parsed URL: exactly one of Single, Failover and Cluster is
// set, as Kind says.
type Options struct {
	Kind     Kind
	Single   *redis.Options
	Failover *redis.FailoverOptions
	Cluster  *redis.ClusterOptions
}

// Schemes lists the accepted schemes, for messages and flag help.
const Schemes = "redis, rediss, unix, redis-sentinel, rediss-sentinel, redis-cluster, rediss-cluster"

// Parse reads a Redis URL. Its errors are one line that names the part that
// is wrong and never holds a password.
func Parse(raw string) (*Options, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("scheme: none found (want one of %s, e.g. redis://host:6379/0)", Schemes)
	}
	var (
		o   *Options
		err error
	)
	switch scheme {
	case "unix":
		o, err = parseSingle(raw)
	case "redis", "rediss":
		o, err = parseTCP(scheme, rest)
	case "redis-sentinel", "rediss-sentinel":
		o, err = parseSentinel(scheme, rest)
	case "redis-cluster", "rediss-cluster":
		o, err = parseCluster(scheme, rest)
	default:
		return nil, fmt.Errorf("scheme %q: unknown (want one of %s)", scheme, Schemes)
	}
	if err != nil {
		return nil, scrub(err, raw)
	}
	return o, nil
}

// NewClient parses raw and builds its client.
func NewClient(raw string) (redis.UniversalClient, error) {
	o, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	return o.Client(), nil
}

// SetPoolSize sets the connection pool's size (per node on a cluster),
// unless the URL chose one with pool_size. Zero keeps go-redis's default.
func (o *Options) SetPoolSize(n int) {
	switch {
	case o.Single != nil && o.Single.PoolSize == 0:
		o.Single.PoolSize = n
	case o.Failover != nil && o.Failover.PoolSize == 0:
		o.Failover.PoolSize = n
	case o.Cluster != nil && o.Cluster.PoolSize == 0:
		o.Cluster.PoolSize = n
	}
}

// Client builds the client: a *redis.Client for one server or a Sentinel
// set (which follows the master), a *redis.ClusterClient for a cluster.
func (o *Options) Client() redis.UniversalClient {
	switch o.Kind {
	case Sentinel:
		return redis.NewFailoverClient(o.Failover)
	case Cluster:
		return redis.NewClusterClient(o.Cluster)
	default:
		return redis.NewClient(o.Single)
	}
}

// Addrs are the addresses the URL names: the server, the sentinels, or the
// cluster's seed nodes.
func (o *Options) Addrs() []string {
	switch o.Kind {
	case Sentinel:
		return o.Failover.SentinelAddrs
	case Cluster:
		return o.Cluster.Addrs
	default:
		return []string{o.Single.Addr}
	}
}

func parseSingle(raw string) (*Options, error) {
	so, err := redis.ParseURL(raw)
	if err != nil {
		return nil, goRedisErr(err)
	}
	return &Options{Kind: Standalone, Single: so}, nil
}

func parseTCP(scheme, rest string) (*Options, error) {
	p, err := split(rest, "6379")
	if err != nil {
		return nil, err
	}
	if len(p.hosts) != 1 {
		return nil, fmt.Errorf("host: %s:// takes one host, got %d (several hosts need redis-sentinel:// or redis-cluster://)", scheme, len(p.hosts))
	}
	if err := p.checkSkipVerify(scheme == "rediss"); err != nil {
		return nil, err
	}
	u := p.url(scheme, p.hosts[0], p.user)
	so, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, goRedisErr(err)
	}
	return &Options{Kind: Standalone, Single: so}, nil
}

func parseSentinel(scheme, rest string) (*Options, error) {
	p, err := split(rest, "26379")
	if err != nil {
		return nil, err
	}
	tlsOn := scheme == "rediss-sentinel"
	if err := p.checkSkipVerify(tlsOn); err != nil {
		return nil, err
	}
	master := p.query.Get("master")
	if master == "" {
		return nil, fmt.Errorf("query master: missing; %s:// needs ?master=NAME (the name the sentinels monitor)", scheme)
	}
	for _, k := range []string{"master_name", "username", "password", "addr"} {
		if p.query.Has(k) {
			return nil, fmt.Errorf("query %s: not accepted here (the master's login goes in user:pass@, the sentinels' in sentinel_username/sentinel_password, the sentinels in the host list)", k)
		}
	}
	// go-redis's failover URL reads its userinfo as the sentinels' login and
	// username/password parameters as the master's: the reverse of what a
	// person writes, so the URL is rewritten for it.
	q := p.query
	q.Del("master")
	q.Set("master_name", master)
	var sentinelUser *url.Userinfo
	su, sp := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	if su != "" || sp != "" {
		sentinelUser = url.UserPassword(su, sp)
	}
	if p.user != nil {
		if n := p.user.Username(); n != "" {
			q.Set("username", n)
		}
		if pw, ok := p.user.Password(); ok {
			q.Set("password", pw)
		}
	}
	for _, h := range p.hosts[1:] {
		q.Add("addr", h)
	}
	base := "redis"
	if tlsOn {
		base = "rediss"
	}
	fo, err := redis.ParseFailoverURL(p.url(base, p.hosts[0], sentinelUser).String())
	if err != nil {
		return nil, goRedisErr(err)
	}
	if fo.TLSConfig != nil {
		// Sentinels and the master each present their own certificate:
		// an empty ServerName makes the dialer check each against the
		// host it dials, not against the first sentinel's name.
		fo.TLSConfig.ServerName = ""
	}
	return &Options{Kind: Sentinel, Failover: fo}, nil
}

func parseCluster(scheme, rest string) (*Options, error) {
	p, err := split(rest, "6379")
	if err != nil {
		return nil, err
	}
	if p.path != "" && p.path != "/" {
		return nil, fmt.Errorf("path %q: a cluster has only database 0; drop the path", p.path)
	}
	if p.query.Has("db") {
		return nil, errors.New("query db: a cluster has only database 0; drop it")
	}
	if p.query.Has("addr") {
		return nil, errors.New("query addr: not accepted here; list the nodes in the host part, separated by commas")
	}
	tlsOn := scheme == "rediss-cluster"
	if err := p.checkSkipVerify(tlsOn); err != nil {
		return nil, err
	}
	skip := p.query.Get("skip_verify")
	p.query.Del("skip_verify")
	for _, h := range p.hosts[1:] {
		p.query.Add("addr", h)
	}
	base := "redis"
	if tlsOn {
		base = "rediss"
	}
	p.path = ""
	co, err := redis.ParseClusterURL(p.url(base, p.hosts[0], p.user).String())
	if err != nil {
		return nil, goRedisErr(err)
	}
	if co.TLSConfig != nil {
		// Each node is checked against its own host name (see Sentinel).
		co.TLSConfig.ServerName = ""
		co.TLSConfig.InsecureSkipVerify = skip == "true" || skip == "1"
	}
	return &Options{Kind: Cluster, Cluster: co}, nil
}

// parts are a URL's pieces after the scheme, hosts split on commas (which
// net/url does not know).
type parts struct {
	user  *url.Userinfo
	hosts []string
	path  string
	query url.Values
}

func split(rest, defaultPort string) (*parts, error) {
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if strings.Contains(tail, "#") {
		return nil, errors.New("fragment: a Redis URL has no #fragment (a '#' in a password must be written %23)")
	}
	p := &parts{}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		u, err := userinfo(authority[:i])
		if err != nil {
			return nil, err
		}
		p.user, authority = u, authority[i+1:]
	}
	if authority == "" {
		return nil, errors.New("host: missing")
	}
	for i, h := range strings.Split(authority, ",") {
		addr, err := hostPort(h, defaultPort)
		if err != nil {
			return nil, fmt.Errorf("host %d %q: %v", i+1, h, err)
		}
		p.hosts = append(p.hosts, addr)
	}
	p.path, _, _ = strings.Cut(tail, "?")
	_, rawQuery, _ := strings.Cut(tail, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, errors.New("query: bad percent-escape or separator")
	}
	p.query = q
	return p, nil
}

func userinfo(s string) (*url.Userinfo, error) {
	name, pass, hasPass := strings.Cut(s, ":")
	n, err := url.PathUnescape(name)
	if err != nil {
		return nil, errors.New("user: bad percent-escape")
	}
	if !hasPass {
		return url.User(n), nil
	}
	pw, err := url.PathUnescape(pass)
	if err != nil {
		return nil, errors.New("password: bad percent-escape (write reserved characters as %XX)")
	}
	return url.UserPassword(n, pw), nil
}

func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", errors.New("empty (a stray comma?)")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: the whole thing is the host.
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultPort
		if strings.ContainsAny(host, "[]") || (strings.Count(host, ":") == 1) {
			return "", errors.New("want host:port")
		}
	}
	if host == "" {
		return "", errors.New("no host name")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return net.JoinHostPort(host, port), nil
}

func (p *parts) checkSkipVerify(tlsOn bool) error {
	if !p.query.Has("skip_verify") {
		return nil
	}
	if !tlsOn {
		return errors.New("query skip_verify: only for TLS forms (rediss://, rediss-sentinel://, rediss-cluster://)")
	}
	switch p.query.Get("skip_verify") {
	case "true", "1", "false", "0":
		return nil
	}
	return errors.New("query skip_verify: want true or false")
}

// url rebuilds a single-host URL in the form go-redis's parsers read.
func (p *parts) url(scheme, host string, user *url.Userinfo) *url.URL {
	return &url.URL{Scheme: scheme, User: user, Host: host, Path: p.path, RawQuery: p.query.Encode()}
}

// goRedisErr keeps go-redis's message but not net/url's copy of the URL
// (which holds the password) nor go-redis's "redis: " prefix.
func goRedisErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := strings.TrimPrefix(err.Error(), "redis: ")
	switch {
	case msg == "empty unix socket path":
		msg = "path: unix:// needs a socket path (unix:///path/to/redis.sock)"
	case strings.HasPrefix(msg, "unexpected option"):
		msg = "query: " + msg
	case strings.HasPrefix(msg, "invalid database number"), strings.HasPrefix(msg, "invalid URL path"):
		msg = "database: " + msg
	case strings.HasPrefix(msg, "invalid "):
		msg = "query: " + msg
	}
	return errors.New(msg)
}
