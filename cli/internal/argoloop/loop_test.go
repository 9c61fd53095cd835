package argoloop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	argoclient "github.com/argoproj/argo-cd/v3/pkg/client/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lakeport/lakeport/cli/internal/argoloop"
	"github.com/lakeport/lakeport/cli/internal/cmd"
	"github.com/lakeport/lakeport/cli/internal/iostreams"
	"github.com/lakeport/lakeport/hack/testenv"
)

// The loop of this package: started once, in TestMain, inside the test binary's own network
// namespace. No other package starts it.
var (
	loop    *argoloop.Loop
	loopErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// make test-short starts no server: every test here needs the loop.
		loopErr = testenv.ErrShort
		os.Exit(m.Run())
	}
	isolated, err := argoloop.InOwnNetNS()
	if err != nil {
		fmt.Fprintln(os.Stderr, "argoloop:", err)
		os.Exit(2)
	}
	if !isolated {
		fmt.Fprintln(os.Stderr, "argoloop: not root: the loop runs on the host's loopback (Argo CD's controller binds its metrics port on 0.0.0.0)")
	}
	start := time.Now()
	loop, loopErr = argoloop.Start(argoloop.Options{Server: true, Log: os.Stderr})
	if loopErr == nil {
		fmt.Fprintf(os.Stderr, "argoloop: loop started in %s\n", time.Since(start).Round(time.Millisecond))
	}
	code := m.Run()
	loop.Stop()
	os.Exit(code)
}

func needLoop(t *testing.T) *argoloop.Loop {
	t.Helper()
	testenv.NeedServer(t, loopErr)
	return loop
}

// lakeport runs the CLI in-process against the loop: the work clone as the kit, the loop's
// kubeconfig, and env on top.
func lakeport(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	l := needLoop(t)
	full := map[string]string{"KUBECONFIG": l.Kubeconfig, "NO_COLOR": "1"}
	for k, v := range env {
		full[k] = v
	}
	io, out, errOut := iostreams.Test(func(k string) string { return full[k] })
	start := time.Now()
	code := cmd.Main(context.Background(), io, append([]string{"--repo", l.Work}, args...))
	t.Logf("$ lakeport %s  (exit %d in %s)\n%s%s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond), out, errOut)
	return out.String(), errOut.String(), code
}

var (
	devOnce sync.Once
	devCode int
)

// devReady waits, once, for the first convergence of dev: every test that needs a settled dev
// environment starts with it, in whatever order the tests run.
func devReady(t *testing.T) {
	t.Helper()
	needLoop(t)
	devOnce.Do(func() {
		_, _, devCode = lakeport(t, nil, "health", "--env", "dev", "--wait", "--timeout", "10m", "--revision", loop.Head)
	})
	if devCode != 0 {
		dumpCluster(t)
		t.Fatalf("dev never became Synced and Healthy at %s (exit %d)\n--- application controller\n%s", loop.Head, devCode, loop.Logs("argocd-application-controller", 40))
	}
}

// settle waits until dev is Synced and Healthy at the loop's head again (after a test committed).
func settle(t *testing.T) {
	t.Helper()
	if _, _, code := lakeport(t, nil, "health", "--env", "dev", "--wait", "--timeout", "5m", "--revision", loop.Head); code != 0 {
		dumpCluster(t)
		t.Fatalf("dev did not settle at %s (exit %d)", loop.Head, code)
	}
}

// devApps are the Applications the ApplicationSet generates for dev (environments/dev/env.yaml).
func devApps() []string {
	return []string{"dev-minio", "dev-trino", "dev-spark", "dev-distribution", "dev-risk-api", "dev-jupyter"}
}

// TestDevSyncedHealthy: every dev Application the ApplicationSet generates reaches Synced/Healthy
// on simulated nodes with no hand edits, and `lakeport health --env dev` says so with exit 0.
func TestDevSyncedHealthy(t *testing.T) {
	devReady(t)
	out, _, code := lakeport(t, nil, "health", "--env", "dev")
	if code != 0 {
		t.Fatalf("lakeport health --env dev: exit %d", code)
	}
	for _, app := range devApps() {
		if !regexp.MustCompile(`(?m)^` + app + `\s+Synced\s+Healthy\s`).MatchString(out) {
			t.Errorf("%s is not Synced and Healthy in:\n%s", app, out)
		}
	}
	// What the other environments look like in this cluster, for the record: staging has no
	// namespace here and prod's cluster does not exist, so neither is expected to be Healthy.
	lakeport(t, nil, "health", "--env", "staging", "--env", "prod")
}

// TestDiffLiveAfterSync: once Argo CD has synced dev, `lakeport diff --live --env dev` predicts
// that a sync changes nothing: its dry-run prediction of Argo CD's apply (client-side three-way
// patch, tracking annotation) matches what the application controller actually applied.
func TestDiffLiveAfterSync(t *testing.T) {
	devReady(t)
	settle(t)
	out, errOut, code := lakeport(t, nil, "diff", "--live", "--env", "dev", "-o", "json")
	if code != 0 {
		text, _, _ := lakeport(t, nil, "diff", "--live", "--env", "dev")
		t.Fatalf("diff --live after a sync: exit %d, want 0 (no changes)\n%s\n%s", code, errOut, text)
	}
	var doc struct {
		Mode    string
		Summary struct{ Changed bool }
		Apps    []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Mode != "live" || doc.Summary.Changed || len(doc.Apps) != len(devApps()) {
		t.Errorf("mode %q, changed %v, %d apps; want live, false, %d dev apps", doc.Mode, doc.Summary.Changed, len(doc.Apps), len(devApps()))
	}
}

// TestApplicationSetParity: the Applications the real applicationset-controller generated from
// the kit's ApplicationSet are the ones `lakeport apps` expands in-process (repository URL aside).
func TestApplicationSetParity(t *testing.T) {
	l := needLoop(t)
	devReady(t)
	out, _, code := lakeport(t, nil, "apps", "-o", "json")
	if code != 0 {
		t.Fatal("lakeport apps failed")
	}
	var want struct{ Items []argov1.Application }
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatal(err)
	}
	live, err := argoclient.NewForConfigOrDie(l.Config).ArgoprojV1alpha1().Applications(l.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*argov1.Application{}
	for i := range live.Items {
		byName[live.Items[i].Name] = &live.Items[i]
	}
	if len(live.Items) != len(want.Items) {
		t.Errorf("%d live Applications, lakeport apps says %d", len(live.Items), len(want.Items))
	}
	for i := range want.Items {
		w := &want.Items[i]
		got := byName[w.Name]
		if got == nil {
			t.Errorf("%s: not generated by the applicationset-controller", w.Name)
			continue
		}
		spec := w.Spec.DeepCopy()
		for j := range spec.Sources {
			// The URL is rewritten as the harness rewrote the ApplicationSet (a prefix: the
			// $values source spells the same repository with a trailing slash).
			if strings.HasPrefix(spec.Sources[j].RepoURL, l.OriginalURL) {
				spec.Sources[j].RepoURL = l.RepoURL + strings.TrimPrefix(spec.Sources[j].RepoURL, l.OriginalURL)
			}
		}
		if !reflect.DeepEqual(*spec, got.Spec) {
			a, _ := json.Marshal(spec)
			b, _ := json.Marshal(got.Spec)
			t.Errorf("%s: spec differs\nlakeport: %s\nargo cd:  %s", w.Name, a, b)
		}
		for k, v := range w.Labels {
			if got.Labels[k] != v {
				t.Errorf("%s: label %s = %q, lakeport says %q", w.Name, k, got.Labels[k], v)
			}
		}
		for k, v := range w.Annotations {
			if got.Annotations[k] != v {
				t.Errorf("%s: annotation %s = %q, lakeport says %q", w.Name, k, got.Annotations[k], v)
			}
		}
	}
}

// TestRevisionWaitRace: right after a push, Argo CD still reports the previous commit as Synced
// and Healthy. A plain wait believes it (the race); `health --wait --revision <new>` must not
// return before Argo CD synced the new commit, and must then return 0.
func TestRevisionWaitRace(t *testing.T) {
	l := needLoop(t)
	devReady(t)
	settle(t)
	prev := l.Head
	file := "environments/dev/minio.yaml"
	values, err := l.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stamp := fmt.Sprintf("race-%d", time.Now().UnixNano())
	values = regexp.MustCompile(`(?m)^commonLabels:\n(  .*\n)*`).ReplaceAllString(values, "")
	values += "commonLabels:\n  lakeport.dev/loop-change: " + stamp + "\n"
	sha, err := l.Commit(map[string]string{file: values}, "dev: relabel minio ("+stamp+")")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pushed %s on top of %s", sha, prev)

	// The race: a plain wait returns at once, with dev-minio still at the previous commit.
	out, _, code := lakeport(t, nil, "health", "--env", "dev", "--app", "minio", "--wait", "--timeout", "1m", "-o", "json", "--refresh=false")
	if code != 0 {
		t.Fatalf("plain wait: exit %d", code)
	}
	if rev := revisions(t, out, "dev-minio"); !strings.Contains(rev, prev) || strings.Contains(rev, sha) {
		t.Errorf("the plain wait should have returned at the previous commit %s (the race); it saw %s", prev, rev)
	} else {
		t.Logf("plain wait returned Synced/Healthy at the previous commit %s: the race reproduced", short(prev))
	}

	// The revision-aware wait.
	out, _, code = lakeport(t, nil, "health", "--env", "dev", "--wait", "--revision", sha, "--timeout", "5m", "-o", "json")
	if code != 0 {
		dumpCluster(t)
		t.Fatalf("health --wait --revision %s: exit %d", sha, code)
	}
	// When it returned, Argo CD had synced the new commit and reconciled since.
	a, err := argoclient.NewForConfigOrDie(l.Config).ArgoprojV1alpha1().Applications(l.Namespace).Get(context.Background(), "dev-minio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	op := a.Status.OperationState
	if op == nil || op.SyncResult == nil || !contains(op.SyncResult.Revisions, sha) || op.Phase != "Succeeded" {
		t.Errorf("dev-minio's last sync is not at %s: %+v", sha, op)
	} else if !a.Status.ReconciledAt.After(op.FinishedAt.Time) {
		t.Errorf("returned before a reconciliation after the sync: reconciledAt %s, finishedAt %s", a.Status.ReconciledAt, op.FinishedAt)
	}
	if rev := revisions(t, out, "dev-minio"); !strings.Contains(rev, sha) {
		t.Errorf("the report shows %s, want %s", rev, sha)
	}
	var sts struct {
		Metadata struct{ Labels map[string]string }
	}
	kubectlGet(t, "apps/v1", "statefulsets", "risk-dev", "minio", &sts)
	if sts.Metadata.Labels["lakeport.dev/loop-change"] != stamp {
		t.Errorf("the live StatefulSet does not carry the new commit's label: %v", sts.Metadata.Labels)
	}
}

// TestDegradedAfterGrace: a commit that makes a dev Application Degraded (the Trino worker
// autoscaler, which cannot read metrics: this cluster has no metrics API) gives exit 1 once the
// grace period is over, naming the resource. The commit is then reverted.
func TestDegradedAfterGrace(t *testing.T) {
	l := needLoop(t)
	devReady(t)
	file := "environments/dev/trino.yaml"
	orig, err := l.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(orig, "\nworker:\n") {
		t.Fatalf("%s has no worker block", file)
	}
	changed := strings.Replace(orig, "\nworker:\n", "\nworker:\n  autoscaling:\n    enabled: true\n    minReplicas: 1\n    maxReplicas: 2\n", 1)
	sha, err := l.Commit(map[string]string{file: changed}, "dev: autoscale trino workers")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := l.Commit(map[string]string{file: orig}, "dev: revert trino autoscaling"); err != nil {
			t.Error(err)
			return
		}
		settle(t)
	}()
	start := time.Now()
	out, errOut, code := lakeport(t, nil, "health", "--env", "dev", "--app", "trino", "--wait", "--revision", sha, "--timeout", "5m", "--degraded-grace", "20s")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (Degraded past the grace)", code)
	}
	if took := time.Since(start); took < 20*time.Second {
		t.Errorf("gave up after %s, before the 20s grace", took)
	}
	for _, s := range []string{"HorizontalPodAutoscaler.autoscaling risk-dev/trino-worker", "Degraded"} {
		if !strings.Contains(out, s) || !strings.Contains(errOut, s) {
			t.Errorf("the report (stdout and stderr) should name %q", s)
		}
	}
	// The Argo CD API server (resource tree) and the Kubernetes API (live objects assessed with
	// Argo CD's checks) explain it the same way.
	env := map[string]string{"ARGOCD_SERVER": l.ServerAddr(), "ARGOCD_AUTH_TOKEN": l.Token}
	kube, _, _ := lakeport(t, nil, "health", "--env", "dev", "--app", "trino")
	api, _, _ := lakeport(t, env, "health", "--env", "dev", "--app", "trino", "--plaintext")
	if kube != api {
		t.Errorf("the sources explain the Degraded Application differently\n--- Kubernetes API\n%s--- Argo CD API\n%s", kube, api)
	}
}

// TestArgoCDAPISource: the Argo CD API server gives the same table as the Kubernetes API,
// over gRPC and over gRPC-web.
func TestArgoCDAPISource(t *testing.T) {
	l := needLoop(t)
	devReady(t)
	env := map[string]string{"ARGOCD_SERVER": l.ServerAddr(), "ARGOCD_AUTH_TOKEN": l.Token}
	for _, variant := range [][]string{{"--plaintext"}, {"--plaintext", "--grpc-web"}} {
		t.Run(strings.Join(variant, " "), func(t *testing.T) {
			var kube, api string
			// dev (Healthy) and prod (whose cluster does not exist: a stable ComparisonError);
			// staging's sync attempts carry retry timestamps that move between two calls.
			sel := []string{"health", "--env", "dev", "--env", "prod"}
			for attempt := 0; attempt < 3; attempt++ { // statuses may move between the two calls
				var code int
				kube, _, code = lakeport(t, nil, sel...)
				k2, _, _ := lakeport(t, nil, append(sel, "-o", "json")...)
				api, _, code2 := lakeport(t, env, append(sel, variant...)...)
				a2, _, _ := lakeport(t, env, append(append(sel, "-o", "json"), variant...)...)
				if code != code2 {
					t.Logf("exit %d from the Kubernetes API, %d from the Argo CD API", code, code2)
				}
				if kube == api && code == code2 && stripTimes(k2) == stripTimes(a2) {
					return
				}
			}
			t.Errorf("tables differ\n--- Kubernetes API\n%s--- Argo CD API\n%s", kube, api)
		})
	}
	t.Run("bad token", func(t *testing.T) {
		_, errOut, code := lakeport(t, map[string]string{"ARGOCD_SERVER": l.ServerAddr(), "ARGOCD_AUTH_TOKEN": "nope"}, "health", "--plaintext")
		if code != 2 || !strings.Contains(errOut, "Argo CD API server") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
}

// TestExitCodesOnTheLoop: an unreachable API is exit 2 with a clear message; a revision Argo CD
// never syncs (a commit on a branch it does not follow) times out with exit 3.
func TestExitCodesOnTheLoop(t *testing.T) {
	l := needLoop(t)
	devReady(t)
	t.Run("unreachable Argo CD API server", func(t *testing.T) {
		_, errOut, code := lakeport(t, map[string]string{"ARGOCD_SERVER": "127.0.0.1:1"}, "health", "--env", "dev", "--plaintext")
		if code != 2 || !strings.Contains(errOut, "127.0.0.1:1") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		never := strings.Repeat("0", 40)
		_, errOut, code := lakeport(t, nil, "health", "--env", "dev", "--wait", "--revision", never[:12], "--timeout", "5s")
		if code != 3 || !strings.Contains(errOut, "timed out after 5s") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
		_ = l
	})
}

// revisions returns the revisions a JSON report shows for one Application.
func revisions(t *testing.T, report, app string) string {
	t.Helper()
	var r struct {
		Applications []struct {
			Name      string
			Revisions []string
		}
	}
	if err := json.Unmarshal([]byte(report), &r); err != nil {
		t.Fatalf("decode report: %v\n%s", err, report)
	}
	for _, a := range r.Applications {
		if a.Name == app {
			return strings.Join(a.Revisions, ",")
		}
	}
	t.Fatalf("%s not in the report", app)
	return ""
}

var timeField = regexp.MustCompile(`"(reconciledAt|startedAt|finishedAt)": "[^"]*"`)

func stripTimes(s string) string { return timeField.ReplaceAllString(s, `"$1": "-"`) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// kubectlGet reads one object from the loop's control plane into out.
func kubectlGet(t *testing.T, apiVersion, resource, ns, name string, out any) {
	t.Helper()
	prefix := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		prefix = "/api/" + apiVersion
	}
	b, err := loop.Argo.Kube.HTTPClient().Get(loop.Argo.Kube.URL + prefix + "/namespaces/" + ns + "/" + resource + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(b.Body); err != nil {
		t.Fatal(err)
	}
	if b.StatusCode != 200 {
		t.Fatalf("GET %s %s/%s: %d %s", resource, ns, name, b.StatusCode, buf.String())
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		t.Fatal(err)
	}
}

// dumpCluster logs what a failing wait needs: the nodes (conditions, taints) and the pods of the
// environments' namespaces.
func dumpCluster(t *testing.T) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(loop.Config)
	ctx := context.Background()
	var b strings.Builder
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("list nodes: %v", err)
		return
	}
	for _, n := range nodes.Items {
		fmt.Fprintf(&b, "node %s taints=%v\n", n.Name, n.Spec.Taints)
		for _, c := range n.Status.Conditions {
			fmt.Fprintf(&b, "  %s=%s %s (heartbeat %s, transition %s)\n", c.Type, c.Status, c.Reason, c.LastHeartbeatTime.Format(time.RFC3339), c.LastTransitionTime.Format(time.RFC3339))
		}
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, p := range pods.Items {
			ready := "?"
			for _, c := range p.Status.Conditions {
				if c.Type == "Ready" {
					ready = string(c.Status) + " " + c.Reason
				}
			}
			fmt.Fprintf(&b, "pod %s/%s phase=%s ready=%s node=%s ip=%s deleting=%v\n", p.Namespace, p.Name, p.Status.Phase, ready, p.Spec.NodeName, p.Status.PodIP, p.DeletionTimestamp != nil)
		}
	}
	deps, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, d := range deps.Items {
			fmt.Fprintf(&b, "deployment %s/%s gen=%d observed=%d replicas=%d updated=%d ready=%d available=%d\n", d.Namespace, d.Name, d.Generation, d.Status.ObservedGeneration, d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas)
		}
	}
	sts, err := cs.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, d := range sts.Items {
			fmt.Fprintf(&b, "statefulset %s/%s gen=%d observed=%d replicas=%d updated=%d ready=%d current=%s update=%s\n", d.Namespace, d.Name, d.Generation, d.Status.ObservedGeneration, d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.CurrentRevision, d.Status.UpdateRevision)
		}
	}
	t.Logf("cluster state:\n%s--- kwok log\n%s", b.String(), tailFile(loop.Argo.Kube.Dir+"/kwok.log", 30))
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
