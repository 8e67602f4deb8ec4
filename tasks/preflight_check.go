package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/publishrules"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// preflightChecker is pre-flight's work on a request, shared by the
// worker's first step and the dry run (Client.Check): probe every item,
// look up the profiles, check the networks' rules. It creates nothing
// anywhere but a refreshed profile directory.
type preflightChecker struct {
	sources *source.Opener // nil: items are not probed
	rules   *publishrules.Rules
	rdb     *rdb.RDB
	// workspace is the one whose profile directory the request's profiles
	// are looked up in: the pipeline's (forWorkspace) or the request's.
	workspace string
	// api is that workspace's client: it refreshes the directory on
	// demand (none cached, or a profile not in it); nil uses the cached
	// one alone.
	api *swonkie.Client
	now func() time.Time
	log zerolog.Logger
}

// in is the checker for workspace ws, with api (nil: the cached
// directory alone).
func (c preflightChecker) in(ws string, api *swonkie.Client) preflightChecker {
	c.workspace, c.api = ws, api
	return c
}

// check returns what pre-flight finds about req. strict (the worker's
// step) returns a source that cannot be read for now as an error, to be
// retried; otherwise (a dry run) it is a warning. Any other error is a
// failure to find out (Redis, Swonkie), never a problem of the request.
func (c *preflightChecker) check(ctx context.Context, req Request, strict bool) (*Preflight, error) {
	pf := &Preflight{At: c.now().UTC(), Media: make([]ProbedItem, len(req.Media))}
	var problems, warnings []Finding

	// Profiles, and through them the networks.
	var nets []string
	if post := req.Post; post != nil {
		dir, err := c.directory(ctx, post.ProfileIDs)
		if err != nil {
			return nil, err
		}
		if dir == nil {
			warnings = append(warnings, Finding{Severity: publishrules.Warning, Item: "post.profileIds", Rule: RuleProfileKnown,
				Message: fmt.Sprintf("no profile directory of workspace %s is cached yet: profiles and network rules are checked when the pipeline runs", c.workspace)})
		} else {
			problems = append(problems, dir.check("post.profileIds", post.ProfileIDs)...)
			nets = dir.networks(post.ProfileIDs)
		}
	}

	// Media.
	media := make([]publishrules.Media, len(req.Media))
	for i, m := range req.Media {
		name := m.Name
		if name == "" {
			name = sourceName(m.Source)
		}
		media[i] = publishrules.Media{Name: name, Net: m.Net}
		if c.sources == nil {
			continue
		}
		pr, err := c.sources.Probe(ctx, m.Source, source.Hint{Name: m.Name, ContentType: m.ContentType})
		switch {
		case err == nil:
			info := pr.Info
			pf.Media[i] = ProbedItem{Name: pr.Name, ContentType: pr.ContentType, Size: pr.Size, Info: &info}
			media[i] = publishrules.Media{Name: pr.Name, Net: m.Net, Size: pr.Size, Info: pr.Info}
		case IsPermanent(err):
			pf.Media[i] = ProbedItem{Error: err.Error()}
			problems = append(problems, Finding{Severity: publishrules.Error, Item: fmt.Sprintf("media[%d] (%s)", i, name),
				Rule: RuleSourceReadable, Value: RedactSource(m.Source), Limit: "a readable image or video",
				Message: fmt.Sprintf("media[%d]: %v", i, err)})
		case strict:
			return nil, wrap(err, "pre-flight: media[%d]", i)
		default:
			pf.Media[i] = ProbedItem{Error: err.Error()}
			warnings = append(warnings, Finding{Severity: publishrules.Warning, Item: fmt.Sprintf("media[%d] (%s)", i, name),
				Rule: RuleSourceReadable, Value: RedactSource(m.Source),
				Message: fmt.Sprintf("media[%d] could not be read now (it may work later): %v", i, err)})
		}
	}

	// Rules, for a new post on the networks known.
	if post := req.Post; post != nil {
		ps, ws := c.ruleFindings(post, nets, media, c.sources != nil)
		problems, warnings = append(problems, ps...), append(warnings, ws...)
	}
	pf.Problems, pf.Warnings = problems, warnings
	return pf, nil
}

// ruleFindings checks post on the networks nets against the rules, with
// its media as probed (probed false: not probed, so a missing probe is
// no warning): the problems (errors) and the warnings.
func (c *preflightChecker) ruleFindings(post *PostSpec, nets []string, media []publishrules.Media, probed bool) (problems, warnings []Finding) {
	if len(nets) == 0 || c.rules == nil {
		return nil, nil
	}
	var caps []publishrules.Caption
	if post.Caption != "" || len(post.Captions) == 0 {
		caps = append(caps, publishrules.Caption{Text: post.Caption})
	}
	for _, cp := range post.Captions {
		caps = append(caps, publishrules.Caption{Net: cp.Net, Text: cp.Text})
	}
	for _, f := range c.rules.Check(publishrules.Post{Type: post.Type, Networks: nets, Captions: caps, Media: media}) {
		if f.Severity == publishrules.Error {
			problems = append(problems, f)
		} else if f.Rule != "media.probe" || probed {
			warnings = append(warnings, f)
		}
	}
	return problems, warnings
}

// directory is the workspace's profile directory, fetched when none is
// cached or one of ids is not in it (a profile connected since) and a
// Swonkie client is at hand; nil when none is cached and none can be
// fetched.
func (c *preflightChecker) directory(ctx context.Context, ids []string) (*ProfileDirectory, error) {
	dir, err := loadDirectory(ctx, c.rdb, c.workspace)
	if err != nil {
		return nil, err
	}
	if c.api == nil || (dir != nil && dir.knows(ids)) {
		return dir, nil
	}
	return refreshDirectory(ctx, c.rdb, c.api, c.workspace, c.now())
}

// sourceName is the last part of a source, to name an item in findings.
func sourceName(src string) string {
	s := RedactSource(src)
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(strings.TrimRight(s, "/"), "/"); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// findingsText is findings as one line.
func findingsText(fs []Finding) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Message
		if f.Source != "" {
			parts[i] += " (" + f.Source + ")"
		}
	}
	return strings.Join(parts, "; ")
}

// preflightError is a request that cannot publish: pre-flight's findings,
// which the step's onFailure writes with the error. It is permanent.
type preflightError struct{ facts *Preflight }

func (e *preflightError) Error() string {
	return fmt.Sprintf("pre-flight: the post cannot publish: %d problem(s): %s", len(e.facts.Problems), findingsText(e.facts.Problems))
}

// Unwrap makes it permanent for judge.
func (e *preflightError) Unwrap() error {
	return &PermanentError{Err: errors.New("pre-flight found problems")}
}

// preflightFailed is the pre-flight row's onFailure: the findings are
// written with the error, and a step that gives up fails its pipeline.
func preflightFailed(r *Record, p Payload, err error, gaveUp bool, now time.Time) {
	failPipeline(r, p, err, gaveUp, now)
	var pe *preflightError
	if errors.As(err, &pe) && r.Preflight == nil {
		r.Preflight = pe.facts
	}
}
