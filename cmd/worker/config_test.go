package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/logbuf"
	"github.com/mediaflow/mediaflow/internal/redistest"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/help.golden from -help")

// The table is what -help, the parser and the README are built on: a
// default or bound that does not parse, or a name used twice, is a bug
// before anyone sets the setting.
func TestSettingsTable(t *testing.T) {
	t.Parallel()
	if err := checkSettings(); err != nil {
		t.Fatal(err)
	}
}

// -h and --help print the grouped help on stdout and exit 0, nothing on
// stderr; testdata/help.golden is what a newcomer sees (go test -run
// TestHelp -update rewrites it after a setting is added).
func TestHelp(t *testing.T) {
	t.Parallel()
	golden := filepath.Join("testdata", "help.golden")
	if *updateGolden {
		var b bytes.Buffer
		writeHelp(&b)
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"-h", "--help", "-help"} {
		t.Run(arg, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(workerBin, arg)
			// A broken environment must not hide the help.
			cmd.Env = append(os.Environ(), "CONCURRENCY=many")
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil {
				t.Fatalf("worker %s: %v; stderr %q", arg, err, errOut.String())
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr %q, want nothing", errOut.String())
			}
			if out.String() != string(want) {
				t.Errorf("worker %s differs from %s (go test -run TestHelp -update rewrites it):\n%s", arg, golden, out.String())
			}
		})
	}
	text := string(want)
	for _, s := range settings {
		line := "  -" + s.flag
		if a := s.argName(); a != "" {
			line += " " + a
		}
		if !strings.Contains(text, line+"\n") && !strings.Contains(text, line+"  (") {
			t.Errorf("-help has no line %q", line)
		}
		if s.env != "" && !strings.Contains(text, "("+s.env) {
			t.Errorf("-help does not name %s", s.env)
		}
	}
	last := -1
	for _, title := range append(groupTitles[:], "Examples", "Exit codes") {
		i := strings.Index(text, "\n"+title)
		if i < last {
			t.Errorf("section %q missing or out of order", title)
		}
		last = i
	}
	for _, l := range strings.Split(text, "\n") {
		if len([]rune(l)) > helpWidth {
			t.Errorf("line wider than %d columns: %q", helpWidth, l)
		}
	}
}

// Flags take one dash or two, with the value after a space or an "=";
// a flag beats the environment.
func TestFlagForms(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--concurrency", "4"}, {"--concurrency=4"}, {"-concurrency", "4"}, {"-concurrency=4"},
	} {
		c, err := parseConfig(args, envOf(map[string]string{"CONCURRENCY": "9"}))
		if err != nil || c.Concurrency != 4 {
			t.Errorf("%v: concurrency %v, %v", args, c, err)
		}
	}
	c, err := parseConfig([]string{"--sandbox", "--retention=2h"}, envOf(map[string]string{"RETENTION": "3h"}))
	if err != nil || !c.Sandbox || c.Retention != 2*time.Hour {
		t.Fatalf("--sandbox --retention=2h: %+v, %v", c, err)
	}
	c, err = parseConfig(nil, envOf(map[string]string{"CONCURRENCY": "9", "RETENTION": "3h"}))
	if err != nil || c.Concurrency != 9 || c.Retention != 3*time.Hour {
		t.Fatalf("from the environment: %+v, %v", c, err)
	}
}

// A bad flag is one line that names the flag meant, not the whole usage.
func TestBadFlagIsOneLine(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ args []string }{{[]string{"-v"}}, {[]string{"--concurency", "4"}}, {[]string{"-concurrency", "four"}}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tt.args, envOf(nil), &out, &errOut)
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		if code != 2 || len(lines) != 1 || out.Len() != 0 || !strings.Contains(lines[0], "worker --help") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line pointing at --help", tt.args, code, out.String(), errOut.String())
		}
		if tt.args[0] == "-v" && !strings.Contains(lines[0], "did you mean -version?") {
			t.Errorf("-v: %q does not suggest -version", lines[0])
		}
	}
	if _, err := parseConfig([]string{"-help"}, envOf(nil)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-help: %v", err)
	}
}

// The README's settings table lists every setting with its flag and
// default, so a setting added to the table cannot be missing there.
func TestREADMEListsEverySetting(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		cols := strings.Split(l, "|")
		// Settings rows name the flag in their second column; other
		// tables name variables too.
		if len(cols) < 4 || !strings.HasPrefix(strings.TrimSpace(cols[2]), "`-") {
			continue
		}
		first := cols[1]
		for _, name := range strings.Split(first, ",") {
			rows[strings.Trim(strings.TrimSpace(name), "`")] = l
		}
	}
	for _, s := range settings {
		if s.env == "" {
			continue
		}
		row, ok := rows[s.env]
		switch {
		case !ok:
			t.Errorf("README.md has no settings row for %s", s.env)
		case !strings.Contains(row, "`-"+s.flag+"`"):
			t.Errorf("README.md's row for %s does not name -%s: %s", s.env, s.flag, row)
		case s.def != "" && !strings.Contains(row, "`"+s.def+"`"):
			t.Errorf("README.md's row for %s does not give its default `%s`: %s", s.env, s.def, row)
		}
	}
}

// The start line names every address the worker serves, each of which
// answers, and the MEDIA_ROOT it reads local files from.
func TestStartLineNamesEveryAddress(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	root := t.TempDir()
	p := startRun(t, []string{"--sandbox", "--redis", r.URL, "--concurrency", "4", "--metrics-addr", "127.0.0.1:0",
		"--api-addr", "127.0.0.1:0", "--media-root", root}, map[string]string{"API_TOKENS": "start-line-token"})
	line := waitLine(t, p.errOut, "worker started")
	var got struct {
		Metrics, API, Page, MediaRoot string
		Concurrency                   int
	}
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("start line %q: %v", line, err)
	}
	var fields map[string]any
	_ = json.Unmarshal([]byte(line), &fields)
	got.MediaRoot, _ = fields["media_root"].(string)
	if got.MediaRoot != root || got.Concurrency != 4 {
		t.Errorf("start line %s: want media_root %s and concurrency 4", line, root)
	}
	for _, c := range []struct {
		url, path string
		auth      bool
	}{{got.Metrics, "/metrics", false}, {got.API, "/v1/pipelines", true}, {got.Page, "/ui/", false}} {
		if !strings.HasPrefix(c.url, "http://127.0.0.1:") || !strings.HasSuffix(c.url, c.path) || strings.HasSuffix(c.url, ":0"+c.path) {
			t.Errorf("start line names %q for %s: %s", c.url, c.path, line)
			continue
		}
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		if c.auth {
			req.Header.Set("Authorization", "Bearer start-line-token")
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("GET %s: %v", c.url, err)
			continue
		}
		resp.Body.Close()
		// The page sends a visitor without a session to its login form.
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
			t.Errorf("GET %s: %s", c.url, resp.Status)
		}
	}
}

// A taken port stops the start with a hint, before asynq takes any work
// (it would log "Starting processing").
func TestBusyPortStopsTheStart(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"metrics", map[string]string{"METRICS_ADDR": addr}, "METRICS_ADDR " + addr + " is in use (another worker on this host?): set METRICS_ADDR to a free address"},
		{"api", map[string]string{"METRICS_ADDR": "off", "API_ADDR": addr, "API_TOKENS": "a-token-of-16-chars"}, "API_ADDR " + addr + " is in use (another worker on this host?): set API_ADDR to a free address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"-sandbox", "-redis", r.URL}, envOf(tt.env), &out, &errOut)
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and one line saying %q", code, errOut.String(), tt.want)
			}
		})
	}
}

// waitLine waits for the log line holding msg.
func waitLine(t *testing.T, logs *logbuf.Buffer, msg string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, msg) {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q line:\n%s", msg, logs.String())
	return ""
}

// A workspaces file with something wrong stops the worker with one line
// naming the workspace and the field; without a file, SWONKIE_API_ID and
// SWONKIE_API_KEY are the one workspace "default".
func TestWorkspacesFileIsCheckedAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{"A_KEY": "secret-key-a", "B_KEY": "secret-key-b"}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"duplicate apiId", `{"workspaces": [{"name": "a", "apiId": "same", "apiKeyEnv": "A_KEY"}, {"name": "b", "apiId": "same", "apiKeyEnv": "B_KEY"}]}`, `workspace "b": apiId:`},
		{"missing key", `{"workspaces": [{"name": "a", "apiId": "id-a", "apiKeyEnv": "NO_SUCH_KEY"}]}`, `workspace "a": apiKeyEnv: NO_SUCH_KEY is unset`},
		{"duplicate name", `{"workspaces": [{"name": "a", "apiId": "id-a", "apiKeyEnv": "A_KEY"}, {"name": "a", "apiId": "id-b", "apiKeyEnv": "B_KEY"}]}`, `workspace "a": name:`},
		{"unknown field", `{"workspaces": [{"name": "a", "apiId": "id-a", "apiKeyEnv": "A_KEY", "rate": 5}]}`, `workspace "a": "rate": unknown field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(strings.ReplaceAll(tc.name, " ", "-")+".json", tc.file)
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"-workspaces-file", path}, envOf(env), &out, &errOut)
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line with %q", code, errOut.String(), tc.want)
			}
			if strings.Contains(errOut.String(), "secret-key") {
				t.Fatalf("the error shows a key: %q", errOut.String())
			}
		})
	}

	c, err := parseConfig(nil, envOf(map[string]string{"SWONKIE_API_ID": "id", "SWONKIE_API_KEY": "key", "SWONKIE_BASE_URL": "http://x.test/v2"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Workspaces == nil || len(c.Workspaces.Workspaces) != 1 {
		t.Fatalf("workspaces %+v, want the one of SWONKIE_API_ID", c.Workspaces)
	}
	if w := c.Workspaces.Workspaces[0]; w.Name != "default" || w.APIID != "id" || w.APIKey != "key" || w.BaseURL != "http://x.test/v2" {
		t.Errorf("default workspace %+v", w)
	}
	good := write("good.json", `{"workspaces": [{"name": "a", "apiId": "id-a", "apiKeyEnv": "A_KEY"}]}`)
	if _, err := parseConfig([]string{"-workspaces-file", good}, envOf(map[string]string{"A_KEY": "k", "SWONKIE_API_ID": "id", "SWONKIE_API_KEY": "key"})); err == nil {
		t.Error("a workspaces file and SWONKIE_API_ID together were taken")
	}
	c, err = parseConfig([]string{"-workspaces-file", good}, envOf(map[string]string{"A_KEY": "k", "SWONKIE_BASE_URL": "http://x.test/v2"}))
	if err != nil || c.Workspaces.Workspaces[0].BaseURL != "http://x.test/v2" {
		t.Fatalf("baseUrl from SWONKIE_BASE_URL: %+v, %v", c, err)
	}
}
