package workspaces

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "globex")
	if err := os.WriteFile(keyFile, []byte("globex-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ACME_KEY": "acme-key"}
	getenv := func(k string) string { return env[k] }
	d := Defaults{BaseURL: "https://example.test/v2", RateLimit: 10, RateBurst: 10}
	sum := strings.Repeat("ab", 32)
	good := `{"workspaces": [
	  {"name": "acme", "apiId": "id-a", "apiKeyEnv": "ACME_KEY", "rateLimit": 5, "rateBurst": 6, "maxActive": 50},
	  {"name": "globex", "apiId": "id-g", "apiKeyFile": "` + keyFile + `", "baseUrl": "https://other.test/v2"}],
	 "tokens": [{"name": "cms", "sha256": "` + sum + `", "workspaces": ["acme"]}]}`

	c, err := Parse([]byte(good), getenv, d)
	if err != nil {
		t.Fatalf("good file: %v", err)
	}
	a, _ := c.Get("acme")
	g, _ := c.Get("globex")
	if a.APIKey != "acme-key" || a.BaseURL != d.BaseURL || a.RateLimit != 5 || a.RateBurst != 6 || a.MaxActive != 50 {
		t.Errorf("acme = %+v", a)
	}
	if g.APIKey != "globex-key" || g.BaseURL != "https://other.test/v2" || g.RateLimit != 10 || g.RateBurst != 10 {
		t.Errorf("globex = %+v", g)
	}
	if len(c.Tokens) != 1 || !c.Tokens[0].Allows("acme") || c.Tokens[0].Allows("globex") {
		t.Errorf("tokens = %+v", c.Tokens)
	}

	for _, tc := range []struct {
		name, file string
		want       string // the one line names workspace and field
	}{
		{"missing key", `{"workspaces": [{"name": "acme", "apiId": "a", "apiKeyEnv": "NOPE"}]}`, `workspace "acme": apiKeyEnv: NOPE is unset`},
		{"no key source", `{"workspaces": [{"name": "acme", "apiId": "a"}]}`, `workspace "acme": apiKeyEnv or apiKeyFile: required`},
		{"key file missing", `{"workspaces": [{"name": "acme", "apiId": "a", "apiKeyFile": "/nonexistent/k"}]}`, `workspace "acme": apiKeyFile:`},
		{"duplicate name", `{"workspaces": [{"name": "acme", "apiId": "a", "apiKeyEnv": "ACME_KEY"}, {"name": "acme", "apiId": "b", "apiKeyEnv": "ACME_KEY"}]}`, `workspace "acme": name: used by two`},
		{"duplicate apiId", `{"workspaces": [{"name": "acme", "apiId": "a", "apiKeyEnv": "ACME_KEY"}, {"name": "globex", "apiId": "a", "apiKeyEnv": "ACME_KEY"}]}`, `workspace "globex": apiId: the same as workspace "acme"'s`},
		{"unknown field", `{"workspaces": [{"name": "acme", "apiId": "a", "apiKeyEnv": "ACME_KEY", "apiKey": "secret"}]}`, `workspace "acme": "apiKey": unknown field`},
		{"unknown top field", `{"workspaces": [], "extra": 1}`, `"extra": unknown field`},
		{"unnamed", `{"workspaces": [{"apiId": "a", "apiKeyEnv": "ACME_KEY"}]}`, `workspace #1: name:`},
		{"bad name", `{"workspaces": [{"name": "a b", "apiId": "a", "apiKeyEnv": "ACME_KEY"}]}`, `workspace "a b": name:`},
		{"negative rate", `{"workspaces": [{"name": "acme", "apiId": "a", "apiKeyEnv": "ACME_KEY", "rateLimit": -1}]}`, `workspace "acme": rateLimit:`},
		{"none", `{"workspaces": []}`, `want at least one workspace`},
		{"token unknown workspace", `{"workspaces": [{"name": "acme", "apiId": "a", "apiKeyEnv": "ACME_KEY"}], "tokens": [{"name": "cms", "sha256": "` + sum + `", "workspaces": ["globex"]}]}`, `token "cms": workspaces: no workspace "globex"`},
		{"token bad sum", `{"workspaces": [{"name": "acme", "apiId": "a", "apiKeyEnv": "ACME_KEY"}], "tokens": [{"name": "cms", "sha256": "xyz", "workspaces": ["*"]}]}`, `token "cms": sha256:`},
		{"token unknown field", `{"workspaces": [{"name": "acme", "apiId": "a", "apiKeyEnv": "ACME_KEY"}], "tokens": [{"name": "cms", "token": "plain", "sha256": "` + sum + `", "workspaces": ["*"]}]}`, `token "cms": "token": unknown field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.file), getenv, d)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "acme-key") {
				t.Fatalf("error shows a key: %v", err)
			}
		})
	}
}
