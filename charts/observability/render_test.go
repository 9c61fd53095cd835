package observability_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
	"github.com/lakeport/lakeport/hack/testenv"
	"sigs.k8s.io/yaml"
)

const repoRoot = "../.."

// alertValues turn on each chart's alerts (and the scrape they read) over dev's values.
var alertValues = map[string]map[string]any{
	// The nightly pipeline too (workflow mode, staging's), whose failure LakeportPipelineFailed reads.
	"distribution": {
		"alerts":   map[string]any{"enabled": true},
		"cronJobs": map[string]any{"enabled": false},
		"workflow": map[string]any{"enabled": true},
	},
	"trino": {
		"alerts": map[string]any{"enabled": true},
		"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true,
			"basicAuth": map[string]any{"existingSecret": "trino-metrics"}}},
	},
	"spark": {
		"alerts":  map[string]any{"enabled": true},
		"metrics": map[string]any{"podMonitor": map[string]any{"enabled": true}},
	},
	"minio": {
		"alerts":  map[string]any{"enabled": true},
		"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true, "bearerTokenSecret": map[string]any{"name": "minio-metrics"}}},
	},
}

// devRender renders component as Argo CD renders it for dev, with extra values on top.
func devRender(t testing.TB, component string, values map[string]any) []chartrender.Object {
	t.Helper()
	env, err := chartrender.LoadEnv(repoRoot, "dev")
	if err != nil {
		t.Fatal(err)
	}
	req := chartrender.ForEnv(repoRoot, env, component)
	req.Values = values
	out, err := chartrender.Render(req)
	if err != nil {
		t.Fatalf("render %s: %v", component, err)
	}
	objs, err := chartrender.Split(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// ruleFile renders component's PrometheusRule for dev and writes its spec as a Prometheus rule
// file (a PrometheusRule's spec is a rule file's groups:) in dir.
func ruleFile(t testing.TB, dir, component string, values map[string]any) string {
	t.Helper()
	var spec any
	for _, o := range devRender(t, component, values) {
		if o.Kind() == "PrometheusRule" {
			spec = o.U.Object["spec"]
		}
	}
	if spec == nil {
		t.Fatalf("%s renders no PrometheusRule with %v", component, values)
	}
	b, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, component+".rules.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// promtool returns the path of the real promtool (hack/ensure.sh prometheus).
func promtool(t testing.TB) string {
	t.Helper()
	return testenv.Tool(t, "promtool")
}
