package rdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// What mediaflow remembers about one Swonkie workspace's own objects, for
// every worker of a fleet at once. doc.go's layout lists the keys:
//
//	mediaflow:ws:<ws>:label:<h>           string  the label id mediaflow uses for the name whose hash is h (expires)
//	mediaflow:ws:<ws>:label:<h>:lock      string  the holder resolving that name (SET NX PX)
//	mediaflow:ws:<ws>:post:<postId>       string  the pipeline that owns a post it made without media (SET NX, expires)
//	mediaflow:ws:<ws>:post:<postId>:lock  string  the run reading and changing a post of the caller's (SET NX PX)
//
// Every command touches one key, so no hash tag is needed on a cluster.

func wsPrefix(ws string) string           { return prefix + "ws:" + ws + ":" }
func labelKey(ws, name string) string     { return wsPrefix(ws) + "label:" + nameHash(name) }
func labelLockKey(ws, name string) string { return labelKey(ws, name) + ":lock" }
func postOwnerKey(ws, post string) string { return wsPrefix(ws) + "post:" + post }
func postLockKey(ws, post string) string  { return postOwnerKey(ws, post) + ":lock" }

// nameHash keeps label names (any characters, ':' included) out of key
// structure.
func nameHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

// Workspace reads and writes what is remembered about one workspace. It
// holds no state of its own and is safe for concurrent use.
type Workspace struct {
	c  redis.UniversalClient
	ws string
}

// NewWorkspace returns the store of workspace ws on c, which it shares
// and never closes. ws is an opaque name that never spells a credential
// (swonkie.Client.Workspace).
func NewWorkspace(c redis.UniversalClient, ws string) *Workspace {
	return &Workspace{c: c, ws: ws}
}

// LabelID returns the label id remembered for name, or "".
func (w *Workspace) LabelID(ctx context.Context, name string) (string, error) {
	id, err := w.c.Get(ctx, labelKey(w.ws, name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the label id of %q: %w", name, err)
	}
	return id, nil
}

// RememberLabel keeps id as the label for name for ttl.
func (w *Workspace) RememberLabel(ctx context.Context, name, id string, ttl time.Duration) error {
	if err := w.c.Set(ctx, labelKey(w.ws, name), id, ttl).Err(); err != nil {
		return fmt.Errorf("remember label %s for %q: %w", id, name, err)
	}
	return nil
}

// ForgetLabel drops what is remembered for name, so the next resolution
// asks Swonkie again.
func (w *Workspace) ForgetLabel(ctx context.Context, name string) error {
	if err := w.c.Del(ctx, labelKey(w.ws, name)).Err(); err != nil {
		return fmt.Errorf("forget the label of %q: %w", name, err)
	}
	return nil
}

// ClaimLabelName makes holder the one worker that resolves name (looks
// for it, creates it when missing) for ttl; false means another holds it.
// The lease runs on Redis's clock.
func (w *Workspace) ClaimLabelName(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	ok, err := w.lock(ctx, labelLockKey(w.ws, name), holder, ttl)
	if err != nil {
		return false, fmt.Errorf("claim the label name %q: %w", name, err)
	}
	return ok, nil
}

// ReleaseLabelName ends holder's claim on name, if it still has it.
func (w *Workspace) ReleaseLabelName(ctx context.Context, name, holder string) error {
	if err := w.unlock(ctx, labelLockKey(w.ws, name), holder); err != nil {
		return fmt.Errorf("release the label name %q: %w", name, err)
	}
	return nil
}

// LockPost makes holder the one run that reads and changes post for ttl;
// false means another holds it. A post of the caller's is changed by
// reading its media and writing the whole list back (PUT replaces arrays
// wholesale), so two pipelines adding to it at once would each drop the
// other's.
func (w *Workspace) LockPost(ctx context.Context, post, holder string, ttl time.Duration) (bool, error) {
	ok, err := w.lock(ctx, postLockKey(w.ws, post), holder, ttl)
	if err != nil {
		return false, fmt.Errorf("lock post %s: %w", post, err)
	}
	return ok, nil
}

// UnlockPost ends holder's lock on post, if it still has it.
func (w *Workspace) UnlockPost(ctx context.Context, post, holder string) error {
	if err := w.unlock(ctx, postLockKey(w.ws, post), holder); err != nil {
		return fmt.Errorf("unlock post %s: %w", post, err)
	}
	return nil
}

func (w *Workspace) lock(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	return w.c.SetNX(ctx, key, holder, ttl).Result()
}

// releaseScript deletes KEYS[1] only if it still holds ARGV[1]: a holder
// whose lease ran out must not release its successor's.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func (w *Workspace) unlock(ctx context.Context, key, holder string) error {
	return releaseScript.Run(ctx, w.c, []string{key}, holder).Err()
}

// claimPostScript sets KEYS[1] to ARGV[1] unless it holds a value, and
// returns the value it holds after. ARGV[2] is the lifetime (ms).
var claimPostScript = redis.NewScript(`
local owner = redis.call('GET', KEYS[1])
if owner then
  return owner
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`)

// ClaimPost makes pipeline the owner of post for ttl, unless it has one;
// it returns the owner either way.
func (w *Workspace) ClaimPost(ctx context.Context, post, pipeline string, ttl time.Duration) (string, error) {
	owner, err := claimPostScript.Run(ctx, w.c, []string{postOwnerKey(w.ws, post)}, pipeline, ttl.Milliseconds()).Text()
	if err != nil {
		return "", fmt.Errorf("claim post %s for pipeline %s: %w", post, pipeline, err)
	}
	return owner, nil
}

// PostOwner returns the pipeline that owns post, or "".
func (w *Workspace) PostOwner(ctx context.Context, post string) (string, error) {
	owner, err := w.c.Get(ctx, postOwnerKey(w.ws, post)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the owner of post %s: %w", post, err)
	}
	return owner, nil
}
