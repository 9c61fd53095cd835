package argoloop_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/pkg/kit"
)

// TestSyncWindowOnTheLoop: a deny window declared in env.yaml (changeControl.syncWindows),
// rendered into the AppProject by `lakeport generate`, stops Argo CD's automated sync: a new
// commit leaves the Application OutOfSync at that commit, and `lakeport health` says it is the
// window; with the window gone, Argo CD syncs it. Argo CD v3.6.1 decides this in
// controller/appcontroller.go (project.Spec.SyncWindows.Matches(app).CanSync(false, nil) before
// autoSync). The loop's one environment on a real cluster is dev (prod's cluster does not exist
// here), so dev plays prod: the AppProject mechanism is the same for every environment.
func TestSyncWindowOnTheLoop(t *testing.T) {
	l := needLoop(t)
	devReady(t)
	settle(t)
	envFile := "environments/dev/env.yaml"
	orig, err := l.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	// A deny window that opened five minutes ago, for an hour (UTC).
	opened := time.Now().UTC().Add(-5 * time.Minute)
	window := fmt.Sprintf(`changeControl:
  syncWindows:
    - kind: deny
      schedule: "%d %d * * *"
      duration: 1h
      timeZone: UTC
      description: loop test publication window
components:`, opened.Minute(), opened.Hour())
	withWindow := strings.Replace(orig, "\ncomponents:", "\n"+window, 1)
	if withWindow == orig {
		t.Fatal("dev env.yaml has no components: key")
	}
	if _, err := l.Commit(map[string]string{envFile: withWindow}, "dev: a deny sync window"); err != nil {
		t.Fatal(err)
	}
	generateAndApply(t)
	defer func() {
		// Leave dev as other tests expect it: no window, synced at the head.
		if _, err := l.Commit(map[string]string{envFile: orig}, "dev: no sync window"); err != nil {
			t.Error(err)
			return
		}
		generateAndApply(t)
		settle(t)
	}()
	ctx := context.Background()
	// The description is a comment in projects.yaml (Argo CD v2.14's CRD has no field for it):
	// the stored window is found by its schedule.
	if proj := appProject(t, ctx, "lakeport-dev"); !strings.Contains(proj, fmt.Sprintf("%d %d * * *", opened.Minute(), opened.Hour())) {
		t.Fatalf("the AppProject does not hold the generated window:\n%s", proj)
	}

	// A new commit for dev-distribution, inside the window.
	file := "environments/dev/distribution.yaml"
	values, err := l.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stamp := fmt.Sprintf("window-%d", time.Now().UnixNano())
	values = regexp.MustCompile(`(?m)^commonLabels:.*\n(  .*\n)*`).ReplaceAllString(values, "")
	values += "commonLabels:\n  lakeport.dev/loop-change: " + stamp + "\n"
	sha, err := l.Commit(map[string]string{file: values}, "dev: relabel distribution ("+stamp+")")
	if err != nil {
		t.Fatal(err)
	}
	// Argo CD compares at the new commit (refresh) but does not sync: the wait times out.
	_, _, code := lakeport(t, nil, "health", "--env", "dev", "--app", "distribution", "--wait", "--refresh", "--revision", sha, "--timeout", "75s")
	if code != 3 {
		t.Fatalf("health --wait inside the deny window: exit %d, want 3 (timed out: never synced)", code)
	}
	var app struct {
		Status struct {
			Sync struct {
				Status    string   `json:"status"`
				Revisions []string `json:"revisions"`
			} `json:"sync"`
		} `json:"status"`
	}
	kubectlGet(t, "argoproj.io/v1alpha1", "applications", "argocd", "dev-distribution", &app)
	if app.Status.Sync.Status != "OutOfSync" || !contains(app.Status.Sync.Revisions, sha) {
		t.Fatalf("dev-distribution inside the window: sync %s at %v, want OutOfSync at %s", app.Status.Sync.Status, app.Status.Sync.Revisions, short(sha))
	}
	out, _, code := lakeport(t, nil, "health", "--env", "dev", "--app", "distribution")
	if code != 1 || !strings.Contains(out, `automated sync blocked: inside deny sync window "loop test publication window"`) || !strings.Contains(out, "Sync windows:") {
		t.Fatalf("health inside the window: exit %d, want 1 and the window named:\n%s", code, out)
	}

	// The window removed (env.yaml, generate, AppProject): Argo CD syncs the commit.
	if _, err := l.Commit(map[string]string{envFile: orig}, "dev: window lifted"); err != nil {
		t.Fatal(err)
	}
	generateAndApply(t)
	if _, _, code := lakeport(t, nil, "health", "--env", "dev", "--app", "distribution", "--wait", "--refresh", "--revision", l.Head, "--timeout", "4m"); code != 0 {
		dumpCluster(t)
		t.Fatalf("health --wait after the window: exit %d, want 0 (synced)", code)
	}
}

// generateAndApply runs `lakeport generate` in the work clone, commits what it wrote and applies
// the kit's AppProjects to the cluster (the loop applies them once at start, as a platform team's
// bootstrap does; Argo CD does not sync them from git).
func generateAndApply(t *testing.T) {
	t.Helper()
	l := needLoop(t)
	if out, errOut, code := lakeport(t, nil, "generate"); code != 0 {
		t.Fatalf("generate: exit %d %s%s", code, out, errOut)
	}
	if _, err := l.Commit(nil, "lakeport generate"); err != nil {
		t.Fatal(err)
	}
	raw, err := l.ReadFile("environments/argocd/projects.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(l.Config)
	res := dyn.Resource(schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}).Namespace("argocd")
	ctx := context.Background()
	for _, doc := range kit.SplitYAML([]byte(raw)) {
		var want unstructured.Unstructured
		if err := sigsyaml.Unmarshal(doc, &want.Object); err != nil {
			t.Fatal(err)
		}
		live, err := res.Get(ctx, want.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("AppProject %s: %v", want.GetName(), err)
		}
		windows, found, _ := unstructured.NestedSlice(want.Object, "spec", "syncWindows")
		if found {
			if err := unstructured.SetNestedSlice(live.Object, windows, "spec", "syncWindows"); err != nil {
				t.Fatal(err)
			}
		} else {
			unstructured.RemoveNestedField(live.Object, "spec", "syncWindows")
		}
		if _, err := res.Update(ctx, live, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update AppProject %s: %v", want.GetName(), err)
		}
	}
}

func appProject(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(needLoop(t).Config)
	p, err := dyn.Resource(schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}).Namespace("argocd").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sigsyaml.Marshal(p.Object)
	return string(b)
}
