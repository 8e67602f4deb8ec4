package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// monitoringText is the README's "Monitoring" section.
func monitoringText(t *testing.T) (string, string) {
	t.Helper()
	readme := filepath.Join("..", "README.md")
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Monitoring\n")
	if !ok {
		t.Fatal("README.md has no \"## Monitoring\" section")
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	return readme, section
}

// Alert runbooks point at the Monitoring text by alert name, and operators
// look metrics up there: every alert has its heading and every mediaflow
// metric family is listed.
func TestMonitoringDocCoversAlertsAndMetrics(t *testing.T) {
	t.Parallel()
	path, text := monitoringText(t)
	for _, a := range wantAlerts {
		if !strings.Contains(text, "\n#### "+a+"\n") {
			t.Errorf("%s has no \"#### %s\" heading for the alert's runbook", path, a)
		}
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`(mediaflow_[a-z_]+)`").FindAllStringSubmatch(text, -1) {
		documented[m[1]] = true
	}
	for name := range knownMetrics(t) {
		if !strings.HasPrefix(name, "mediaflow_") {
			continue
		}
		if base, ok := strings.CutSuffix(name, "_bucket"); ok && documented[base] {
			continue
		}
		if base, ok := strings.CutSuffix(name, "_sum"); ok && documented[base] {
			continue
		}
		if base, ok := strings.CutSuffix(name, "_count"); ok && documented[base] {
			continue
		}
		if !documented[name] {
			t.Errorf("%s does not list the metric %s", path, name)
		}
	}
}
