package argoloop_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gitopshealth "github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/cli/internal/argoloop"
	"github.com/lakeport/lakeport/cli/internal/cmd"
	"github.com/lakeport/lakeport/cli/internal/iostreams"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
	"github.com/lakeport/lakeport/hack/testenv"
)

// TestArgoCDv214API: the CLI stays compatible with Argo CD v2.14 servers, which serve the same
// argoproj.io/v1alpha1 API with older CRDs. On a kube-apiserver with v2.14.21's CRDs (from the
// module's source: hack/ensure.sh argocd-v2-crds), the kit's ApplicationSet and AppProjects and
// every Application lakeport generates are accepted with strict field validation (a field v2.14
// does not know would be refused, not silently pruned), and `lakeport health` reads Applications
// stored through those CRDs.
func TestArgoCDv214API(t *testing.T) {
	crds, err := os.ReadFile(testenv.Tool(t, "argocd-v2-crds"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(crds), "argo-cd/v2@v2.14.") {
		t.Fatal("the argocd-v2-crds tool is not Argo CD v2.14's CRDs")
	}
	if testing.Short() {
		testenv.NeedServer(t, testenv.ErrShort)
	}
	k, err := testenv.StartKube(testenv.KubeOptions{})
	testenv.NeedServer(t, err)
	defer k.Stop()
	cfg := argoloop.RestConfig(k)
	cfg.WarningHandler = rest.NoWarnings{} // v2.14's finalizer name draws a warning on every create
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := argoloop.InstallCRDsFrom(ctx, cfg, crds); err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	gvr := func(resource string) dynamic.ResourceInterface {
		return dyn.Resource(schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: resource}).Namespace("argocd")
	}
	strict := metav1.CreateOptions{FieldValidation: "Strict"}
	dryStrict := metav1.CreateOptions{FieldValidation: "Strict", DryRun: []string{metav1.DryRunAll}}

	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"environments/argocd/applicationset.yaml", "environments/argocd/projects.yaml"} {
		raw, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(raw), "\n---") {
			obj := &unstructured.Unstructured{}
			if err := sigsyaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			resource := map[string]string{"ApplicationSet": "applicationsets", "AppProject": "appprojects"}[obj.GetKind()]
			if _, err := gvr(resource).Create(ctx, obj, dryStrict); err != nil {
				t.Errorf("%s: %s %s refused by Argo CD v2.14's CRD: %v", f, obj.GetKind(), obj.GetName(), err)
			}
		}
	}

	w, err := workspace.Open(root, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range w.Apps {
		a := w.Apps[i].DeepCopy()
		a.TypeMeta = metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Application"}
		a.Namespace = "argocd"
		revs := make([]string, len(a.Spec.GetSources()))
		for j := range revs {
			revs[j] = "0123456789abcdef0123456789abcdef01234567"
		}
		reconciled := metav1.NewTime(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		a.Status = argov1.ApplicationStatus{
			Sync:         argov1.SyncStatus{Status: argov1.SyncStatusCodeSynced, Revisions: revs},
			Health:       argov1.AppHealthStatus{Status: gitopshealth.HealthStatusHealthy},
			ReconciledAt: &reconciled,
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gvr("applications").Create(ctx, &unstructured.Unstructured{Object: m}, strict); err != nil {
			t.Errorf("Application %s refused by Argo CD v2.14's CRD: %v", a.Name, err)
		}
	}
	if t.Failed() {
		return
	}
	env := map[string]string{"KUBECONFIG": k.KubeconfigPath, "NO_COLOR": "1"}
	io, out, errOut := iostreams.Test(func(key string) string { return env[key] })
	code := cmd.Main(ctx, io, []string{"--repo", root, "health", "-o", "json"})
	if code != cmd.CodeOK {
		t.Fatalf("lakeport health: exit %d\n%s%s", code, out, errOut)
	}
	for _, a := range w.Apps {
		if !strings.Contains(out.String(), `"name": "`+a.Name+`"`) {
			t.Errorf("lakeport health does not report %s:\n%s", a.Name, out)
		}
	}
	if n := strings.Count(out.String(), `"state": "Ready"`); n != len(w.Apps) {
		t.Errorf("%d of %d Applications Ready:\n%s", n, len(w.Apps), out)
	}
}
