package tasks

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"strings"

	"github.com/mediaflow/mediaflow/publishrules"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// WithoutPreflight makes the client's pipelines start at their uploads,
// as before pre-flight existed: nothing is probed or checked before media
// are created (the benchmark's baseline; an operator's way out should
// the rules table misjudge a post).
func WithoutPreflight() ClientOption { return func(c *Client) { c.noPreflight = true } }

// WithWorkspace names the workspace a request that names none is
// checked in when the fleet's workspaces cannot tell (DefaultWorkspace by
// default); a request's own workspace is always checked in its own
// cached profile directory.
func WithWorkspace(name string) ClientOption {
	return func(c *Client) {
		if name != "" {
			c.checker.workspace = name
		}
	}
}

// WithRules sets the networks' rules the dry run checks against (the
// worker's PUBLISH_RULES_FILE); the default is publishrules.Default().
func WithRules(r *publishrules.Rules) ClientOption {
	return func(c *Client) {
		if r != nil {
			c.checker.rules = r
		}
	}
}

// WithProfileRefresh lets the dry run fetch a workspace's profile
// directory from Swonkie, through that workspace's client in apis (by
// name), when none is cached or a profile is not in it, as the pre-flight
// step does; without it (or for a workspace not in apis) the client reads
// the cached one only.
func WithProfileRefresh(apis map[string]*swonkie.Client) ClientOption {
	return func(c *Client) { c.refreshAPIs = maps.Clone(apis) }
}

// checkerFor is the checker of the request's workspace: its cached
// directory, and its client when the dry run may refresh it.
func (c *Client) checkerFor(ws string) preflightChecker {
	if ws == "" {
		ws = c.checker.workspace
	}
	return c.checker.in(ws, c.refreshAPIs[ws])
}

// CheckResult is a dry run's answer: whether the request would be
// accepted and could publish, every problem (errors) and warning, and
// what each media item turned out to be.
type CheckResult struct {
	Valid    bool         `json:"valid"`
	Problems []Finding    `json:"problems"`
	Warnings []Finding    `json:"warnings"`
	Media    []ProbedItem `json:"media"`
}

// RuleRequest is the rule of a finding that is a problem of the request's
// shape (what Publish refuses with a *ValidationError).
const RuleRequest = "request"

// Check is a dry run of Publish and of the pipeline's pre-flight step:
// the request's shape, its profiles (against the cached directory, or a
// fresh one WithProfileRefresh), each media item probed (with
// WithSources; remote ones by range requests), and the networks' rules.
// Nothing is created, on Swonkie or in Redis (but a refreshed profile
// directory), and nothing is enqueued. An error is a failure to find out
// (Redis, Swonkie) or a *WorkspaceError, never a problem of the request.
func (c *Client) Check(ctx context.Context, req Request) (*CheckResult, error) {
	req.normalize()
	if err := c.resolveWorkspace(ctx, &req); err != nil {
		return nil, err // a *WorkspaceError, as Publish answers
	}
	res := &CheckResult{Problems: []Finding{}, Warnings: []Finding{}, Media: []ProbedItem{}}
	err := req.validate(c.store.now().UTC(), c.timing.MinScheduleLead, c.check, c.checkHook, c.supported)
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			if strings.HasPrefix(p.Field, "media[") && strings.HasSuffix(p.Field, "].source") {
				continue // the probe below says it, once
			}
			res.Problems = append(res.Problems, Finding{Severity: publishrules.Error, Item: p.Field, Rule: RuleRequest,
				Message: p.Field + ": " + p.Message})
		}
	case err != nil:
		return nil, err
	}
	checker := c.checkerFor(req.Workspace)
	pf, err := checker.check(ctx, req, false)
	if err != nil {
		return nil, err
	}
	res.Problems = append(res.Problems, pf.Problems...)
	res.Warnings = append(res.Warnings, pf.Warnings...)
	res.Media = pf.Media
	if checker.sources == nil {
		res.Media = []ProbedItem{}
		// Without an opener the sources' shape problems are all there is.
		for _, p := range ve.problems() {
			if strings.HasSuffix(p.Field, "].source") {
				res.Problems = append(res.Problems, Finding{Severity: publishrules.Error, Item: p.Field, Rule: RuleRequest,
					Message: p.Field + ": " + p.Message})
			}
		}
	}
	res.Valid = len(res.Problems) == 0
	return res, nil
}

func (e *ValidationError) problems() []Problem {
	if e == nil {
		return nil
	}
	return e.Problems
}

func isValidation(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}

// ProfileDirectory returns the cached profile directory of workspace ws
// ("" for the client's default, WithWorkspace), nil when none is cached
// yet (no worker has fetched it).
func (c *Client) ProfileDirectory(ctx context.Context, ws string) (*ProfileDirectory, error) {
	if ws == "" {
		ws = c.checker.workspace
	}
	return loadDirectory(ctx, c.store.rdb, ws)
}

// checkProfiles adds to err (nil or a *ValidationError) the request's
// profiles that its workspace's cached directory says cannot publish:
// not in that workspace (a profile of another workspace included), or
// disconnected. With no directory cached it adds nothing:
// the pipeline's pre-flight step checks them. A client WithoutPreflight
// checks nothing here either: the post is judged by Swonkie, at attach.
func (c *Client) checkProfiles(ctx context.Context, req *Request, err error) error {
	if c.noPreflight || req.Post == nil || len(req.Post.ProfileIDs) == 0 {
		return err
	}
	dir, lerr := c.ProfileDirectory(ctx, req.Workspace)
	if lerr != nil {
		return lerr
	}
	if dir == nil {
		return err
	}
	found := dir.check("post.profileIds", req.Post.ProfileIDs)
	if len(found) == 0 {
		return err
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		ve = &ValidationError{Unusable: true}
	}
	for _, f := range found {
		ve.Problems = append(ve.Problems, Problem{Field: f.Item, Message: strings.TrimPrefix(f.Message, f.Item+": ")})
	}
	return ve
}

// WithRemoteSourceCheck makes Publish probe each remote media URL (a
// range request for its first bytes, through the same guard the worker
// uses) and refuse one that can never work: its host does not exist
// (NXDOMAIN) or it answers 404 or 410. One that cannot be reached for now
// is accepted; pre-flight retries it. Give it after WithSources. It costs
// the caller a round trip per URL, so no program turns it on yet: without
// it such a source fails the pipeline at once in pre-flight, and the dry
// run (Check) reports it.
func WithRemoteSourceCheck() ClientOption { return func(c *Client) { c.probeRemote = true } }

// remoteNeverWorks is the enqueue-time check of a remote source.
func remoteNeverWorks(ctx context.Context, o *source.Opener, src string) error {
	_, err := o.Probe(ctx, src, source.Hint{})
	var se *source.Error
	if errors.As(err, &se) && se.Permanent && (se.Status == http.StatusNotFound || se.Status == http.StatusGone || se.Status == 0 && isNoSuchHost(err)) {
		return err
	}
	return nil
}

func isNoSuchHost(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}
