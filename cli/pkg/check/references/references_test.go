package references

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/check/envcheck"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

func dump(fs []envcheck.Finding) string {
	var lines []string
	for _, f := range fs {
		lines = append(lines, "  "+string(f.Severity)+" "+f.Rule+" "+f.Message)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func release(t *testing.T, comp, manifest string) *render.Release {
	t.Helper()
	objs, err := render.SplitManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	return &render.Release{App: "dev-" + comp, Environment: "dev", Component: comp, Namespace: "team-dev", ReleaseName: comp, Objects: objs}
}

const deployment = `---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      priorityClassName: system-cluster-critical
      imagePullSecrets: [{name: registry}]
      containers:
        - name: web
          image: web:1
          envFrom:
            - secretRef: {name: web-env}
            - configMapRef: {name: maybe, optional: true}
          env:
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
            - name: MODE
              valueFrom: {configMapKeyRef: {name: web-config, key: mode}}
      volumes:
        - name: conf
          configMap: {name: web-config, items: [{key: app.yaml, path: app.yaml}]}
        - name: data
          persistentVolumeClaim: {claimName: web-data}
        - name: bundle
          projected:
            sources:
              - secret: {name: web-tls}
              - configMap: {name: ca-bundle}
---
# Source: web/templates/statefulset.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache}
spec:
  serviceName: cache-headless
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers: [{name: cache, image: cache:1}]
`

const configMap = `---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {app.yaml: "x: 1"}
`

func TestReferences(t *testing.T) {
	for _, tc := range []struct {
		name     string
		external kit.External
		extra    string
		wants    []string
		count    int
	}{
		{"nothing declared", kit.External{}, "", []string{
			`Deployment/web: spec.template.spec.serviceAccountName references ServiceAccount "web", which is neither rendered in dev nor declared in environments/dev/env.yaml (external.serviceAccounts)`,
			`Deployment/web: spec.template.spec.imagePullSecrets[0].name references Secret "registry"`,
			`Deployment/web: spec.template.spec.containers[0].envFrom[0].secretRef.name references Secret "web-env"`,
			`Deployment/web: spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef references Secret "db"`,
			`Deployment/web: spec.template.spec.volumes[1].persistentVolumeClaim.claimName references PersistentVolumeClaim "web-data"`,
			`Deployment/web: spec.template.spec.volumes[2].projected.sources[0].secret.name references Secret "web-tls"`,
			`Deployment/web: spec.template.spec.volumes[2].projected.sources[1].configMap.name references ConfigMap "ca-bundle"`,
			`StatefulSet/cache: spec.serviceName references Service "cache-headless"`,
			`Deployment/web: spec.template.spec.containers[0].env[1].valueFrom.configMapKeyRef reads key "mode" of ConfigMap "web-config", which the rendered ConfigMap does not hold (keys: app.yaml)`,
		}, 9},
		{"declared external, one unused", kit.External{
			Secrets:                []string{"registry", "web-env", "db", "web-tls", "unused"},
			ConfigMaps:             []string{"ca-bundle"},
			PersistentVolumeClaims: []string{"web-data"},
			ServiceAccounts:        []string{"web"},
			Services:               []string{"cache-headless"},
		}, "", []string{
			`reads key "mode" of ConfigMap "web-config"`,
			`external.secrets[4]: Secret "unused" is declared external in dev but no rendered workload references it`,
		}, 2},
		{"rendered elsewhere in the environment", kit.External{
			Secrets:                []string{"registry", "web-env", "db", "web-tls"},
			ConfigMaps:             []string{"ca-bundle"},
			PersistentVolumeClaims: []string{"web-data"},
		}, "---\n# Source: db/templates/sa.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web}\n---\n# Source: db/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata: {name: cache-headless}\nspec: {ports: [{port: 1}]}\n",
			[]string{`reads key "mode"`}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &kit.Environment{Name: "dev", File: "environments/dev/env.yaml", External: tc.external}
			rels := []*render.Release{release(t, "web", deployment+configMap)}
			if tc.extra != "" {
				rels = append(rels, release(t, "db", tc.extra))
			}
			fs, err := Check{}.Check(context.Background(), envcheck.Input{Environment: env, Releases: rels})
			if err != nil {
				t.Fatal(err)
			}
			got := dump(fs)
			for _, w := range tc.wants {
				if !strings.Contains(got, w) {
					t.Errorf("findings lack %q:\n%s", w, got)
				}
			}
			if len(fs) != tc.count {
				t.Errorf("%d findings, want %d:\n%s", len(fs), tc.count, got)
			}
		})
	}
}

// copyKit copies the kit (charts, environments, policies) into a fresh repository with every
// chart pin floating, so that any edit of a chart shows in every environment.
func copyKit(t *testing.T) *testkit.Repo {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	r := testkit.New(t)
	files := map[string]string{}
	for _, d := range []string{"charts", "environments", "policies"} {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || strings.Contains(p, string(filepath.Separator)+"testdata"+string(filepath.Separator)) {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			files[filepath.ToSlash(rel)] = string(b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	r.Write(files)
	pin := regexp.MustCompile(`(?m)^(\s+revision:) [0-9a-f]{40}$`)
	for _, env := range []string{"staging", "prod"} {
		name := "environments/" + env + "/env.yaml"
		r.Write(map[string]string{name: pin.ReplaceAllString(r.Read(name), "$1 HEAD")})
	}
	return r
}

func checkDev(t *testing.T, dir string) []envcheck.Finding {
	t.Helper()
	w, err := workspace.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	apps, err := w.Select([]string{"dev"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := w.Render(context.Background(), apps)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Check{}.Check(context.Background(), envcheck.Input{Environment: w.Kit.Environment("dev"), Releases: rels})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestRenamedSparkConfigMap is the reviewer's test of issue 11: rename Spark's ConfigMap in its
// chart without its mounts. The render is valid and every policy passed it, yet the three Spark
// workloads would hang in ContainerCreating; here each one is a finding naming the field.
func TestRenamedSparkConfigMap(t *testing.T) {
	r := copyKit(t)
	r.Commit("kit")
	if fs := checkDev(t, r.Dir); len(fs) > 0 {
		t.Fatalf("the kit as it is has findings:\n%s", dump(fs))
	}
	r.Replace("charts/spark/templates/configmap.yaml", `name: {{ include "spark.fullname" . }}-conf`, `name: {{ include "spark.fullname" . }}-config`)
	r.Commit("rename the ConfigMap only")
	fs := checkDev(t, r.Dir)
	got := dump(fs)
	for _, w := range []string{"StatefulSet/spark-master", "StatefulSet/spark-worker", "Deployment/spark-history"} {
		want := w + `: spec.template.spec.volumes[`
		if !strings.Contains(got, want) || !strings.Contains(got, `].configMap.name references ConfigMap "spark-conf", which is neither rendered in dev nor declared in environments/dev/env.yaml (external.configMaps)`) {
			t.Errorf("no dangling ConfigMap finding for %s:\n%s", w, got)
		}
	}
}
