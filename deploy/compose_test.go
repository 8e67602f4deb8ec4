package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads ../docker-compose.yml with compose-go, the loader the
// docker compose CLI itself is built on: it interpolates variables,
// validates against the Compose schema and normalises, as `docker compose
// config` does. No Docker engine or compose plugin runs here, so this is
// what stands in for `docker compose config`.
//
// Only env is visible to interpolation (not the test's environment), so
// the result does not depend on who runs the test.
func loadCompose(t *testing.T, env []string, profiles ...string) (*types.Project, error) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env),
		cli.WithProfiles(profiles),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func TestComposeRequiresGrafanaPassword(t *testing.T) {
	t.Parallel()
	_, err := loadCompose(t, nil)
	if err == nil || !strings.Contains(err.Error(), "GRAFANA_ADMIN_PASSWORD") {
		t.Fatalf("loading without GRAFANA_ADMIN_PASSWORD: err = %v, want one naming the variable", err)
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	env := []string{"GRAFANA_ADMIN_PASSWORD=s3cret-test", "SWONKIE_API_ID=demo", "SWONKIE_API_KEY=demo"}

	t.Run("default profile", func(t *testing.T) {
		t.Parallel()
		p, err := loadCompose(t, env)
		if err != nil {
			t.Fatalf("docker-compose.yml does not load: %v", err)
		}
		if p.Name != "mediaflow" {
			t.Errorf("project name %q, want mediaflow", p.Name)
		}
		names := p.ServiceNames()
		slices.Sort(names)
		if want := []string{"asynqmon", "grafana", "prometheus", "redis", "worker"}; !slices.Equal(names, want) {
			t.Errorf("services %v, want %v (swonkie-sandbox only under --profile sandbox)", names, want)
		}
		checkServices(t, p)
	})

	t.Run("sandbox profile", func(t *testing.T) {
		t.Parallel()
		p, err := loadCompose(t, append(env, "SWONKIE_BASE_URL=http://swonkie-sandbox:8090/v2"), "sandbox")
		if err != nil {
			t.Fatalf("docker-compose.yml does not load with --profile sandbox: %v", err)
		}
		sb, err := p.GetService("swonkie-sandbox")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := []string(sb.Command), []string{"swonkie-sandbox", "-addr", ":8090", "-api-id", "demo", "-api-key", "demo"}; !slices.Equal(got, want) {
			t.Errorf("sandbox command %q, want %q", got, want)
		}
		w, _ := p.GetService("worker")
		if sb.Image != w.Image {
			t.Errorf("sandbox image %q, want the worker's %q", sb.Image, w.Image)
		}
		if got := env1(w, "SWONKIE_BASE_URL"); got != "http://swonkie-sandbox:8090/v2" {
			t.Errorf("worker SWONKIE_BASE_URL = %q, want the sandbox's", got)
		}
	})
}

// workerEnvVars reads the environment variables the worker knows from
// cmd/worker/config.go, whose settings table names each as env: "NAME"
// (a few are still read as env("NAME", …)).
func workerEnvVars(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "cmd", "worker", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, m := range regexp.MustCompile(`\benv(?:Int|Float|Dur)?(?:\(|: )"([A-Z0-9_]+)"`).FindAllStringSubmatch(string(b), -1) {
		vars[m[1]] = true
	}
	// The OTEL_* variables, which tracingsdk reads for it (as get("NAME")).
	b, err = os.ReadFile(filepath.Join("..", "tracing", "tracingsdk", "env.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\bget\("(OTEL_[A-Z0-9_]+)"\)`).FindAllStringSubmatch(string(b), -1) {
		vars[m[1]] = true
	}
	for _, must := range []string{"REDIS_URL", "SWONKIE_BASE_URL", "SWONKIE_API_ID", "SWONKIE_API_KEY", "METRICS_ADDR"} {
		if !vars[must] {
			t.Fatalf("cmd/worker/config.go does not read %s (found %v): has the way it reads the environment changed?", must, vars)
		}
	}
	return vars
}

// Every variable compose, the Dockerfile and .env.example hand the worker
// is one it reads: a misspelt name would be silently ignored.
func TestWorkerEnvironmentNamesAreKnown(t *testing.T) {
	t.Parallel()
	known := workerEnvVars(t)
	p, err := loadCompose(t, []string{"GRAFANA_ADMIN_PASSWORD=x"})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := p.GetService("worker")
	for key := range w.Environment {
		if !known[key] {
			t.Errorf("docker-compose.yml gives the worker %s, which cmd/worker/config.go does not read", key)
		}
	}

	df, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(df), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.EqualFold(f[0], "ENV") {
			continue
		}
		for _, kv := range f[1:] {
			if key, _, _ := strings.Cut(kv, "="); !known[key] {
				t.Errorf("Dockerfile sets ENV %s, which the worker does not read", key)
			}
		}
	}

	// .env.example: worker variables, plus the few only compose reads.
	composeOnly := map[string]bool{"GRAFANA_ADMIN_PASSWORD": true, "MEDIA_DIR": true}
	ex, err := os.ReadFile(filepath.Join("..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^#?\s*([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(string(ex), -1) {
		if key := m[1]; !known[key] && !composeOnly[key] {
			t.Errorf(".env.example sets %s, which neither the worker nor docker-compose.yml reads", key)
		}
	}
}

// The services built from the Dockerfile run a binary it builds: one of
// ./cmd/..., installed under its folder's name.
func TestComposeCommandsAreBuiltBinaries(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, []string{"GRAFANA_ADMIN_PASSWORD=x"}, "sandbox")
	if err != nil {
		t.Fatal(err)
	}
	w, _ := p.GetService("worker")
	n := 0
	for _, s := range p.Services {
		if s.Image != w.Image {
			continue
		}
		n++
		if len(s.Command) == 0 {
			t.Errorf("%s has no command: it would run the image's CMD by accident", s.Name)
			continue
		}
		if _, err := os.Stat(filepath.Join("..", "cmd", s.Command[0], "main.go")); err != nil {
			t.Errorf("%s runs %q, which is not a command under ./cmd", s.Name, s.Command[0])
		}
	}
	if n < 2 {
		t.Errorf("%d services run the mediaflow image, want the worker and the sandbox", n)
	}
}

func env1(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

func checkServices(t *testing.T, p *types.Project) {
	t.Helper()
	root, _ := filepath.Abs("..")

	redis, _ := p.GetService("redis")
	if !strings.HasPrefix(redis.Image, "redis:7.") {
		t.Errorf("redis image %q, want redis 7 (asynq needs >= 6.2)", redis.Image)
	}
	if cmd := strings.Join(redis.Command, " "); !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("redis command %q does not turn appendonly on", cmd)
	}
	if !hasVolume(redis, types.VolumeTypeVolume, "redis-data", "/data") {
		t.Errorf("redis does not keep /data on the named volume redis-data: %+v", redis.Volumes)
	}

	w, _ := p.GetService("worker")
	if w.Build == nil || w.Build.Context != root || filepath.Base(w.Build.Dockerfile) != "Dockerfile" {
		t.Errorf("worker build %+v, want the repository's Dockerfile", w.Build)
	}
	if !w.ReadOnly {
		t.Error("worker root filesystem is not read-only")
	}
	if !slices.Contains([]string(w.Tmpfs), "/tmp") {
		t.Errorf("worker tmpfs %v lacks /tmp for spooling", w.Tmpfs)
	}
	for _, key := range []string{"REDIS_URL", "SWONKIE_BASE_URL", "SWONKIE_API_ID", "SWONKIE_API_KEY", "METRICS_ADDR", "API_ADDR", "API_TOKENS", "LOG_FORMAT"} {
		if _, ok := w.Environment[key]; !ok {
			t.Errorf("worker environment lacks %s", key)
		}
	}
	if got := env1(w, "METRICS_ADDR"); got != ":9400" {
		t.Errorf("worker METRICS_ADDR = %q, want :9400 (prometheus.yml scrapes worker:9400)", got)
	}
	// The worker refuses to start its enqueue API without a token, so the
	// API must stay off unless both are given.
	if got := env1(w, "API_ADDR"); got != "" && env1(w, "API_TOKENS") == "" {
		t.Errorf("worker API_ADDR = %q without API_TOKENS: the worker would refuse to start", got)
	}
	if got := env1(w, "REDIS_URL"); got != "redis://redis:6379/0" {
		t.Errorf("worker REDIS_URL = %q, want the stack's redis by default", got)
	}
	// The worker's shutdown takes up to SHUTDOWN_TIMEOUT (30s by default)
	// plus 5s for its HTTP servers; compose must not SIGKILL it sooner.
	if w.StopGracePeriod == nil || time.Duration(*w.StopGracePeriod) < 35*time.Second {
		t.Errorf("worker stop_grace_period %v, want at least 35s (the worker's default SHUTDOWN_TIMEOUT 30s + 5s)", w.StopGracePeriod)
	}
	if w.HealthCheck == nil || !strings.Contains(strings.Join(w.HealthCheck.Test, " "), ":9400/readyz") {
		t.Errorf("worker healthcheck %+v does not probe /readyz on the metrics port", w.HealthCheck)
	}

	prom, _ := p.GetService("prometheus")
	if !hasVolume(prom, types.VolumeTypeBind, filepath.Join(root, "deploy", "prometheus"), "/etc/prometheus") {
		t.Errorf("prometheus does not mount deploy/prometheus at /etc/prometheus: %+v", prom.Volumes)
	}
	if !slices.Contains([]string(prom.Command), "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("prometheus command %q does not load deploy/prometheus/prometheus.yml", prom.Command)
	}

	g, _ := p.GetService("grafana")
	if got := env1(g, "GF_SECURITY_ADMIN_PASSWORD"); got != "s3cret-test" {
		t.Errorf("grafana admin password %q, want GRAFANA_ADMIN_PASSWORD's value", got)
	}
	if got := env1(g, "GF_AUTH_ANONYMOUS_ENABLED"); got != "false" {
		t.Errorf("grafana anonymous access %q, want false", got)
	}
	for src, dst := range map[string]string{
		filepath.Join(root, "deploy", "grafana", "provisioning"): "/etc/grafana/provisioning",
		filepath.Join(root, "deploy", "grafana", "dashboards"):   "/etc/grafana/dashboards",
	} {
		if !hasVolume(g, types.VolumeTypeBind, src, dst) {
			t.Errorf("grafana does not mount %s at %s", src, dst)
		}
	}

	a, _ := p.GetService("asynqmon")
	if a.Build == nil || a.Build.Context != filepath.Join(root, "deploy", "asynqmon") {
		t.Errorf("asynqmon build %+v, want deploy/asynqmon (hibiken/asynqmon on a base with wget)", a.Build)
	} else if df, err := os.ReadFile(filepath.Join(a.Build.Context, "Dockerfile")); err != nil || !strings.Contains(string(df), "FROM hibiken/asynqmon:0.7.2 ") {
		t.Errorf("deploy/asynqmon/Dockerfile does not build on hibiken/asynqmon:0.7.2 (%v)", err)
	}
	// No login: it must not be able to change anything, and its Metrics
	// page needs Prometheus.
	if cmd := []string(a.Command); !slices.Contains(cmd, "--read-only") || !slices.Contains(cmd, "--prometheus-addr=http://prometheus:9090") {
		t.Errorf("asynqmon command %q, want --read-only and --prometheus-addr=http://prometheus:9090", cmd)
	}
	if got := env1(a, "READ_ONLY"); got != "true" {
		t.Errorf("asynqmon READ_ONLY = %q, want true", got)
	}
	if got := env1(a, "PROMETHEUS_ADDR"); got != "http://prometheus:9090" {
		t.Errorf("asynqmon PROMETHEUS_ADDR = %q, want http://prometheus:9090", got)
	}
	if got := env1(w, "METRICS_ADDR"); got != ":9400" {
		t.Errorf("worker METRICS_ADDR = %q: the binary's default listens on 127.0.0.1 only, which Prometheus in another container cannot reach", got)
	}
	if got, want := env1(a, "REDIS_URL"), env1(w, "REDIS_URL"); got != want {
		t.Errorf("asynqmon REDIS_URL %q, want the worker's %q", got, want)
	}

	// Every bind mount from the repository must exist in it.
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind || !strings.HasPrefix(v.Source, filepath.Join(root, "deploy")) {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s: %v", s.Name, v.Source, err)
			}
		}
	}
}

func hasVolume(s types.ServiceConfig, typ, source, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == typ && v.Source == source && v.Target == target {
			return true
		}
	}
	return false
}

// The Dockerfile is checked as text: there is no Docker here to build it.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	var froms, users []string
	for _, line := range strings.Split(df, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			froms = append(froms, line)
		}
		if len(f) >= 2 && strings.EqualFold(f[0], "ENV") && strings.Contains(line, "API_ADDR") {
			t.Error("Dockerfile sets API_ADDR: the worker would refuse to start without API_TOKENS, which the image cannot carry")
		}
		if len(f) >= 2 && strings.EqualFold(f[0], "USER") {
			users = append(users, f[1])
		}
	}
	if len(froms) < 2 {
		t.Errorf("Dockerfile has %d stages, want a multi-stage build", len(froms))
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/...", "COPY --from=build"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if len(users) == 0 {
		t.Fatal("Dockerfile sets no USER: the final image would run as root")
	}
	if u := strings.Split(users[len(users)-1], ":")[0]; u == "root" || u == "0" {
		t.Errorf("final USER is %s, want non-root", u)
	}
}

// exactTagRE is a tag naming one release: major.minor.patch, optionally v
// first and a variant after (7.4.2-bookworm, v2.53.0, 0.7.2).
var exactTagRE = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$`)

func exactImage(ref string) bool {
	i := strings.LastIndex(ref, ":")
	return i > 0 && !strings.Contains(ref[i:], "/") && exactTagRE.MatchString(ref[i+1:])
}

func TestExactTag(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string]bool{
		"redis:7.4.2-bookworm": true, "prom/prometheus:v2.53.0": true, "hibiken/asynqmon:0.7.2": true,
		"redis:7": false, "golang:1.26-bookworm": false, "alpine:3.22": false, "redis": false, "grafana/grafana:latest": false,
		"localhost:5000/x": false,
	} {
		if got := exactImage(ref); got != want {
			t.Errorf("exactImage(%q) = %v, want %v", ref, got, want)
		}
	}
}

// Every image compose pulls, and every base the Dockerfiles build on, is
// one exact release: a floating tag changes under a rebuild without a
// commit saying so. Every service has a healthcheck.
func TestComposePinsAndHealthchecks(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("..")
	p, err := loadCompose(t, []string{"GRAFANA_ADMIN_PASSWORD=x"}, "sandbox")
	if err != nil {
		t.Fatal(err)
	}
	dockerfiles := map[string]bool{}
	for _, s := range p.Services {
		if s.Build != nil {
			dockerfiles[filepath.Join(s.Build.Context, cmpOr(s.Build.Dockerfile, "Dockerfile"))] = true
		} else if !exactImage(s.Image) {
			t.Errorf("%s uses image %q, not an exact release (want e.g. name:1.2.3)", s.Name, s.Image)
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
			t.Errorf("%s has no healthcheck (or not an exec-form CMD one): %+v", s.Name, hc)
		}
	}
	if !dockerfiles[filepath.Join(root, "Dockerfile")] || !dockerfiles[filepath.Join(root, "deploy", "asynqmon", "Dockerfile")] {
		t.Errorf("built services use %v, want the repository's Dockerfile and deploy/asynqmon/Dockerfile", dockerfiles)
	}
	for path := range dockerfiles {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && strings.EqualFold(f[0], "FROM") && !exactImage(f[1]) {
				t.Errorf("%s: %q is not an exact release", path, line)
			}
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	if filepath.IsAbs(s) {
		return filepath.Base(s)
	}
	return s
}

// Every binary carries the version and commit it was built from, and the
// image says the same in OCI labels.
func TestDockerfileVersionAndLabels(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"-X github.com/mediaflow/mediaflow/internal/version.Version=${VERSION}",
		"-X github.com/mediaflow/mediaflow/internal/version.Commit=${COMMIT}",
		`org.opencontainers.image.version="${VERSION}"`,
		`org.opencontainers.image.revision="${COMMIT}"`,
		"org.opencontainers.image.title=",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	if strings.Contains(df, "main.version") {
		t.Error("Dockerfile still sets main.version, which only one binary had")
	}
	mk, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"internal/version.Version=$(VERSION)", "internal/version.Commit=$(COMMIT)", "build:"} {
		if !strings.Contains(string(mk), want) {
			t.Errorf("Makefile lacks %s", want)
		}
	}
}
