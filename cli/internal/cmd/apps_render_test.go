package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
)

func TestAppsGolden(t *testing.T) {
	runGolden(t, []cmdTestCase{
		{name: "apps-table", args: "apps"},
		{name: "apps-json", args: "apps --env prod -o json"},
		{name: "apps-yaml", args: "apps --app web -o yaml"},
		{name: "apps-unknown-env", args: "apps --env qa", wantCode: 2},
		{name: "apps-bad-output", args: "apps -o xml", wantCode: 2},
		{name: "apps-env-unknown-key", args: "apps", wantCode: 2, setup: func(f *testkit.Fixture) {
			f.Replace("environments/dev/env.yaml", "kubeVersion:", "kubeVerison:")
		}},
		{name: "apps-env-invalid", args: "apps", wantCode: 2, setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod/env.yaml", `wave: "1"`, `wave: "late"`)
			f.Replace("environments/prod/env.yaml", "namespace: team-prod", "namespace: other")
		}},
	})
}

func TestRenderGolden(t *testing.T) {
	runGolden(t, []cmdTestCase{
		{name: "render-dev", args: "render --env dev"},
		{name: "render-prod-web", args: "render --env prod --app web"},
		{name: "render-json", args: "render --env dev --app db -o json"},
		{name: "render-at-revision", args: "render --revision <V2> --app prod-web"},
		{name: "render-unknown-app", args: "render --app spark", wantCode: 2},
		{name: "render-values-yaml-error", args: "render --env dev", wantCode: 2, setup: func(f *testkit.Fixture) {
			f.Replace("environments/dev/web.yaml", "replicas: 1", "replicas: [1")
		}},
		{name: "render-values-schema-error", args: "render --env dev", wantCode: 2, setup: func(f *testkit.Fixture) {
			f.Replace("environments/dev/web.yaml", "replicas: 1", "replica: 1")
		}},
		{name: "render-template-fail", args: "render --env prod --app db", wantCode: 2, setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod/db.yaml", "secretName: db-credentials", `secretName: ""`)
		}},
		{name: "render-missing-pin", args: "render --env prod", wantCode: 2, setup: func(f *testkit.Fixture) {
			f.Replace("environments/prod/env.yaml", f.V1, "0123456789abcdef0123456789abcdef01234567")
		}},
		{name: "render-pin-at-old-revision", args: "render --revision <V1>", wantCode: 2},
	})
}

func TestRenderDir(t *testing.T) {
	f := testkit.NewFixture(t)
	out := filepath.Join(t.TempDir(), "rendered")
	stdout, stderr, code := runCmd(t, f.Dir, "render -o dir="+out, nil)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	for _, name := range []string{"dev/db.yaml", "dev/web.yaml", "prod/db.yaml", "prod/web.yaml", ".lakeport-render"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	web, _ := os.ReadFile(filepath.Join(out, "dev/web.yaml"))
	if !strings.Contains(string(web), "tier: frontend") || !strings.Contains(string(web), "kind: CustomResourceDefinition") {
		t.Errorf("dev/web.yaml lacks the HEAD chart's label or its CRD:\n%s", web)
	}

	// A failing render replaces nothing: the previous output stays whole.
	f.Replace("environments/prod/db.yaml", "secretName: db-credentials", `secretName: ""`)
	_, stderr, code = runCmd(t, f.Dir, "render -o dir="+out, nil)
	if code != 2 || !strings.Contains(stderr, "password.secretName is required") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	again, _ := os.ReadFile(filepath.Join(out, "dev/web.yaml"))
	if string(again) != string(web) {
		t.Error("a failed render changed the output directory")
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("temporary directories left beside the output: %v", entries)
	}

	// A failing render into a new path creates nothing.
	fresh := filepath.Join(t.TempDir(), "new")
	if _, _, code = runCmd(t, f.Dir, "render -o dir="+fresh, nil); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("partial output directory %s exists", fresh)
	}

	// A directory lakeport did not write is never replaced.
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.Replace("environments/prod/db.yaml", `secretName: ""`, "secretName: db-credentials")
	_, stderr, code = runCmd(t, f.Dir, "render -o dir="+foreign, nil)
	if code != 2 || !strings.Contains(stderr, "was not written by lakeport render") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	f := testkit.NewFixture(t)
	out, _, code := runCmd(t, f.Dir, "version -o json", nil)
	if code != 0 || !strings.Contains(out, `"helm": "v3.22.0"`) || !strings.Contains(out, `"argocd": "v3.6.1"`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
