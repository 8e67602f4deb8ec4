package rdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The keys of the HTTP surfaces' defences (packages authlimit and ui);
// doc.go's layout lists them:
//
//	mediaflow:authfail:<client>     string  GCRA arrival time (ms, Redis clock) of a client's failed authentications
//	mediaflow:ui:revoked:<session>  string  a page session ended by logging out; expires when the session would have
//
// <client> is an IPv4 address or an IPv6 /64 prefix; <session> is a hash
// of the session's nonce, never the cookie. Both expire on their own, so
// neither grows with traffic that stopped.

func authFailKey(client string) string   { return prefix + "authfail:" + client }
func revokedSessionKey(id string) string { return prefix + "ui:revoked:" + id }

// AuthFailures counts failed authentications per client address, with the
// GCRA script of the fleet budget (budget.go) on the Redis server's clock,
// so that every process on the same Redis counts them together. It holds
// no state of its own and is safe for concurrent use.
type AuthFailures struct {
	c redis.UniversalClient
}

// NewAuthFailures returns the counter of failed authentications on c.
func NewAuthFailures(c redis.UniversalClient) *AuthFailures { return &AuthFailures{c: c} }

// Fail counts one failed authentication of client, who may fail perMinute
// times a minute, as many of them at once. over means the client was
// over that already: the failure was not counted, and wait is how long
// until one would be. A zero now uses the Redis server's clock.
func (a *AuthFailures) Fail(ctx context.Context, client string, perMinute int, now time.Time) (over bool, wait time.Duration, err error) {
	return a.run(ctx, client, perMinute, now, "")
}

// Over reports, counting nothing, whether client is over its limit of
// failures (as Fail would find it), and for how long yet.
func (a *AuthFailures) Over(ctx context.Context, client string, perMinute int, now time.Time) (over bool, wait time.Duration, err error) {
	return a.run(ctx, client, perMinute, now, "peek")
}

func (a *AuthFailures) run(ctx context.Context, client string, perMinute int, now time.Time, mode string) (bool, time.Duration, error) {
	if perMinute < 1 {
		return false, 0, fmt.Errorf("authentication failures of %s: limit %d a minute: want at least 1", client, perMinute)
	}
	l, err := lease(ctx, a.c, []string{authFailKey(client)},
		LeaseAsk{Rate: float64(perMinute) / 60, Burst: perMinute, N: 1, Now: now}, mode)
	if err != nil {
		return false, 0, fmt.Errorf("authentication failures of %s: %w", client, err)
	}
	if len(l.Offsets) > 0 {
		return false, 0, nil
	}
	return true, l.Wait, nil
}

// Sessions is the list of page sessions ended before they expired. It is
// safe for concurrent use.
type Sessions struct {
	c redis.UniversalClient
}

// NewSessions returns the list of ended sessions on c.
func NewSessions(c redis.UniversalClient) *Sessions { return &Sessions{c: c} }

// Revoke ends session id for ttl, the time it had left: after that its
// cookie is refused as expired anyway, so the entry goes too.
func (s *Sessions) Revoke(ctx context.Context, id string, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	if err := s.c.Set(ctx, revokedSessionKey(id), "1", ttl).Err(); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// Revoked reports whether session id was ended.
func (s *Sessions) Revoked(ctx context.Context, id string) (bool, error) {
	err := s.c.Get(ctx, revokedSessionKey(id)).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up session: %w", err)
	}
	return true, nil
}

// sessionSecretKey holds the fleet's secret for the page sessions of
// workspaces-file tokens: the pages know those tokens by their SHA-256
// alone (the file may be committed), so their sessions are signed with
// a key derived from this secret instead of from the token.
//
//	mediaflow:ui:secret  string  32 random bytes (SET NX once, kept)
const sessionSecretKey = prefix + "ui:secret"

// SessionSecret returns the fleet's page-session secret, making it on
// first use: the first process to ask sets it, every other reads it.
// Deleting the key ends every session of a workspaces-file token.
func (s *Sessions) SessionSecret(ctx context.Context, fresh []byte) ([]byte, error) {
	if err := s.c.SetArgs(ctx, sessionSecretKey, fresh, redis.SetArgs{Mode: "NX"}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("make the page session secret: %w", err)
	}
	b, err := s.c.Get(ctx, sessionSecretKey).Bytes()
	if err != nil {
		return nil, fmt.Errorf("read the page session secret: %w", err)
	}
	return b, nil
}
