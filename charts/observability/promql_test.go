package observability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/hack/testenv"
	"sigs.k8s.io/yaml"
)

// parseQuery parses expr with Prometheus's own parser (promql/parser, behind the real server's
// /api/v1/parse_query, which returns the syntax tree as JSON).
func parseQuery(ctx context.Context, prom, expr string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, prom+"/api/v1/parse_query",
		strings.NewReader(url.Values{"query": {expr}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string         `json:"status"`
		Error  string         `json:"error"`
		Data   map[string]any `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s", body.Error)
	}
	return body.Data, nil
}

// ast is what the checks need from a syntax tree.
type ast struct {
	names []string // metric names selected
	// constant lists the sub-expressions that select nothing yet stand beside a selector (`or
	// vector(0)`, `or on() 0`): a panel that always shows a value, data or not.
	constant []string
}

// walk collects the selectors and refuses constant fallbacks.
func walk(n any, out *ast) bool {
	m, ok := n.(map[string]any)
	if !ok || m == nil {
		return false
	}
	switch m["type"] {
	case "vectorSelector", "matrixSelector":
		name, _ := m["name"].(string)
		if name == "" {
			if ms, ok := m["matchers"].([]any); ok {
				for _, x := range ms {
					if mm, ok := x.(map[string]any); ok && mm["name"] == "__name__" {
						name, _ = mm["value"].(string)
					}
				}
			}
		}
		out.names = append(out.names, name)
		return true
	case "binaryExpr":
		l, r := walk(m["lhs"], out), walk(m["rhs"], out)
		if m["op"] == "or" && l != r {
			out.constant = append(out.constant, fmt.Sprintf("%v", m["op"]))
		}
		return l || r
	case "call":
		if f, ok := m["func"].(map[string]any); ok {
			switch f["name"] {
			case "vector", "absent", "absent_over_time":
				out.constant = append(out.constant, fmt.Sprintf("%v(...)", f["name"]))
			}
		}
		sel := false
		if args, ok := m["args"].([]any); ok {
			for _, a := range args {
				sel = walk(a, out) || sel
			}
		}
		return sel
	}
	sel := false
	for _, k := range []string{"expr", "param"} {
		sel = walk(m[k], out) || sel
	}
	return sel
}

// grafanaVars are the dashboards' template variables, replaced before parsing as Grafana does.
var grafanaVars = strings.NewReplacer("$namespace", "risk-dev", "${namespace}", "risk-dev",
	"$__rate_interval", "5m", "$__interval", "1m")

type exported struct {
	Sources []string `json:"sources"`
	Metrics []string `json:"metrics"`
}

func loadExported(t testing.TB, component string) map[string]bool {
	t.Helper()
	var e exported
	b, err := os.ReadFile(filepath.Join("exported", component+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Sources) == 0 || len(e.Metrics) == 0 {
		t.Fatalf("exported/%s.yaml: sources and metrics are required", component)
	}
	out := map[string]bool{}
	for _, m := range e.Metrics {
		out[m] = true
	}
	return out
}

type panelExpr struct{ where, expr string }

// dashboardExprs lists every target expression of a chart's dashboard.
func dashboardExprs(t testing.TB, component string) []panelExpr {
	t.Helper()
	path := filepath.Join(repoRoot, "charts", component, "files", "dashboard.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []panelExpr
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", path, p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, panelExpr{fmt.Sprintf("%s panel %q", path, p.Title), grafanaVars.Replace(tg.Expr)})
		}
	}
	return out
}

// ruleExprs lists every expression of a chart's rendered PrometheusRule.
func ruleExprs(t testing.TB, component string) []panelExpr {
	t.Helper()
	var out []panelExpr
	for _, o := range devRender(t, component, alertValues[component]) {
		if o.Kind() != "PrometheusRule" {
			continue
		}
		groups, _ := o.U.Object["spec"].(map[string]any)["groups"].([]any)
		for _, g := range groups {
			rules, _ := g.(map[string]any)["rules"].([]any)
			for _, r := range rules {
				rm := r.(map[string]any)
				out = append(out, panelExpr{fmt.Sprintf("%s PrometheusRule alert %v", component, rm["alert"]), fmt.Sprint(rm["expr"])})
			}
		}
	}
	return out
}

// checkExpr parses one expression and returns its problems.
func checkExpr(ctx context.Context, prom string, e panelExpr, known map[string]bool, dashboard bool) []string {
	tree, err := parseQuery(ctx, prom, e.expr)
	if err != nil {
		return []string{fmt.Sprintf("%s: %q does not parse: %v", e.where, e.expr, err)}
	}
	var a ast
	sel := walk(tree, &a)
	var errs []string
	if dashboard && (!sel || len(a.constant) > 0) {
		errs = append(errs, fmt.Sprintf("%s: %q has a constant fallback or selects nothing (%v): a panel must show data or nothing", e.where, e.expr, a.constant))
	}
	for _, n := range a.names {
		if !known[n] {
			errs = append(errs, fmt.Sprintf("%s: %q names %q, which is not in exported/ (what the component exports)", e.where, e.expr, n))
		}
	}
	return errs
}

// TestDashboardsAndAlertsUseExportedMetrics parses every dashboard panel's and every alert's
// expression with Prometheus's parser and requires each metric it names to be one the component
// exports (exported/<component>.yaml), and no dashboard expression to fall back to a constant.
func TestDashboardsAndAlertsUseExportedMetrics(t *testing.T) {
	prom, err := testenv.StartPrometheus(testenv.PrometheusOptions{})
	testenv.NeedServer(t, err)
	defer prom.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, component := range []string{"distribution", "trino", "spark", "minio"} {
		t.Run(component, func(t *testing.T) {
			known := loadExported(t, component)
			n := 0
			for _, e := range dashboardExprs(t, component) {
				n++
				for _, msg := range checkExpr(ctx, prom.URL, e, known, true) {
					t.Error(msg)
				}
			}
			for _, e := range ruleExprs(t, component) {
				n++
				for _, msg := range checkExpr(ctx, prom.URL, e, known, false) {
					t.Error(msg)
				}
			}
			t.Logf("%s: %d expressions checked", component, n)
		})
	}
}

// TestCheckExprRefuses: the checks fail on the defects they exist for (a name the component does
// not export, the old Trino heap panel's name, a constant fallback, a parse error).
func TestCheckExprRefuses(t *testing.T) {
	prom, err := testenv.StartPrometheus(testenv.PrometheusOptions{})
	testenv.NeedServer(t, err)
	defer prom.Stop()
	ctx := context.Background()
	known := map[string]bool{"lakeport_distribution_rows": true, "java_lang_type_Memory_HeapMemoryUsage_used": true}
	for _, tc := range []struct{ expr, want string }{
		{`sum by (dataset) (lakeport_distribution_rows_total)`, "lakeport_distribution_rows_total"},
		{`java_lang_Memory_HeapMemoryUsage_used{namespace="x"}`, "java_lang_Memory_HeapMemoryUsage_used"},
		{`sum(lakeport_distribution_rows) or vector(0)`, "constant fallback"},
		{`sum(lakeport_distribution_rows) or absent(lakeport_distribution_rows)`, "constant fallback"},
		{`42`, "constant fallback"},
		{`sum(lakeport_distribution_rows`, "does not parse"},
	} {
		errs := checkExpr(ctx, prom.URL, panelExpr{"test", tc.expr}, known, true)
		if !strings.Contains(strings.Join(errs, "\n"), tc.want) {
			t.Errorf("%q: got %q, want a problem naming %q", tc.expr, errs, tc.want)
		}
	}
	if errs := checkExpr(ctx, prom.URL, panelExpr{"test", `sum by (dataset) (rate(lakeport_distribution_rows[5m]))`}, known, true); len(errs) != 0 {
		t.Errorf("a good expression refused: %q", errs)
	}
}
