// Package simulated_test deploys the dev environment, as Argo CD renders it, into a control
// plane with simulated nodes (kwok: pods become Running without containers, no volumes, no
// provisioner) and waits until every workload is ready and every hook Job has completed: dev
// must run on such a cluster. The control plane is started once, in TestMain.
package simulated_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
	"github.com/lakeport/lakeport/hack/testenv"
)

const repoRoot = "../.."

var (
	kube    *testenv.Kube
	kubeErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		// Pods get the simulated node's toleration from their namespace (PodTolerationRestriction),
		// as in the Argo CD loop: the kit's values carry no test-cluster plumbing.
		kube, kubeErr = testenv.StartKube(testenv.KubeOptions{ControllerManager: true, Kwok: true, EnableAdmissionPlugins: []string{"PodTolerationRestriction"}})
	}
	code := m.Run()
	if kube != nil {
		kube.Stop()
	}
	os.Exit(code)
}

// TestDevRunsOnSimulatedCluster applies every dev object (hooks included) and waits for the
// Deployments and StatefulSets to be ready and the Jobs to complete.
func TestDevRunsOnSimulatedCluster(t *testing.T) {
	for _, tool := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		testenv.Tool(t, tool)
	}
	testenv.NeedServer(t, kubeErr)
	cfg := &rest.Config{Host: kube.URL, BearerToken: kube.Token, TLSClientConfig: rest.TLSClientConfig{CAData: kube.CAData}, QPS: 100, Burst: 200}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	env, err := chartrender.LoadEnv(repoRoot, "dev")
	if err != nil {
		t.Fatal(err)
	}
	tol := fmt.Sprintf(`[{"key":%q,"operator":"Exists","effect":"NoSchedule"}]`, testenv.KwokTaintKey)
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{
		"name":        env.Destination.Namespace,
		"labels":      map[string]any{"pod-security.kubernetes.io/enforce": "restricted"},
		"annotations": map[string]any{"scheduler.alpha.kubernetes.io/defaultTolerations": tol}}}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	type ref struct {
		kind, name string
		gvr        schema.GroupVersionResource
	}
	var waitFor []ref
	for _, c := range env.Components {
		out, err := chartrender.Render(chartrender.ForEnv(repoRoot, env, c.Component))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := chartrender.Split(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			gvk := o.U.GroupVersionKind()
			if gvk.Group == "monitoring.coreos.com" {
				// The Prometheus Operator's objects (dev's PrometheusRule) run nothing: charts/dryrun
				// applies them against their CRDs.
				continue
			}
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				// CRD-backed kinds are not installed here: dev renders none.
				t.Fatalf("%s %s: %v", gvk, o.Name(), err)
			}
			data, err := json.Marshal(o.U.Object)
			if err != nil {
				t.Fatal(err)
			}
			force := true
			_, err = dyn.Resource(m.Resource).Namespace(o.U.GetNamespace()).Patch(ctx, o.Name(), types.ApplyPatchType, data,
				metav1.PatchOptions{FieldManager: "lakeport", Force: &force})
			if err != nil {
				t.Fatalf("apply %s %s: %v", o.Kind(), o.Name(), err)
			}
			switch o.Kind() {
			case "Deployment", "StatefulSet", "Job":
				waitFor = append(waitFor, ref{o.Kind(), o.Name(), m.Resource})
			}
		}
	}
	if len(waitFor) == 0 {
		t.Fatal("dev renders no workloads")
	}
	for _, r := range waitFor {
		if err := waitReady(ctx, dyn.Resource(r.gvr).Namespace(env.Destination.Namespace), r.kind, r.name); err != nil {
			t.Errorf("%s %s: %v", r.kind, r.name, err)
		}
	}
	t.Logf("%d workloads ready on simulated nodes", len(waitFor))
}

func waitReady(ctx context.Context, ri dynamic.ResourceInterface, kind, name string) error {
	last := ""
	for {
		u, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			ok, why := ready(kind, u)
			if ok {
				return nil
			}
			last = why
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %s", last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func ready(kind string, u *unstructured.Unstructured) (bool, string) {
	num := func(path ...string) int64 { v, _, _ := unstructured.NestedInt64(u.Object, path...); return v }
	switch kind {
	case "Deployment":
		want := num("spec", "replicas")
		return num("status", "availableReplicas") == want && num("status", "updatedReplicas") == want,
			fmt.Sprintf("%d/%d available", num("status", "availableReplicas"), want)
	case "StatefulSet":
		want := num("spec", "replicas")
		return num("status", "readyReplicas") == want, fmt.Sprintf("%d/%d ready", num("status", "readyReplicas"), want)
	case "Job":
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		var seen []string
		for _, c := range conds {
			m, _ := c.(map[string]any)
			seen = append(seen, fmt.Sprintf("%v=%v", m["type"], m["status"]))
			if m["type"] == "Complete" && m["status"] == "True" {
				return true, ""
			}
		}
		return false, "conditions " + strings.Join(seen, ",")
	}
	return false, "unknown kind"
}
