package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/swonkie"
)

// Profile directories are kept by workspace name (DefaultWorkspace for a
// fleet without a workspaces file), which a client that has only Redis
// knows, rather than by a hash of the credentials.

// Profile directory timing: a worker refreshes it every
// DefaultProfileRefresh; a directory nobody refreshed for ProfileTTL is
// gone, and a request's profiles are then checked by the pipeline's
// pre-flight step, which fetches it.
const (
	DefaultProfileRefresh = 5 * time.Minute
	ProfileTTL            = time.Hour
)

// ProfileDirectory is what GET /profiles said about a workspace's
// profiles: ids, networks and names, no secrets.
type ProfileDirectory struct {
	Workspace string         `json:"workspace"`
	FetchedAt time.Time      `json:"fetchedAt"`
	Profiles  []ProfileEntry `json:"profiles"`
}

// ProfileEntry is one profile of a directory.
type ProfileEntry struct {
	ID      string `json:"id"`
	Network string `json:"network"`
	Name    string `json:"name,omitempty"`
	// StatusLevel is the connection's health; only "OK" publishes.
	StatusLevel string `json:"statusLevel"`
}

func (d *ProfileDirectory) find(id string) *ProfileEntry {
	i := slices.IndexFunc(d.Profiles, func(p ProfileEntry) bool { return p.ID == id })
	if i < 0 {
		return nil
	}
	return &d.Profiles[i]
}

// knows reports whether every id is in the directory.
func (d *ProfileDirectory) knows(ids []string) bool {
	for _, id := range ids {
		if d.find(id) == nil {
			return false
		}
	}
	return true
}

// check lists what keeps the profiles ids from publishing: one not in the
// workspace, or one whose connection is not OK. field names the request
// path of the ids ("post.profileIds").
func (d *ProfileDirectory) check(field string, ids []string) []Finding {
	var out []Finding
	for i, id := range ids {
		item := fmt.Sprintf("%s[%d]", field, i)
		p := d.find(id)
		switch {
		case p == nil:
			out = append(out, Finding{Severity: "error", Item: item, Rule: RuleProfileKnown, Value: id,
				Limit:   "a profile of workspace " + d.Workspace,
				Message: fmt.Sprintf("profile %s is not a profile of workspace %s (directory of %s)", id, d.Workspace, d.FetchedAt.UTC().Format(time.RFC3339))})
		case p.StatusLevel != swonkie.StatusOK:
			out = append(out, Finding{Severity: "error", Item: item, Network: p.Network, Rule: RuleProfileConnected, Value: p.StatusLevel,
				Limit:   swonkie.StatusOK,
				Message: fmt.Sprintf("profile %s (%s %q) cannot publish: its connection is %s; reconnect it in Swonkie", id, p.Network, p.Name, p.StatusLevel)})
		}
	}
	return out
}

// networks are the network codes of the known profiles among ids.
func (d *ProfileDirectory) networks(ids []string) []string {
	var out []string
	for _, id := range ids {
		if p := d.find(id); p != nil && !slices.Contains(out, p.Network) {
			out = append(out, p.Network)
		}
	}
	return out
}

// loadDirectory reads the cached directory of workspace ws; nil when
// there is none.
func loadDirectory(ctx context.Context, r *rdb.RDB, ws string) (*ProfileDirectory, error) {
	b, err := r.ProfileDirectory(ctx, ws)
	if err != nil || b == nil {
		return nil, err
	}
	var d ProfileDirectory
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, nil // unreadable (another version's): as good as none
	}
	return &d, nil
}

// refreshDirectory fetches the directory of workspace ws from Swonkie
// and caches it.
func refreshDirectory(ctx context.Context, r *rdb.RDB, api *swonkie.Client, ws string, now time.Time) (*ProfileDirectory, error) {
	ps, err := api.ListProfiles(ctx)
	if err != nil {
		return nil, wrap(err, "list the profiles of workspace %s", ws)
	}
	d := &ProfileDirectory{Workspace: ws, FetchedAt: now.UTC(), Profiles: make([]ProfileEntry, 0, len(ps))}
	for _, p := range ps {
		name := p.Name
		if name == "" {
			name = p.Username
		}
		d.Profiles = append(d.Profiles, ProfileEntry{ID: p.ID, Network: p.Net.Code, Name: name, StatusLevel: p.StatusLevel})
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	if err := r.SaveProfileDirectory(ctx, ws, b, ProfileTTL); err != nil {
		return nil, err
	}
	return d, nil
}
