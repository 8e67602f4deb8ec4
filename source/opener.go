// Package source opens the media files mediaflow uploads: local files confined
// to a root folder, and http(s) URLs fetched through a guard that keeps the
// worker off its own network.
package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config says where sources may come from. The zero value refuses every local
// source and fetches only public http(s) addresses.
type Config struct {
	// Root is MEDIA_ROOT: the only folder local files may come from. ""
	// refuses every local source.
	Root string
	// AllowedHosts is ALLOWED_SOURCE_HOSTS: host names or IP addresses, as
	// written in source URLs, that skip the address guard (an internal media
	// store, say). Entries are exact: no ports, wildcards or CIDR ranges.
	AllowedHosts []string
	// MaxRedirects caps the redirects followed per request. 0 means 5; a
	// negative value follows none.
	MaxRedirects int
	// SpoolDir receives sources that arrive without a length. "" means
	// os.TempDir(). Spool files are unlinked as soon as they are created, so
	// they use space in SpoolDir without showing up in it.
	SpoolDir string
	// MaxSpoolBytes caps a source without a length. 0 means 2 GiB.
	MaxSpoolBytes int64
	// SpoolTotalBytes is SPOOL_MAX_BYTES: what all spool files of this
	// Opener may hold at once. 0 means 4 GiB. A source that would pass it
	// waits up to SpoolWait for others to finish, then fails with
	// ErrSpoolFull (transient).
	SpoolTotalBytes int64
	// SpoolWait is how long a source waits for spool room. 0 means 5s.
	SpoolWait time.Duration
	// MinRate is SOURCE_MIN_RATE in bytes per second: an HTTP source that
	// delivers less, averaged over RateWindow of waiting for it, is cut
	// with ErrTooSlow (transient), so it cannot hold a worker slot for an
	// hour. 0 means 64 KiB/s; a negative value turns the check off.
	MinRate int64
	// RateWindow is the time MinRate is averaged over. 0 means 30s.
	RateWindow time.Duration
	// Timeout bounds an HTTP source from the first dial to the final
	// response's headers, redirects included, and the first few KiB of body
	// read to recognise the content. 0 means 30s. Streaming the rest of the
	// body (and spooling it) is bounded by the caller's context only, since a
	// large video on a slow link may legitimately take longer than any fixed
	// limit.
	Timeout time.Duration
	// Transport replaces the guarded transport. For tests only: a Transport
	// set here bypasses the address guard.
	Transport http.RoundTripper
	// Resolver replaces the system resolver in the guarded dialer; for tests.
	Resolver *net.Resolver
}

const (
	defaultMaxRedirects  = 5
	defaultMaxSpoolBytes = 2 << 30
	defaultSpoolTotal    = 4 << 30
	defaultSpoolWait     = 5 * time.Second
	defaultMinRate       = 64 << 10
	defaultRateWindow    = 30 * time.Second
	defaultTimeout       = 30 * time.Second
)

// Opener opens sources. It is safe for concurrent use.
type Opener struct {
	root         string   // cleaned absolute MEDIA_ROOT, "" when local files are off
	rootAliases  []string // root and its symlink-free form, for lexical checks
	allowed      allowlist
	maxRedirects int
	spoolDir     string
	maxSpool     int64
	budget       *spoolBudget
	spoolWait    time.Duration
	minRate      int64 // 0 when off
	rateWindow   time.Duration
	clock        clock
	timeout      time.Duration
	client       *http.Client
	resolver     *net.Resolver
}

// New checks cfg and builds an Opener. A missing MEDIA_ROOT or a malformed
// ALLOWED_SOURCE_HOSTS entry is an error here, at startup, rather than a
// puzzling refusal of every job later.
func New(cfg Config) (*Opener, error) {
	o := &Opener{
		allowed:      allowlist{},
		maxRedirects: cfg.MaxRedirects,
		spoolDir:     cfg.SpoolDir,
		maxSpool:     cfg.MaxSpoolBytes,
		timeout:      cfg.Timeout,
		resolver:     cfg.Resolver,
		spoolWait:    cfg.SpoolWait,
		minRate:      cfg.MinRate,
		rateWindow:   cfg.RateWindow,
		clock:        realClock{},
	}
	switch {
	case o.maxRedirects == 0:
		o.maxRedirects = defaultMaxRedirects
	case o.maxRedirects < 0:
		o.maxRedirects = 0
	}
	if o.spoolDir == "" {
		o.spoolDir = os.TempDir()
	}
	if err := checkSpoolDir(o.spoolDir); err != nil {
		return nil, err
	}
	if o.maxSpool <= 0 {
		o.maxSpool = defaultMaxSpoolBytes
	}
	total := cfg.SpoolTotalBytes
	if total <= 0 {
		total = defaultSpoolTotal
	}
	o.budget = newSpoolBudget(total)
	o.maxSpool = min(o.maxSpool, total)
	if o.spoolWait <= 0 {
		o.spoolWait = defaultSpoolWait
	}
	switch {
	case o.minRate == 0:
		o.minRate = defaultMinRate
	case o.minRate < 0:
		o.minRate = 0
	}
	if o.rateWindow <= 0 {
		o.rateWindow = defaultRateWindow
	}
	if o.timeout <= 0 {
		o.timeout = defaultTimeout
	}

	if cfg.Root != "" {
		root, err := filepath.Abs(cfg.Root)
		if err != nil {
			return nil, fmt.Errorf("source: MEDIA_ROOT %s: %w", cfg.Root, err)
		}
		fi, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("source: MEDIA_ROOT: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("source: MEDIA_ROOT %s is not a directory", root)
		}
		o.root = root
		o.rootAliases = []string{root}
		// Paths may be written through either spelling of a symlinked root;
		// both are the same folder, so both are inside it.
		if real, err := filepath.EvalSymlinks(root); err == nil && real != root {
			o.rootAliases = append(o.rootAliases, real)
		}
	}

	for _, h := range cfg.AllowedHosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if err := checkAllowedHost(h); err != nil {
			return nil, err
		}
		o.allowed[canonHost(h)] = true
	}

	rt := cfg.Transport
	if rt == nil {
		rt = newTransport(o.allowed, cfg.Resolver)
	}
	o.client = &http.Client{Transport: rt, CheckRedirect: o.checkRedirect}
	return o, nil
}

// checkSpoolDir makes sure spooling can work before the first source
// needs it: a missing or read-only SPOOL_DIR is one line at startup rather
// than every no-length source failing later.
func checkSpoolDir(dir string) error {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("source: SPOOL_DIR %s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, "mediaflow-spool-check-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("source: SPOOL_DIR %s is not writable: %v", dir, err)
	}
	f.Close()
	_ = os.Remove(f.Name())
	return nil
}

func checkAllowedHost(h string) error {
	bad := func(why string) error {
		return fmt.Errorf("source: ALLOWED_SOURCE_HOSTS entry %q: %s", h, why)
	}
	if strings.Contains(h, "/") {
		return bad("want a host name or IP address, not a URL or CIDR range")
	}
	if _, err := netip.ParseAddr(canonHost(h)); err == nil {
		return nil
	}
	if strings.ContainsAny(h, ":@?#%* ") {
		return bad("want a host name or IP address without port, userinfo or wildcard")
	}
	return nil
}

// Hint carries what the caller already knows about a source. Empty fields
// are worked out by Open.
type Hint struct {
	Name        string
	ContentType string
}

// Check validates src without any I/O: the scheme (a plain path, file://,
// http or https), that a local path lies lexically inside Root, the URL's
// shape, and IP literals and localhost names against the address guard. It is
// meant for enqueue time, so bad input is refused before anything is queued;
// Open runs the same checks first.
func (o *Opener) Check(src string) error {
	if _, err := o.parse(src); err != nil {
		return newError("check", src, err)
	}
	return nil
}

// Open opens src for streaming. The Media it returns always has a known
// Size: an HTTP response without Content-Length is first spooled to a file
// in SpoolDir, capped by MaxSpoolBytes, which is gone once the Media is
// closed. The caller must Close the Media. Errors are *Error; the content
// type is not judged here (see Supported), but an empty source is refused.
func (o *Opener) Open(ctx context.Context, src string, want Hint) (*Media, error) {
	t, err := o.parse(src)
	if err != nil {
		return nil, newError("open", src, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, newError("open", src, err)
	}
	if t.url != nil {
		return o.openRemote(ctx, src, t.url, want)
	}
	return o.openLocal(src, t.rel, want)
}

// target is a parsed source: either a path relative to the root or a URL.
type target struct {
	rel string
	url *urlTarget
}

func (o *Opener) parse(src string) (target, error) {
	if src == "" {
		return target{}, failf(errBadSource, nil, "empty source")
	}
	if strings.ContainsFunc(src, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return target{}, failf(errBadSource, nil, "source contains control characters")
	}
	switch scheme := schemeOf(src); scheme {
	case "":
		rel, err := o.confine(src)
		return target{rel: rel}, err
	case "file":
		p, err := fileURLPath(src)
		if err != nil {
			return target{}, err
		}
		rel, err := o.confine(p)
		return target{rel: rel}, err
	case "http", "https":
		u, err := o.parseURL(src)
		return target{url: u}, err
	default:
		return target{}, failf(errBadSource, nil,
			"scheme %q is not supported: use a path under MEDIA_ROOT, a file:// URL, or an http(s) URL", scheme)
	}
}

// schemeOf returns the lower-cased URL scheme of s, or "" when s is a path.
// A colon after a slash ("./a:b.jpg") belongs to a file name, not a scheme.
func schemeOf(s string) string {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return ""
	}
	for k, c := range []byte(s[:i]) {
		alpha := 'a' <= c|0x20 && c|0x20 <= 'z'
		if !alpha && (k == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return ""
		}
	}
	return strings.ToLower(s[:i])
}
