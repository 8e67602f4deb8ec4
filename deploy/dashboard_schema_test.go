package deploy_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/mediaflow/mediaflow/deploy"
)

// TestDashboardSchema decodes the dashboard with the Grafana Foundation
// SDK's generated types, in strict mode: a field the schema does not know,
// a value of the wrong type or panel options that do not fit the panel
// plugin are errors, as they would be silently dropped or reset by Grafana
// on provisioning. Every target must decode as a Prometheus query.
//
// __inputs and __requires are import metadata that Grafana strips before
// it stores a dashboard; the schema has no place for them.
func TestDashboardSchema(t *testing.T) {
	t.Parallel()
	plugins.RegisterDefaultPlugins()
	raw, err := os.ReadFile(dashboardPath())
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	delete(fields, "__inputs")
	delete(fields, "__requires")
	stripped, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 dashboardv2 is Grafana 12's new format; the stack runs Grafana 11.5, whose provisioning reads this (v1) schema.
	var d dashboard.Dashboard
	if err := sdkErr(d.UnmarshalJSONStrict(stripped)); err != nil {
		t.Fatalf("the dashboard does not fit Grafana's schema:\n%s", strings.ReplaceAll(err.Error(), "; ", "\n"))
	}
	if err := sdkErr(d.Validate()); err != nil {
		t.Errorf("the dashboard fails Grafana's schema validation: %v", err)
	}

	// Each panel again on its own: the SDK's PanelOrRowPanel drops a panel
	// that decoded cleanly (the quirk sdkErr undoes), so d.Panels holds no
	// panel to look into.
	var rawDash struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(stripped, &rawDash); err != nil {
		t.Fatal(err)
	}
	ids := map[uint32]string{}
	targets := 0
	for i, rp := range rawDash.Panels {
		var kind struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(rp, &kind); err != nil {
			t.Fatal(err)
		}
		if kind.Type == "row" {
			var row dashboard.RowPanel
			if err := sdkErr(row.UnmarshalJSONStrict(rp)); err != nil {
				t.Errorf("panels[%d] (row): %v", i, err)
			}
			continue
		}
		p := &dashboard.Panel{}
		if err := sdkErr(p.UnmarshalJSONStrict(rp)); err != nil {
			t.Errorf("panels[%d]: %v", i, err)
			continue
		}
		title := ""
		if p.Title != nil {
			title = *p.Title
		}
		if p.Id == nil {
			t.Errorf("panel %q has no id", title)
		} else if other, dup := ids[*p.Id]; dup {
			t.Errorf("panels %q and %q share id %d", title, other, *p.Id)
		} else {
			ids[*p.Id] = title
		}
		if p.GridPos == nil {
			t.Errorf("panel %q has no gridPos", title)
		}
		if p.Datasource == nil || p.Datasource.Uid == nil || *p.Datasource.Uid != "${datasource}" {
			t.Errorf("panel %q datasource %+v, want the ${datasource} variable", title, p.Datasource)
		}
		// Targets one by one too: the SDK's strict decoding of a panel
		// drops a target that decoded cleanly, by the same quirk.
		var rawPanel struct {
			Targets []json.RawMessage `json:"targets"`
		}
		if err := json.Unmarshal(rp, &rawPanel); err != nil {
			t.Fatal(err)
		}
		if len(rawPanel.Targets) == 0 {
			t.Errorf("panel %q has no targets", title)
		}
		for j, rt := range rawPanel.Targets {
			var q prometheus.Dataquery
			if err := sdkErr(q.UnmarshalJSONStrict(rt)); err != nil {
				t.Errorf("panel %q targets[%d] is not a Prometheus query as Grafana's schema has it: %v", title, j, err)
				continue
			}
			targets++
			if q.Expr == "" {
				t.Errorf("panel %q target %v has no expr", title, q.RefId)
			}
			if q.Datasource == nil || q.Datasource.Uid == nil || *q.Datasource.Uid != "${datasource}" {
				t.Errorf("panel %q target %v: datasource %+v, want the ${datasource} variable", title, q.RefId, q.Datasource)
			}
		}
	}
	if targets < 20 {
		t.Errorf("the SDK decodes only %d Prometheus targets", targets)
	}
	queries, err := deploy.DashboardQueries(dashboardPath())
	if err != nil {
		t.Fatal(err)
	}
	if targets != len(queries) {
		t.Errorf("the SDK decodes %d Prometheus targets, the dashboard has %d expressions", targets, len(queries))
	}
}

// sdkErr undoes a quirk of the SDK (v0.0.22): it returns an empty
// cog.BuildErrors as a non-nil error when nothing went wrong.
func sdkErr(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}
