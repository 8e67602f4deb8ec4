package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
)

// Query is one PromQL expression of a dashboard panel.
type Query struct {
	Panel string // the panel's title
	RefID string // the target's refId within the panel
	Raw   string // as written, with Grafana variables
	Expr  string // with every variable replaced by Substitutions
}

// Substitutions are the values DashboardQueries gives Grafana's variables:
// "all" for the template variables (their allValue is ".*") and a fixed
// interval for Grafana's own, so the result is PromQL a plain Prometheus
// accepts.
var Substitutions = map[string]string{
	"job":             ".*",
	"instance":        ".*",
	"queue":           ".*",
	"workspace":       ".*",
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "1h",
	"__interval_ms":   "15000",
	"__range_s":       "3600",
}

// Paths of the files this package checks, relative to the deploy folder.
const (
	DashboardFile        = "grafana/dashboards/mediaflow.json"
	PrometheusConfigFile = "prometheus/prometheus.yml"
	AlertRulesFile       = "prometheus/alerts.yml"
	AlertTestsFile       = "prometheus/alerts_test.yml"
)

// TemplateVariables are the dashboard variables every panel may use; the
// deploy tests require the dashboard to define each.
var TemplateVariables = []string{"datasource", "job", "instance", "queue", "workspace"}

// variableRE matches Grafana's three variable syntaxes: $name, ${name} or
// ${name:format}, and [[name]].
var variableRE = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// Substitute replaces every Grafana variable in expr by its value in
// Substitutions. A variable it does not know is an error, so a panel that
// uses an undefined variable cannot slip through.
func Substitute(expr string) (string, error) {
	var unknown []string
	out := variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := variableRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := Substitutions[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown Grafana variable(s) %v in %q", unknown, expr)
	}
	return out, nil
}

type dashboardJSON struct {
	Panels     []panelJSON `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
}

type panelJSON struct {
	Title   string      `json:"title"`
	Type    string      `json:"type"`
	Panels  []panelJSON `json:"panels"` // a collapsed row keeps its panels here
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// DashboardQueries reads a Grafana dashboard JSON file and returns every
// panel target's expression, raw and with variables substituted, in panel
// order.
func DashboardQueries(path string) ([]Query, error) {
	d, err := readDashboard(path)
	if err != nil {
		return nil, err
	}
	var out []Query
	var walk func([]panelJSON) error
	walk = func(panels []panelJSON) error {
		for _, p := range panels {
			for _, t := range p.Targets {
				if t.Expr == "" {
					return fmt.Errorf("%s: panel %q target %s has no expr", path, p.Title, t.RefID)
				}
				expr, err := Substitute(t.Expr)
				if err != nil {
					return fmt.Errorf("%s: panel %q target %s: %w", path, p.Title, t.RefID, err)
				}
				out = append(out, Query{Panel: p.Title, RefID: t.RefID, Raw: t.Expr, Expr: expr})
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	return out, nil
}

// DashboardVariables returns the names of a dashboard's template variables,
// sorted.
func DashboardVariables(path string) ([]string, error) {
	d, err := readDashboard(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(d.Templating.List))
	for _, v := range d.Templating.List {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return names, nil
}

func readDashboard(path string) (*dashboardJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboardJSON
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}
