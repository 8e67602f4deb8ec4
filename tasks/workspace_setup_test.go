package tasks

import (
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// secondName is the second workspace of tests that run two.
const secondName = "second"

// secondWorkspace is a second Swonkie workspace, on a sandbox of its own.
type secondWorkspace struct {
	sb       *sandbox.Running
	api      *swonkie.Client
	opts     sandbox.Options
	profiles []string
}

// withSecondWorkspace makes the worker serve a second workspace,
// secondName, beside DefaultWorkspace.
func withSecondWorkspace(c *setupConfig) {
	c.second = &sandbox.Options{
		APIID: "second-app-id-77aa", APIKey: "second-secret-key-3b9d01", Seed: 8,
		ProcessingDelay: 300 * time.Millisecond, PublishDelay: 300 * time.Millisecond,
	}
}

func (b *bundle) startSecond(o sandbox.Options, cfg setupConfig) *secondWorkspace {
	b.t.Helper()
	s := &secondWorkspace{sb: sandbox.Start(b.t, o), opts: o}
	var err error
	s.api, err = swonkie.New(swonkie.Config{BaseURL: s.sb.BaseURL, APIID: o.APIID, APIKey: o.APIKey, RateLimit: 1000, Burst: 100,
		MaxConns: cfg.concurrency, Instrument: b.metrics.InstrumentTransport, TracerProvider: cfg.tracing})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, p := range s.sb.Server.Profiles() {
		if p.StatusLevel == swonkie.StatusOK {
			s.profiles = append(s.profiles, p.ID)
		}
	}
	return s
}

// workspaces is what the worker serves: nil (API alone) without a second.
func (b *bundle) workspaces() map[string]*swonkie.Client {
	if b.second == nil {
		return nil
	}
	return map[string]*swonkie.Client{DefaultWorkspace: b.api, secondName: b.second.api}
}

// inSecond turns a request of b.request into one for the second
// workspace.
func (b *bundle) inSecond(r Request) Request {
	r.Workspace = secondName
	if r.Post != nil {
		r.Post.ProfileIDs = b.second.profiles[:len(r.Post.ProfileIDs)]
	}
	return r
}
