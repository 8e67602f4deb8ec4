package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// testWorkspace is one Swonkie workspace a test's worker serves: a sandbox
// of its own, named in the worker's workspaces file.
type testWorkspace struct {
	name string
	opts sandbox.Options
	// rateLimit and rateBurst, when set, are the workspace's own budget;
	// otherwise the worker's SWONKIE_RATE_* settings apply.
	rateLimit float64
	rateBurst int

	sb *sandbox.Running
}

// target is where publishMix sends its pipelines.
func (ws *testWorkspace) target(t *testing.T) target {
	t.Helper()
	return targetOf(t, ws.sb.Server, ws.name)
}

// serveWorkspaces starts each workspace's sandbox and writes the
// workspaces file naming them, and returns the settings a worker needs to
// serve them all (the file, and each key in the environment).
func serveWorkspaces(t *testing.T, wss ...*testWorkspace) (env []string) {
	t.Helper()
	type entry struct {
		Name      string  `json:"name"`
		APIID     string  `json:"apiId"`
		APIKeyEnv string  `json:"apiKeyEnv"`
		BaseURL   string  `json:"baseUrl"`
		RateLimit float64 `json:"rateLimit,omitempty"`
		RateBurst int     `json:"rateBurst,omitempty"`
	}
	var file struct {
		Workspaces []entry `json:"workspaces"`
	}
	for _, ws := range wss {
		ws.sb = sandbox.Start(t, ws.opts)
		keyEnv := "TEST_SWONKIE_KEY_" + ws.name
		file.Workspaces = append(file.Workspaces, entry{Name: ws.name, APIID: ws.opts.APIID, APIKeyEnv: keyEnv,
			BaseURL: ws.sb.BaseURL, RateLimit: ws.rateLimit, RateBurst: ws.rateBurst})
		env = append(env, keyEnv+"="+ws.opts.APIKey)
	}
	raw, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "workspaces.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return append(env, "WORKSPACES_FILE="+path)
}
