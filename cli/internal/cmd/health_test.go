package cmd

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gitopshealth "github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	synccommon "github.com/argoproj/argo-cd/gitops-engine/v3/pkg/sync/common"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	argoclient "github.com/argoproj/argo-cd/v3/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lakeport/lakeport/cli/internal/argoloop"
	"github.com/lakeport/lakeport/cli/internal/testkit"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// The health command's tests need a Kubernetes API with Argo CD's CRDs (no Argo CD: the tests
// write the Applications' status themselves). It starts on first use, once for the package.
var (
	healthOnce       sync.Once
	healthCluster    *argoloop.Cluster
	healthClusterErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	healthCluster.Stop()
	os.Exit(code)
}

func clusterForHealth(t *testing.T) *argoloop.Cluster {
	t.Helper()
	healthOnce.Do(func() {
		if testing.Short() {
			healthClusterErr = testenv.ErrShort
			return
		}
		healthCluster, healthClusterErr = argoloop.StartCluster(testenv.KubeOptions{})
	})
	testenv.NeedServer(t, healthClusterErr)
	return healthCluster
}

// healthCase is one golden run of `lakeport health` against Applications the test writes.
type healthCase struct {
	name string
	args string // <NS>, <V1> and <V2> are replaced
	// apps edits the Applications the fixture kit generates (status as Argo CD writes it) before
	// they are created; returning false leaves one out.
	apps     func(a *argov1.Application, f *testkit.Fixture) bool
	env      map[string]string
	wantCode int
}

// fixed times, so that JSON output is stable.
var (
	hStart    = metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	hFinished = metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC))
	hLater    = metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 45, 0, time.UTC))
)

// syncedAt sets the status Argo CD writes once an Application is Synced and Healthy at revs.
func syncedAt(a *argov1.Application, revs ...string) {
	a.Status.Sync = argov1.SyncStatus{Status: argov1.SyncStatusCodeSynced, Revisions: revs}
	a.Status.Health = argov1.AppHealthStatus{Status: gitopshealth.HealthStatusHealthy}
	a.Status.OperationState = &argov1.OperationState{
		Operation:  argov1.Operation{Sync: &argov1.SyncOperation{Revisions: revs}},
		Phase:      synccommon.OperationSucceeded,
		Message:    "successfully synced (all tasks run)",
		StartedAt:  hStart,
		FinishedAt: &hFinished,
		SyncResult: &argov1.SyncOperationResult{Revisions: revs},
	}
	a.Status.ReconciledAt = &hLater
	a.Status.Resources = []argov1.ResourceStatus{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: a.Spec.Destination.Namespace, Name: workspace.Component(a), Status: argov1.SyncStatusCodeSynced, Health: &argov1.HealthStatus{Status: gitopshealth.HealthStatusHealthy}},
		{Version: "v1", Kind: "Service", Namespace: a.Spec.Destination.Namespace, Name: workspace.Component(a), Status: argov1.SyncStatusCodeSynced, Health: &argov1.HealthStatus{Status: gitopshealth.HealthStatusHealthy}},
	}
}

// degrade makes the Application's Deployment Degraded.
func degrade(a *argov1.Application) {
	a.Status.Health = argov1.AppHealthStatus{Status: gitopshealth.HealthStatusDegraded}
	a.Status.Resources[0].Health = &argov1.HealthStatus{
		Status:  gitopshealth.HealthStatusDegraded,
		Message: `Deployment "` + a.Status.Resources[0].Name + `" exceeded its progress deadline`,
	}
}

// atHead syncs every Application at the fixture's head: dev at V2 for both sources, prod's web
// chart at its V1 pin with values at V2.
func atHead(a *argov1.Application, f *testkit.Fixture) {
	chart := f.V2
	if a.Name == "prod-web" {
		chart = f.V1
	}
	syncedAt(a, chart, f.V2)
}

func TestHealthGolden(t *testing.T) {
	tests := []healthCase{
		{
			name: "health-dev-ready", args: "health --env dev -n <NS>",
			apps: func(a *argov1.Application, f *testkit.Fixture) bool { atHead(a, f); return true },
		},
		{
			name: "health-json", args: "health --env prod -n <NS> -o json --revision <V2>",
			apps: func(a *argov1.Application, f *testkit.Fixture) bool { atHead(a, f); return true },
		},
		{
			name: "health-yaml", args: "health --app web -n <NS> -o yaml",
			apps: func(a *argov1.Application, f *testkit.Fixture) bool { atHead(a, f); return true },
		},
		{
			name: "health-degraded", args: "health -n <NS>",
			apps: func(a *argov1.Application, f *testkit.Fixture) bool {
				atHead(a, f)
				if a.Name == "dev-web" {
					degrade(a)
				}
				return true
			},
			wantCode: CodeNegative,
		},
		{
			name: "health-previous-revision", args: "health --env dev -n <NS> --revision <V2>",
			apps:     func(a *argov1.Application, f *testkit.Fixture) bool { syncedAt(a, f.V1, f.V1); return true },
			wantCode: CodeNegative,
		},
		{
			name: "health-prod-pin", args: "health --env prod -n <NS> --revision HEAD",
			apps: func(a *argov1.Application, f *testkit.Fixture) bool {
				atHead(a, f)
				if a.Name == "prod-web" { // the chart at the values' commit, not at its pin
					syncedAt(a, f.V2, f.V2)
				}
				return true
			},
			wantCode: CodeNegative,
		},
		{
			name: "health-missing", args: "health -n <NS> --revision <V2>",
			apps:     func(a *argov1.Application, f *testkit.Fixture) bool { atHead(a, f); return a.Name != "prod-db" },
			wantCode: CodeNegative,
		},
		{
			name: "health-wait-degraded", args: "health --env dev -n <NS> --wait --revision <V2> --degraded-grace 1s --interval 100ms",
			apps: func(a *argov1.Application, f *testkit.Fixture) bool {
				atHead(a, f)
				if a.Name == "dev-web" {
					degrade(a)
				}
				return true
			},
			wantCode: CodeNegative,
		},
		{
			name: "health-wait-timeout", args: "health --env dev -n <NS> --wait --revision <V2> --timeout 1s --interval 100ms --refresh=false",
			apps:     func(a *argov1.Application, f *testkit.Fixture) bool { syncedAt(a, f.V1, f.V1); return true },
			wantCode: CodeTimeout,
		},
		{
			name: "health-wait-ready", args: "health --env dev -n <NS> --wait --revision <V2> --timeout 30s --interval 100ms",
			apps: func(a *argov1.Application, f *testkit.Fixture) bool { atHead(a, f); return true },
		},
		{
			name: "health-no-apps", args: "health --env dev -n <NS>",
			apps:     func(*argov1.Application, *testkit.Fixture) bool { return false },
			wantCode: CodeError,
		},
		{name: "health-unknown-env", args: "health --env qa -n <NS>", wantCode: CodeError},
		{name: "health-bad-flags", args: "health -o xml --timeout 0 --wait --deep-endpoint trino -n <NS>", wantCode: CodeError},
		{
			name: "health-unreachable", args: "health --env dev", wantCode: CodeError,
			env: map[string]string{"KUBECONFIG": "<UNREACHABLE>"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runHealthGolden(t, tc)
		})
	}
}

func runHealthGolden(t *testing.T, tc healthCase) {
	t.Helper()
	c := clusterForHealth(t)
	f := testkit.NewFixture(t)
	ns := tc.name
	createApps(t, c, f, ns, tc.apps)
	env := map[string]string{"KUBECONFIG": c.Kube.KubeconfigPath}
	for k, v := range tc.env {
		env[k] = v
	}
	if env["KUBECONFIG"] == "<UNREACHABLE>" {
		p := filepath.Join(t.TempDir(), "kubeconfig")
		kc, err := os.ReadFile(c.Kube.KubeconfigPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(kc), c.Kube.URL, "https://127.0.0.1:1", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		env["KUBECONFIG"] = p
	}
	args := strings.NewReplacer("<NS>", ns, "<V1>", f.V1, "<V2>", f.V2).Replace(tc.args)
	out, errOut, code := runCmd(t, f.Dir, args, env)
	norm := func(s string) string {
		s = strings.ReplaceAll(s, c.Kube.URL, "$APISERVER")
		return normalize(s, f.Dir, f)
	}
	got := "$ lakeport " + tc.args + "\n--- exit " + strconv.Itoa(code) + "\n--- stdout\n" + norm(out) + "--- stderr\n" + norm(errOut)
	checkGolden(t, filepath.Join("testdata", tc.name+".golden"), got)
	if code != tc.wantCode {
		t.Errorf("exit code = %d, want %d\nstderr:\n%s", code, tc.wantCode, errOut)
	}
}

// TestHealthDeepGolden: --deep with --deep-endpoint, against stand-ins that speak MinIO's health
// endpoint and the Spark master's JSON (the protocol-level tests of every check, Trino's
// included, are in cli/pkg/health).
func TestHealthDeepGolden(t *testing.T) {
	minio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/minio/health/cluster" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer minio.Close()
	spark := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"status":"ALIVE","aliveworkers":1,"workers":[{"state":"ALIVE"}]}`)
	}))
	defer spark.Close()
	c := clusterForHealth(t)
	f := testkit.NewFixture(t)
	ns := "health-deep"
	ctx := context.Background()
	if _, err := kubernetes.NewForConfigOrDie(c.Config).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := workspace.Open(f.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ac := argoclient.NewForConfigOrDie(c.Config)
	for _, name := range []string{"dev-minio", "dev-spark", "dev-trino"} {
		a := w.Apps[0].DeepCopy()
		for i := range w.Apps {
			if w.Apps[i].Name == "dev-web" {
				a = w.Apps[i].DeepCopy()
			}
		}
		a.Name, a.Namespace = name, ns
		a.Labels["lakeport.dev/component"] = strings.TrimPrefix(name, "dev-")
		atHead(a, f)
		if name == "dev-trino" {
			degrade(a)
		}
		if _, err := ac.ArgoprojV1alpha1().Applications(ns).Create(ctx, a, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	args := "health --env dev -n " + ns + " --deep --deep-endpoint minio=" + minio.URL + " --deep-endpoint spark=" + spark.URL
	out, errOut, code := runCmd(t, f.Dir, args, map[string]string{"KUBECONFIG": c.Kube.KubeconfigPath})
	norm := func(s string) string {
		s = strings.NewReplacer(minio.URL, "$MINIO", spark.URL, "$SPARK").Replace(s)
		return normalize(s, f.Dir, f)
	}
	got := "$ lakeport health --env dev -n " + ns + " --deep --deep-endpoint minio=$MINIO --deep-endpoint spark=$SPARK\n--- exit " + strconv.Itoa(code) + "\n--- stdout\n" + norm(out) + "--- stderr\n" + norm(errOut)
	checkGolden(t, filepath.Join("testdata", "health-deep.golden"), got)
	if code != CodeNegative {
		t.Errorf("exit %d, want 1 (MinIO has no quorum, dev-trino Degraded)", code)
	}
}

// createApps creates namespace ns and in it the Applications the fixture kit generates, as edit
// leaves them (status as Argo CD writes it); edit returning false leaves one out, a nil edit
// creates none.
func createApps(t *testing.T, c *argoloop.Cluster, f *testkit.Fixture, ns string, edit func(a *argov1.Application, f *testkit.Fixture) bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := kubernetes.NewForConfigOrDie(c.Config).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return
	}
	w, err := workspace.Open(f.Dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ac := argoclient.NewForConfigOrDie(c.Config)
	for i := range w.Apps {
		a := w.Apps[i].DeepCopy()
		if !edit(a, f) {
			continue
		}
		a.Namespace = ns
		if _, err := ac.ArgoprojV1alpha1().Applications(ns).Create(ctx, a, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
