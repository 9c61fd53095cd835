package charts_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// TestGolden renders every component of every environment the way Argo CD does and compares
// the output with testdata/golden/<env>/<component>.yaml (regenerate with -update).
func TestGolden(t *testing.T) {
	forEachComponent(t, func(t *testing.T, env chartrender.Env, component string) {
		out, err := chartrender.Render(chartrender.ForEnv(repoRoot, env, component))
		if err != nil {
			t.Fatal(err)
		}
		again, err := chartrender.Render(chartrender.ForEnv(repoRoot, env, component))
		if err != nil {
			t.Fatal(err)
		}
		if out != again {
			t.Fatal("two renders differ: the chart is not deterministic")
		}
		for i, line := range strings.Split(out, "\n") {
			if strings.TrimRight(line, " \t") != line {
				t.Errorf("line %d has trailing whitespace: %q", i+1, line)
			}
		}
		writeOrCompare(t, filepath.Join("testdata", "golden", env.Name, component+".yaml"), []byte(out))
	})
}

// TestEnvironmentsCoverAllCharts: every environment has a values file per component it deploys,
// and prod deploys no MinIO (it uses the bank's S3).
func TestEnvironmentsCoverAllCharts(t *testing.T) {
	envs, err := chartrender.Envs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range envs {
		env, err := chartrender.LoadEnv(repoRoot, name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range env.Components {
			got = append(got, c.Component)
		}
		if name == "prod" && slices.Contains(got, "minio") {
			t.Errorf("prod must not deploy minio")
		}
		for _, c := range got {
			if !slices.Contains(components, c) {
				t.Errorf("%s: unknown component %q", name, c)
			}
		}
	}
}

// TestReadmeValuesTable: each chart's README documents every leaf key of its values.yaml.
func TestReadmeValuesTable(t *testing.T) {
	for _, c := range chartDirs {
		t.Run(c, func(t *testing.T) {
			readme, err := os.ReadFile(filepath.Join(c, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(c, "values.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var values map[string]any
			if err := yaml.Unmarshal(raw, &values); err != nil {
				t.Fatal(err)
			}
			for _, key := range leafKeys(values, "") {
				if !strings.Contains(string(readme), "`"+key+"`") {
					t.Errorf("README.md does not document %s", key)
				}
			}
		})
	}
}

// leafKeys lists dotted paths to non-map values and empty maps.
func leafKeys(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !freeForm[prefix+k] {
			out = append(out, leafKeys(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

// freeForm maps are documented as one key (their content is user data, not chart settings).
var freeForm = map[string]bool{"server.logLevels": true, "accessControl.rules": true, "config": true,
	"metrics.grafanaDashboard.labels": true, "application": true}
