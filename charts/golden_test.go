package charts_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// TestGolden renders every component of every environment the way Argo CD does and compares
// the output with testdata/golden/<env>/<component>.yaml (regenerate with -update).
func TestGolden(t *testing.T) {
	envs, err := chartrender.Envs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range envs {
		env, err := chartrender.LoadEnv(repoRoot, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range env.Components {
			t.Run(name+"/"+c.Component, func(t *testing.T) {
				out, err := chartrender.Render(chartrender.ForEnv(repoRoot, env, c.Component))
				if err != nil {
					t.Fatal(err)
				}
				again, err := chartrender.Render(chartrender.ForEnv(repoRoot, env, c.Component))
				if err != nil {
					t.Fatal(err)
				}
				if out != again {
					t.Fatal("two renders differ: the chart is not deterministic")
				}
				writeOrCompare(t, filepath.Join("testdata", "golden", name, c.Component+".yaml"), []byte(out))
			})
		}
	}
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
