package deploy_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestDashboardIsPortable: the dashboard must work when imported into any
// Grafana, against any Prometheus and job name. Every datasource reference
// (panels, targets, variables) is the $datasource variable; no uid of the
// bundled stack's data source is written anywhere; import has an input to
// map; every query selects on $job.
func TestDashboardIsPortable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(dashboardPath())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "mediaflow-prometheus") {
		t.Error("the dashboard names the bundled data source's uid mediaflow-prometheus")
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}

	// __inputs: what Grafana's import form asks for.
	inputs, _ := d["__inputs"].([]any)
	found := false
	for _, in := range inputs {
		m, _ := in.(map[string]any)
		if m["type"] == "datasource" && m["pluginId"] == "prometheus" && m["name"] == "DS_PROMETHEUS" {
			found = true
		}
	}
	if !found {
		t.Errorf("__inputs %v lacks the Prometheus data source input DS_PROMETHEUS", inputs)
	}

	// The variables.
	vars := map[string]map[string]any{}
	templating, _ := d["templating"].(map[string]any)
	list, _ := templating["list"].([]any)
	for _, v := range list {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		vars[name] = m
	}
	if ds := vars["datasource"]; ds == nil || ds["type"] != "datasource" || ds["query"] != "prometheus" {
		t.Errorf("variable datasource = %v, want type datasource, query prometheus", ds)
	}
	job := vars["job"]
	if job == nil {
		t.Fatal("no job variable")
	}
	cur, _ := job["current"].(map[string]any)
	if v, _ := json.Marshal(cur["value"]); string(v) != `["mediaflow"]` && string(v) != `"mediaflow"` {
		t.Errorf("job variable defaults to %s, want mediaflow", v)
	}
	if job["allValue"] != ".*" {
		t.Errorf("job variable allValue %v, want .* (it is matched with =~)", job["allValue"])
	}

	// Every datasource reference anywhere in the JSON.
	refs := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "datasource" {
					refs++
					ref, ok := x.(map[string]any)
					if !ok || ref["uid"] != "${datasource}" || ref["type"] != "prometheus" {
						t.Errorf("%s.datasource = %v, want {type: prometheus, uid: ${datasource}}", path, x)
					}
					continue
				}
				walk(path+"."+k, x)
			}
		case []any:
			for i, x := range v {
				walk(path+"["+itoa(i)+"]", x)
			}
		}
	}
	for k, v := range d {
		if k == "templating" {
			continue // the datasource variable itself has no datasource
		}
		walk(k, v)
	}
	for name, v := range vars {
		if name == "datasource" {
			continue
		}
		walk("templating."+name, v)
	}
	if refs < 40 {
		t.Errorf("only %d datasource references: every panel, target and query variable should carry one", refs)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
