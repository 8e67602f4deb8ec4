package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/workspaces"
)

// A session cookie reads "v1.<token id>.<expiry>.<nonce>.<mac>". It names
// the token it was opened with only by an id derived from it, and is signed
// with a key derived from that same token: every replica accepts the
// cookies of the others, and removing a token from API_TOKENS leaves its
// cookies with no key to verify them. The one state kept is the list of
// sessions ended at logout (Redis, internal/rdb), each only for the time
// it had left.
const sessionVersion = "v1"

// Domain-separation labels: the id, the signing key and the CSRF secrets
// are all HMACs of the token, each under its own label, so none of them
// tells anything about another (or about the token).
const (
	labelID   = "mediaflow ui session id v1"
	labelKey  = "mediaflow ui session key v1"
	labelCSRF = "mediaflow ui csrf v1"
	// labelRevoked names a session in Redis (session.id); a plain hash,
	// since a nonce is no secret once the cookie's MAC is left out.
	labelRevoked = "mediaflow ui session revoked v1"
)

// Strict: the last character of an encoded MAC carries bits that decoding
// would otherwise ignore, so two different cookies would verify as one.
var b64 = base64.RawURLEncoding.Strict()

// sessionKey is what one accepted token contributes.
type sessionKey struct {
	id     string // b64 of 12 bytes: picks the key without trying each
	key    []byte
	digest [sha256.Size]byte // of the token, for the login form
	// name and scope are a workspaces-file token's (scope.go); "" and nil
	// for API_TOKENS, which see every workspace.
	name  string
	scope *workspaces.Token
}

func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		// Length-prefixed, so ("ab","c") and ("a","bc") sign differently.
		fmt.Fprintf(m, "%d:%s|", len(p), p)
	}
	return m.Sum(nil)
}

func newSessionKeys(tokens []string) []sessionKey {
	keys := make([]sessionKey, 0, len(tokens))
	for _, t := range tokens {
		keys = append(keys, sessionKey{
			id:     b64.EncodeToString(mac([]byte(t), labelID)[:12]),
			key:    mac([]byte(t), labelKey),
			digest: sha256.Sum256([]byte(t)),
		})
	}
	return keys
}

// newFileSessionKeys are the keys of the workspaces file's tokens. The
// pages know them by their SHA-256 alone, which the file (perhaps
// committed) shows, so the id and key are HMACs under the fleet's secret
// (rdb.Sessions.SessionSecret) of that digest: a token replaced in the
// file, or removed, leaves its cookies with no key.
func newFileSessionKeys(file []workspaces.Token, secret []byte) []sessionKey {
	keys := make([]sessionKey, 0, len(file))
	for i := range file {
		t := &file[i]
		k := sessionKey{
			id:    b64.EncodeToString(mac(secret, labelID, t.SHA256)[:12]),
			key:   mac(secret, labelKey, t.SHA256),
			name:  t.Name,
			scope: t,
		}
		// Checked by workspaces.Parse: 64 hex digits.
		_, _ = hex.Decode(k.digest[:], []byte(t.SHA256))
		keys = append(keys, k)
	}
	return keys
}

// session is a verified cookie.
type session struct {
	key     *sessionKey
	expires time.Time
	nonce   string
}

// id names the session in the list of sessions ended at logout: a hash
// of its nonce, so Redis never holds anything a cookie could be rebuilt
// from.
func (s session) id() string {
	sum := sha256.Sum256([]byte(labelRevoked + "|" + s.key.id + "|" + s.nonce))
	return hex.EncodeToString(sum[:16])
}

// csrf is the token the session's forms carry: bound to this session, so a
// token read from another session (or an older one) is refused.
func (s session) csrf() string {
	return b64.EncodeToString(mac(s.key.key, labelCSRF, s.nonce))
}

func (s session) checkCSRF(got string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf())) == 1
}

// login returns the key of the token presented, comparing it with every
// accepted token so the time taken does not tell which (or whether one)
// matched.
func login(keys []sessionKey, token string) *sessionKey {
	d := sha256.Sum256([]byte(token))
	var found *sessionKey
	for i := range keys {
		if subtle.ConstantTimeCompare(d[:], keys[i].digest[:]) == 1 {
			found = &keys[i]
		}
	}
	return found
}

func (k *sessionKey) open(now time.Time, ttl time.Duration, nonce []byte) (cookie string, s session) {
	exp := now.Add(ttl).Truncate(time.Second)
	s = session{key: k, expires: exp, nonce: b64.EncodeToString(nonce)}
	payload := strings.Join([]string{sessionVersion, k.id, strconv.FormatInt(exp.Unix(), 10), s.nonce}, ".")
	return payload + "." + b64.EncodeToString(mac(k.key, payload)), s
}

var (
	errSessionMalformed = errors.New("session cookie is malformed")
	errSessionUnknown   = errors.New("session cookie names no configured token (removed from API_TOKENS?)")
	errSessionForged    = errors.New("session cookie signature does not verify")
	errSessionExpired   = errors.New("session cookie expired")
	errSessionEnded     = errors.New("session ended at logout")
)

func verifySession(keys []sessionKey, cookie string, now time.Time) (session, error) {
	parts := strings.Split(cookie, ".")
	if len(parts) != 5 || parts[0] != sessionVersion {
		return session{}, errSessionMalformed
	}
	var k *sessionKey
	for i := range keys {
		if subtle.ConstantTimeCompare([]byte(keys[i].id), []byte(parts[1])) == 1 {
			k = &keys[i]
		}
	}
	if k == nil {
		return session{}, errSessionUnknown
	}
	got, err := b64.DecodeString(parts[4])
	if err != nil {
		return session{}, errSessionMalformed
	}
	payload := strings.Join(parts[:4], ".")
	if !hmac.Equal(got, mac(k.key, payload)) {
		return session{}, errSessionForged
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return session{}, errSessionMalformed
	}
	s := session{key: k, expires: time.Unix(exp, 0), nonce: parts[3]}
	if !now.Before(s.expires) {
		return session{}, errSessionExpired
	}
	return s, nil
}
