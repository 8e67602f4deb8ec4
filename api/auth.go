package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/workspaces"
)

// MinTokenLength is the shortest bearer token New accepts.
const MinTokenLength = 16

// keyring holds the accepted tokens as SHA-256 digests, so comparing them
// takes the same time whatever the token's length or how much of it is
// right, and each token's rate limiter. The first len(API_TOKENS) slots
// are API_TOKENS' (all workspaces); the rest are the workspaces file's,
// known only by their digest, each with its name and its workspaces.
type keyring struct {
	digests  [][sha256.Size]byte
	limiters []*rate.Limiter // nil entries when unlimited
	// names and scopes are the file tokens' (by slot); "" and nil for
	// API_TOKENS.
	names  []string
	scopes []*workspaces.Token
}

func newKeyring(tokens []string, file []workspaces.Token, limit rate.Limit, burst int) *keyring {
	k := &keyring{}
	add := func(d [sha256.Size]byte, name string, scope *workspaces.Token) {
		var l *rate.Limiter
		if limit > 0 {
			l = rate.NewLimiter(limit, burst)
		}
		k.digests, k.limiters = append(k.digests, d), append(k.limiters, l)
		k.names, k.scopes = append(k.names, name), append(k.scopes, scope)
	}
	for _, t := range tokens {
		add(sha256.Sum256([]byte(t)), "", nil)
	}
	for i := range file {
		var d [sha256.Size]byte
		// Checked by workspaces.Parse: 64 hex digits.
		_, _ = hex.Decode(d[:], []byte(file[i].SHA256))
		add(d, file[i].Name, &file[i])
	}
	return k
}

// keep carries the rate limiters of the tokens old and k share over to
// k, so a reload does not give a token a fresh burst.
func (k *keyring) keep(old *keyring) {
	for i, d := range k.digests {
		for j, od := range old.digests {
			if d == od {
				k.limiters[i] = old.limiters[j]
			}
		}
	}
}

// match returns the slot of the token presented, or -1. Every digest is
// compared, matched or not, so the time taken does not tell which slot
// (or whether any) matched.
func (k *keyring) match(token string) int {
	d := sha256.Sum256([]byte(token))
	slot := -1
	for i := range k.digests {
		if subtle.ConstantTimeCompare(d[:], k.digests[i][:]) == 1 {
			slot = i
		}
	}
	return slot
}

// bearer reads the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive (RFC 9110 §11.1).
func bearer(r *http.Request) (token string, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(rest)
	return token, token != ""
}

// authNote is where authenticated tells the access log what it decided:
// the position of the request's token in the configured list (naming the
// slot lets operators see when a rotated-out token stops being used,
// without ever logging the token), or that the request was refused for
// its credentials, which the guard summarizes instead of one line each.
type authNote struct {
	slot    int
	refused bool
	// name is a workspaces-file token's name; scope its workspaces (nil:
	// every workspace, as API_TOKENS have).
	name  string
	scope *workspaces.Token
}

type authNoteKey struct{}

// authenticated lets a request through to next only with a good token,
// from a client the guard does not hold back, with budget left.
func (h *Handler) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note, _ := r.Context().Value(authNoteKey{}).(*authNote)
		if note == nil {
			note = &authNote{}
		}
		token, ok := bearer(r)
		keys := h.keys.Load()
		slot := -1
		if ok {
			slot = keys.match(token)
		}
		if slot < 0 {
			note.refused = true
			closeUnread(w, r)
			if wait, throttled := h.guard.Failed(r, metrics.AuthSurfaceAPI); throttled {
				writeThrottled(w, r, wait)
				return
			}
			challenge, detail := `Bearer realm="mediaflow"`, "send a token as \"Authorization: Bearer <token>\""
			if ok {
				challenge, detail = `Bearer realm="mediaflow", error="invalid_token"`, "the bearer token is not one this API accepts"
			} // RFC 6750 §3.1: a request without credentials gets no error code.
			w.Header().Set("WWW-Authenticate", challenge)
			writeProblem(w, r, Problem{Type: typeUnauthorized, Status: http.StatusUnauthorized, Detail: detail})
			return
		}
		if wait, throttled := h.guard.Throttled(r, metrics.AuthSurfaceAPI); throttled {
			note.refused = true
			closeUnread(w, r)
			writeThrottled(w, r, wait)
			return
		}
		if l := keys.limiters[slot]; l != nil {
			if wait, ok := admit(l); !ok {
				closeUnread(w, r)
				w.Header().Set("Retry-After", strconv.Itoa(wait))
				writeProblem(w, r, Problem{Type: typeRateLimited, Status: http.StatusTooManyRequests,
					Detail: "this token's request rate is used up; retry after " + strconv.Itoa(wait) + "s"})
				return
			}
		}
		note.slot, note.name, note.scope = slot, keys.names[slot], keys.scopes[slot]
		next.ServeHTTP(w, r)
	})
}

// writeThrottled refuses a client that failed to authenticate too often
// lately, whatever it sent this time.
func writeThrottled(w http.ResponseWriter, r *http.Request, wait int) {
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	writeProblem(w, r, Problem{Type: typeAuthThrottled, Status: http.StatusTooManyRequests,
		Detail: "too many failed authentications from this address; retry after " + strconv.Itoa(wait) + "s"})
}

// admit takes a token from l now, or says in whole seconds (at least 1,
// as Retry-After counts) when one will be there.
func admit(l *rate.Limiter) (retryAfter int, ok bool) {
	now := time.Now()
	res := l.ReserveN(now, 1)
	if !res.OK() {
		return 1, false
	}
	d := res.DelayFrom(now)
	if d == 0 {
		return 0, true
	}
	// Give the token back: a refused request must not delay the next one.
	res.CancelAt(now)
	return max(1, int(math.Ceil(d.Seconds()))), false
}
