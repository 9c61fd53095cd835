package impact_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/lakeport/lakeport/cli/pkg/diff/impact"
	"github.com/lakeport/lakeport/hack/testenv"
)

// restartCase changes one workload; the test predicts a restart with impact.Analyze and
// compares with what the controllers did: a new ReplicaSet (Deployment) or ControllerRevision
// (StatefulSet, DaemonSet) exactly when lakeport says the pods are replaced.
type restartCase struct {
	name   string
	base   string
	change func(m map[string]any)
}

const kwokToleration = `
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]`

// TestRestartMatchesControllers runs on a control plane with kube-controller-manager and kwok
// (simulated nodes: the pods run). Every workload is applied, then its head; the workloads whose
// pod template lakeport says changes get a new ReplicaSet or ControllerRevision, and no other.
func TestRestartMatchesControllers(t *testing.T) {
	if testing.Short() {
		testenv.NeedServer(t, testenv.ErrShort)
	}
	k, err := testenv.StartKube(testenv.KubeOptions{ControllerManager: true, Kwok: true})
	testenv.NeedServer(t, err)
	t.Cleanup(k.Stop)
	dyn, err := dynamic.NewForConfig(restConfig(t, k))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "restart"
	if err := apply(ctx, dyn, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}, false); err != nil {
		t.Fatal(err)
	}
	dep := deployment + kwokToleration
	ds := daemonSet + kwokToleration
	sts := `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: app, image: registry.example.test/app:1.0.0, env: [{name: MODE, value: a}]}]` + kwokToleration
	cases := []restartCase{
		{name: "deployment image", base: dep, change: func(m map[string]any) {
			set(m, "spec.template.spec.containers.0.image", "registry.example.test/app:2.0.0")
		}},
		// The planted checksum/config change: hidden from the text by the default ignores.
		{name: "deployment checksum config", base: dep, change: func(m map[string]any) { set(m, "spec.template.metadata.annotations.checksum/config", "bbb") }},
		{name: "deployment replicas", base: dep, change: func(m map[string]any) { set(m, "spec.replicas", 2) }},
		{name: "deployment own labels", base: dep, change: func(m map[string]any) { set(m, "metadata.labels", map[string]any{"team": "risk"}) }},
		{name: "statefulset env", base: sts, change: func(m map[string]any) { set(m, "spec.template.spec.containers.0.env.0.value", "b") }},
		{name: "statefulset replicas", base: sts, change: func(m map[string]any) { set(m, "spec.replicas", 2) }},
		{name: "daemonset image", base: ds, change: func(m map[string]any) {
			set(m, "spec.template.spec.containers.0.image", "registry.example.test/app:2.0.0")
		}},
		{name: "daemonset own annotation", base: ds, change: func(m map[string]any) { set(m, "metadata.annotations", map[string]any{"team": "risk"}) }},
	}
	type state struct {
		base, head map[string]any
		before     int
		predicted  bool
	}
	states := make([]*state, len(cases))
	// Apply every base, each workload under its own name and labels.
	for i, tc := range cases {
		base := parse(t, tc.base)
		name := fmt.Sprintf("w%d", i)
		set(base, "metadata.name", name)
		set(base, "metadata.namespace", ns)
		set(base, "spec.selector.matchLabels.app", name)
		set(base, "spec.template.metadata.labels.app", name)
		if base["kind"] == "StatefulSet" {
			set(base, "spec.serviceName", name)
		}
		head := deepCopy(t, base)
		tc.change(head)
		if err := apply(ctx, dyn, base, false); err != nil {
			t.Fatalf("%s: apply base: %v", tc.name, err)
		}
		states[i] = &state{base: base, head: head, predicted: hasKind(impact.Analyze(object(t, base), object(t, head)), impact.Restart)}
	}
	for i, st := range states {
		waitObserved(t, dyn, st.base)
		st.before = waitRevisions(t, dyn, st.base, 1)
		if st.before != 1 {
			t.Fatalf("%s: %d revisions after the first apply, want 1", cases[i].name, st.before)
		}
	}
	for i, st := range states {
		if err := apply(ctx, dyn, st.head, false); err != nil {
			t.Fatalf("%s: apply head: %v", cases[i].name, err)
		}
	}
	restarted := 0
	for i, st := range states {
		waitObserved(t, dyn, st.head)
		after := revisions(t, dyn, st.head)
		got := after > st.before
		if got {
			restarted++
		}
		if got != st.predicted {
			t.Errorf("%s: lakeport predicts restart=%v, the controller made %d → %d revisions", cases[i].name, st.predicted, st.before, after)
		}
	}
	if restarted == 0 || restarted == len(cases) {
		t.Errorf("%d of %d workloads restarted: the table must hold both outcomes", restarted, len(cases))
	}
}

var (
	replicaSets         = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	controllerRevisions = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "controllerrevisions"}
)

// revisions counts the ReplicaSets (Deployment) or ControllerRevisions (StatefulSet, DaemonSet)
// a workload owns.
func revisions(t *testing.T, dyn dynamic.Interface, obj map[string]any) int {
	t.Helper()
	u := unstructured.Unstructured{Object: obj}
	gvr := controllerRevisions
	if u.GetKind() == "Deployment" {
		gvr = replicaSets
	}
	list, err := dyn.Resource(gvr).Namespace(u.GetNamespace()).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, item := range list.Items {
		for _, ref := range item.GetOwnerReferences() {
			if ref.Kind == u.GetKind() && ref.Name == u.GetName() {
				n++
			}
		}
	}
	return n
}

func waitRevisions(t *testing.T, dyn dynamic.Interface, obj map[string]any, want int) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		if n = revisions(t, dyn, obj); n >= want {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
	return n
}

// waitObserved waits until the workload's controller has seen its latest spec
// (status.observedGeneration == metadata.generation): it creates the new ReplicaSet or
// ControllerRevision before it records that.
func waitObserved(t *testing.T, dyn dynamic.Interface, obj map[string]any) {
	t.Helper()
	u := unstructured.Unstructured{Object: obj}
	ri := dyn.Resource(resourceOf(u.GetAPIVersion(), u.GetKind())).Namespace(u.GetNamespace())
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got, err := ri.Get(context.Background(), u.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		og, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
		if og >= got.GetGeneration() && og > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s %s: the controller did not observe generation within 60 s", u.GetKind(), u.GetName())
}
