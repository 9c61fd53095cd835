// Package dryrun_test applies every object every environment renders to a real kube-apiserver
// (server-side apply, dry run), with the CRDs the charts use installed, in namespaces that
// enforce PodSecurity restricted. The control plane is started once, in TestMain.
package dryrun_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
	"github.com/lakeport/lakeport/cli/pkg/crds"
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
		kube, kubeErr = testenv.StartKube(testenv.KubeOptions{})
	}
	code := m.Run()
	if kube != nil {
		kube.Stop()
	}
	os.Exit(code)
}

// warnings collects the apiserver's warnings (PodSecurity "would violate" among them).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

type cluster struct {
	dyn    dynamic.Interface
	mapper meta.ResettableRESTMapper
	warn   *warnings
}

func connect(t *testing.T) *cluster {
	t.Helper()
	testenv.Tool(t, "etcd")
	testenv.Tool(t, "kube-apiserver")
	testenv.NeedServer(t, kubeErr)
	w := &warnings{}
	cfg := &rest.Config{
		Host:            kube.URL,
		BearerToken:     kube.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: kube.CAData},
		WarningHandler:  w,
		QPS:             100,
		Burst:           200,
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), warn: w}
}

var (
	namespaceGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	crdGVR       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// ensureNamespace creates a namespace that enforces (and warns about) PodSecurity restricted.
func (c *cluster) ensureNamespace(ctx context.Context, name string) error {
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "labels": map[string]any{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
			"pod-security.kubernetes.io/audit":   "restricted",
		}},
	}}
	_, err := c.dyn.Resource(namespaceGVR).Create(ctx, ns, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// installCRDs creates the embedded CRDs and waits until each is Established.
func (c *cluster) installCRDs(ctx context.Context) error {
	names, err := crds.Files()
	if err != nil {
		return err
	}
	for _, n := range names {
		data, err := fs.ReadFile(crds.FS, n)
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(data, &obj); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		u := &unstructured.Unstructured{Object: obj}
		// Create (not apply): server-side apply would add managed fields as large as the schema.
		if _, err := c.dyn.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", n, err)
		}
		if err := c.waitEstablished(ctx, u.GetName()); err != nil {
			return err
		}
	}
	c.mapper.Reset()
	return nil
}

func (c *cluster) waitEstablished(ctx context.Context, name string) error {
	for {
		got, err := c.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not Established: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dryRunApply server-side applies one object with dryRun=All, as field manager lakeport.
func (c *cluster) dryRunApply(ctx context.Context, o chartrender.Object) error {
	gvk := o.U.GroupVersionKind()
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("no API for %s: %w", gvk, err)
	}
	data, err := json.Marshal(o.U.Object)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.dyn.Resource(mapping.Resource).Namespace(o.U.GetNamespace())
	}
	force := true
	_, err = ri.Patch(ctx, o.Name(), types.ApplyPatchType, data, metav1.PatchOptions{
		DryRun:       []string{metav1.DryRunAll},
		FieldManager: "lakeport",
		Force:        &force,
	})
	return err
}

// TestServerSideDryRun renders every component of every environment as Argo CD does and
// dry-run applies each object, hooks included. Any rejection or warning (PodSecurity
// restricted violations arrive as warnings on workloads) fails the test.
func TestServerSideDryRun(t *testing.T) {
	c := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	envs, err := chartrender.Envs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var loaded []chartrender.Env
	for _, name := range envs {
		env, err := chartrender.LoadEnv(repoRoot, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ensureNamespace(ctx, env.Destination.Namespace); err != nil {
			t.Fatalf("namespace %s: %v", env.Destination.Namespace, err)
		}
		loaded = append(loaded, env)
	}
	if err := c.installCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	c.warn.take() // CRD and namespace creation warnings are not the charts'

	total := 0
	for _, env := range loaded {
		for _, comp := range env.Components {
			t.Run(env.Name+"/"+comp.Component, func(t *testing.T) {
				out, err := chartrender.Render(chartrender.ForEnv(repoRoot, env, comp.Component))
				if err != nil {
					t.Fatal(err)
				}
				objs, err := chartrender.Split(out)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range objs {
					if err := c.dryRunApply(ctx, o); err != nil {
						t.Errorf("%s %s/%s (%s): %v", o.Kind(), o.U.GetNamespace(), o.Name(), o.Source, err)
					}
					for _, w := range c.warn.take() {
						t.Errorf("%s %s: apiserver warning: %s", o.Kind(), o.Name(), w)
					}
					total++
				}
			})
		}
	}
	t.Logf("dry-run applied %d objects", total)
}

// TestServerSideDryRunRejects proves the harness catches what it must: an object the
// apiserver rejects, a CRD object with a wrong field, and a pod that violates PodSecurity.
func TestServerSideDryRunRejects(t *testing.T) {
	c := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.ensureNamespace(ctx, "risk-dev"); err != nil {
		t.Fatal(err)
	}
	if err := c.installCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	c.warn.take()
	cases := []struct {
		name, doc string
		wantErr   string // in the error, or "" when a warning is expected
		wantWarn  string
	}{
		{"invalid built-in object", "apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: risk-dev}\nspec: {ports: [{port: 70000}]}\n", "port", ""},
		{"CRD object with a wrong type", "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: bad, namespace: risk-dev}\nspec: {endpoints: [{port: web, interval: 30}], selector: {}}\n", "interval", ""},
		{"CronWorkflow with an unknown field", "apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: bad, namespace: risk-dev}\nspec: {schedules: ['* * * * *'], concurencyPolicy: Forbid, workflowSpec: {entrypoint: x}}\n", "concurencyPolicy", ""},
		{"privileged pod template", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad, namespace: risk-dev}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: x, securityContext: {privileged: true}}]}\n", "", "would violate PodSecurity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := chartrender.Split(tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			err = c.dryRunApply(ctx, objs[0])
			warns := strings.Join(c.warn.take(), "\n")
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want one mentioning %q", err, tc.wantErr)
			}
			if tc.wantWarn != "" && !strings.Contains(warns, tc.wantWarn) {
				t.Errorf("warnings %q, want %q (error %v)", warns, tc.wantWarn, err)
			}
		})
	}
}
