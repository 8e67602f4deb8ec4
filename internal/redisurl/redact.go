package redisurl

import (
	"errors"
	"net/url"
	"strings"
)

// secretParams are the query parameters that hold a password.
var secretParams = []string{"password", "sentinel_password"}

const mask = "xxxxx"

// Redacted is raw with every password replaced by xxxxx, for logs. It works
// on URLs Parse rejects too, so a bad URL can be shown.
func Redacted(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "(URL without a scheme)"
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		if name, _, hasPass := strings.Cut(authority[:i], ":"); hasPass {
			authority = name + ":" + mask + authority[i:]
		}
	}
	path, query, hasQuery := strings.Cut(tail, "?")
	if hasQuery {
		fields := strings.Split(query, "&")
		for i, f := range fields {
			k, _, _ := strings.Cut(f, "=")
			if ku, err := url.QueryUnescape(k); err == nil {
				k = ku
			}
			for _, s := range secretParams {
				if k == s {
					fields[i] = s + "=" + mask
				}
			}
		}
		path += "?" + strings.Join(fields, "&")
	}
	return scheme + "://" + authority + path
}

// secrets are the passwords in raw, as written and unescaped.
func secrets(raw string) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if u, err := url.PathUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
		if u, err := url.QueryUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
	}
	_, rest, _ := strings.Cut(raw, "://")
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		if _, pw, ok := strings.Cut(authority[:i], ":"); ok {
			add(pw)
		}
	}
	if _, query, ok := strings.Cut(tail, "?"); ok {
		for _, f := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(f, "=")
			for _, s := range secretParams {
				if k == s {
					add(v)
				}
			}
		}
	}
	for _, s := range append([]string(nil), out...) {
		out = append(out, url.QueryEscape(s), url.PathEscape(s))
	}
	return out
}

// scrub is the last guard: whatever a parser put in its message, no
// password leaves this package.
func scrub(err error, raw string) error {
	msg := err.Error()
	for _, s := range secrets(raw) {
		msg = strings.ReplaceAll(msg, s, mask)
	}
	return errors.New(msg)
}
