package cmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/iostreams"
)

// adoptFixture is an existing repository that has never seen lakeport: two Helm charts (one with
// an image, one without), a Kustomize folder and an origin remote.
func adoptFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"README.md":              "# platform\n",
		"deploy/api/Chart.yaml":  "apiVersion: v2\nname: api\nversion: 1.2.0\n",
		"deploy/api/values.yaml": "replicas: 1\nimage:\n  repository: registry.example/api\n  tag: \"1.0.0\"\nmigrations:\n  image:\n    repository: registry.example/api-migrations\n    tag: \"1.0.0\"\n",
		"deploy/api/templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
		"charts/reports/Chart.yaml":               "apiVersion: v2\nname: reports\nversion: 0.1.0\n",
		"charts/reports/values.yaml":              "schedule: \"0 6 * * *\"\n",
		"charts/reports/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-schedule\ndata:\n  schedule: {{ .Values.schedule | quote }}\n",
		"overlays/base/kustomization.yaml":        "resources: []\n",
	}
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		c := exec.Command("git", args...)
		c.Dir = dir
		c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://git.example.com/platform/lakehouse.git")
	git("add", ".")
	git("commit", "-q", "-m", "charts")
	return dir
}

const threeEnvs = "--env dev=risk-dev@https://kubernetes.default.svc --env staging=risk-staging@https://kubernetes.default.svc --env prod=risk-prod@https://prod.kube.example:6443"

func TestInitGolden(t *testing.T) {
	tests := []struct {
		name, args string
		setup      func(t *testing.T, dir string)
		wantCode   int
	}{
		// Adopts the fixture with its two charts and three environments, and renders it.
		{name: "init", args: threeEnvs + " --kube-version 1.33.0"},
		{name: "init-dry-run", args: "--dry-run --env dev=risk-dev@https://kubernetes.default.svc --chart api=deploy/api --repo-url git@git.example.com:platform/lakehouse.git"},
		{name: "init-exists", args: threeEnvs, wantCode: 2, setup: func(t *testing.T, dir string) {
			if _, _, code := runCmd(t, dir, "init "+threeEnvs, nil); code != 0 {
				t.Fatalf("first init: exit %d", code)
			}
		}},
		{name: "init-force-keeps-values", args: "--force " + threeEnvs, setup: func(t *testing.T, dir string) {
			if _, _, code := runCmd(t, dir, "init "+threeEnvs, nil); code != 0 {
				t.Fatalf("first init: exit %d", code)
			}
			if err := os.WriteFile(filepath.Join(dir, "environments/prod/api.yaml"), []byte("replicas: 3\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "init-unsupported-charts", args: "--env dev=risk-dev@https://kubernetes.default.svc --chart a=oci://registry.example/charts/a --chart b=https://charts.example/b --chart c=overlays/base --chart d=missing --chart e=README.md/..", wantCode: 2},
		{name: "init-bad-options", args: "--repo-url not-a-url --env dev=Risk_Dev@http://x --env dev --chart api", wantCode: 2},
		{name: "init-bad-environment", args: "--repo-url not-a-url --env Dev=risk_dev@http://x --env dev=risk-dev@https://kubernetes.default.svc --env dev=risk-dev@https://kubernetes.default.svc --kube-version one", wantCode: 2},
		{name: "init-no-env", args: "", wantCode: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := adoptFixture(t)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			out, errOut, code := runCmd(t, dir, "init "+tc.args, nil)
			got := fmt.Sprintf("$ lakeport init %s\n--- exit %d\n--- stdout\n%s--- stderr\n%s", tc.args, code, normalize(out, dir, nil), normalize(errOut, dir, nil))
			checkGolden(t, filepath.Join("testdata", tc.name+".golden"), got)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, tc.wantCode, errOut)
			}
		})
	}
}

// The adopted repository is a kit like the bundled one: apps, render and check work on it, and
// the files carry the repository's URL and nothing of the bundled kit's.
func TestInitAdoptsAndRenders(t *testing.T) {
	dir := adoptFixture(t)
	if _, errOut, code := runCmd(t, dir, "init "+threeEnvs, nil); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, errOut)
	}
	for _, f := range []string{"environments/argocd/applicationset.yaml", "environments/argocd/projects.yaml"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "github.com/lakeport") || !strings.Contains(string(raw), "https://git.example.com/platform/lakehouse.git") {
			t.Errorf("%s does not name the adopted repository's URL (and only it)", f)
		}
	}
	settings, _ := os.ReadFile(filepath.Join(dir, "environments/lakeport.yaml"))
	if !strings.Contains(string(settings), "api: [image.tag, migrations.image.tag]") || strings.Contains(string(settings), "reports:") {
		t.Errorf("image pins not found from the charts' values:\n%s", settings)
	}
	out, errOut, code := runCmd(t, dir, "apps", nil)
	if code != 0 {
		t.Fatalf("apps: exit %d\n%s", code, errOut)
	}
	for _, app := range []string{"dev-api", "dev-reports", "staging-api", "staging-reports", "prod-api", "prod-reports"} {
		if !strings.Contains(out, app+" ") {
			t.Errorf("apps does not list %s:\n%s", app, out)
		}
	}
	out, errOut, code = runCmd(t, dir, "render --env prod --app api", nil)
	if code != 0 || !strings.Contains(out, "kind: Deployment") || !strings.Contains(out, "registry.example/api:1.0.0") {
		t.Fatalf("render: exit %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code = runCmd(t, dir, "check", nil); code != 0 {
		t.Errorf("check of the adopted repository: exit %d\n%s\n%s", code, out, errOut)
	}
}

// On a terminal, init asks for the environments.
func TestInitPrompts(t *testing.T) {
	dir := adoptFixture(t)
	io, out, errOut := iostreams.Test(nil)
	io.SetStdinTTY(true)
	io.In = strings.NewReader("dev=risk-dev@https://kubernetes.default.svc\nprod=risk-prod@https://prod.kube.example:6443\n\n")
	code := Run(t.Context(), &Factory{IO: io}, []string{"--repo", dir, "init"})
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "Environments in promotion order") || !strings.Contains(out.String(), "environments/prod/env.yaml") {
		t.Fatalf("no prompt or no prod environment:\n%s\n%s", errOut, out)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "environments/lakeport.yaml"))
	if !strings.Contains(string(raw), "promotion: [dev, prod]") {
		t.Errorf("promotion order not from the answers:\n%s", raw)
	}
}
