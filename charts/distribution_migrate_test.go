package charts_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
)

// migrationProblems lists what makes a rendered migration run on every Argo CD sync or block
// drift repair (issue 11, item 11): a hook annotation, Argo CD's or Helm's (Argo CD maps
// helm.sh/hook to its own phases: PreSync hooks run on every sync, self-heal included, and a
// failed one fails the sync, argo-cd v3.6.1 docs/user-guide/sync-waves.md); a name that does not
// change with the spec (Argo CD would patch an immutable Job, or never rerun it); a TTL (a Job
// deleted after it finished is recreated by self-heal and runs again).
func migrationProblems(objs []chartrender.Object) (jobs []chartrender.Object, problems []string) {
	for _, o := range objs {
		if o.Kind() != "Job" || o.U.GetLabels()["app.kubernetes.io/component"] != "migrate" {
			continue
		}
		jobs = append(jobs, o)
		for _, k := range []string{"argocd.argoproj.io/hook", "helm.sh/hook"} {
			if v, ok := o.U.GetAnnotations()[k]; ok {
				problems = append(problems, fmt.Sprintf("Job %s is a hook (%s: %s): it runs on every sync and its failure fails the sync", o.Name(), k, v))
			}
		}
		if !strings.HasPrefix(o.Name(), "distribution-migrate-") {
			problems = append(problems, fmt.Sprintf("Job %s: the name does not carry the hash of its spec", o.Name()))
		}
		if spec, _ := o.U.Object["spec"].(map[string]any); spec["ttlSecondsAfterFinished"] != nil {
			problems = append(problems, fmt.Sprintf("Job %s has ttlSecondsAfterFinished: self-heal recreates it after deletion and reruns the migration", o.Name()))
		}
	}
	return jobs, problems
}

// TestMigrationRunsOnlyWhenItChanges: the old dev render (main at b5197db, testdata/old) has a
// PreSync hook; each environment's render now has one plain Job whose name changes with the image
// and the config, and only with what the Job runs.
func TestMigrationRunsOnlyWhenItChanges(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "old", "dev-distribution.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	old, err := chartrender.Split(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if _, p := migrationProblems(old); !strings.Contains(strings.Join(p, "\n"), "is a hook (argocd.argoproj.io/hook: PreSync)") {
		t.Errorf("the old render should be flagged as a PreSync hook; problems: %q", p)
	}

	forEachComponent(t, func(t *testing.T, env chartrender.Env, component string) {
		if component != "distribution" {
			return
		}
		jobs, p := migrationProblems(mustRender(t, chartrender.ForEnv(repoRoot, env, component)))
		if len(jobs) != 1 || len(p) > 0 {
			t.Errorf("%s: %d migration Jobs, problems %q", env.Name, len(jobs), p)
		}
	})

	name := func(values map[string]any) string {
		t.Helper()
		objs := mustRender(t, devRequest(t, "distribution", values))
		jobs, p := migrationProblems(objs)
		if len(jobs) != 1 || len(p) > 0 {
			t.Fatalf("%d migration Jobs, problems %q", len(jobs), p)
		}
		if has(objs, "ConfigMap", "distribution-migrate") {
			t.Error("the hook ConfigMap is still rendered")
		}
		if v := fmt.Sprint(field(t, jobs[0], "spec", "template", "spec", "volumes")); !strings.Contains(v, "name:distribution-config") {
			t.Errorf("the migration does not read the release's ConfigMap: %s", v)
		}
		return jobs[0].Name()
	}
	base := name(nil)
	if again := name(nil); again != base {
		t.Fatalf("two renders name the Job %s and %s", base, again)
	}
	for _, tc := range []struct {
		name    string
		values  map[string]any
		changes bool
	}{
		{"new image (new migrations)", map[string]any{"image": map[string]any{"tag": "0.2.0"}}, true},
		{"new config", map[string]any{"config": map[string]any{"batchRows": 1000}}, true},
		{"new resources", map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "3Gi"}}}, true},
		{"a CronJob schedule only", map[string]any{"schedule": map[string]any{"schedule": "0 3 * * *"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := name(tc.values); (got != base) != tc.changes {
				t.Errorf("Job %s after the change, %s before; want a new name: %v", got, base, tc.changes)
			}
		})
	}
}
