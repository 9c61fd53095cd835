// Package workflows_test runs the distribution chart's Argo Workflows mode for real: the
// CronWorkflow rendered for staging is applied, with its RBAC, to a kube-apiserver whose namespace
// enforces PodSecurity `restricted`, a Workflow is submitted from it to a real workflow-controller
// (Argo Workflows v3.7.6, hack/ensure.sh workflow-controller) and kwok's simulated node runs the
// pods. kwok runs no container, so hack/testenv/wfexec writes the WorkflowTaskResults Argo's wait
// container would, as the workflow's ServiceAccount, and records the containers' exits as the
// kubelet would. The kit's chart must get the pods admitted, in DAG order, and the workflow to
// Succeeded (pipeline_test.go); today's staging chart (its pinned revision) must fail both ways it fails on a real
// cluster: its pods are rejected by PodSecurity and its ServiceAccount may not write task results.
//
// The controller and its control plane are started once, in TestMain; each test works in its own
// namespace.
package workflows_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"github.com/lakeport/lakeport/cli/pkg/source"
	"github.com/lakeport/lakeport/hack/testenv"
	"github.com/lakeport/lakeport/hack/testenv/wfexec"
)

const repoRoot = "../.."

// todayRevision is main as issue 11 describes it ("as of main b5197db"): its staging env.yaml
// pins the distribution chart that staging runs today.
const todayRevision = "b5197db0f5e6087fb0eb0ec8a57af7f6a1b67079"

var (
	wfs    *testenv.Workflows
	wfsErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		wfs, wfsErr = testenv.StartWorkflows(testenv.WorkflowsOptions{Kube: testenv.KubeOptions{
			ControllerManager: true, Kwok: true,
			// ServiceAccount: pods get the token volume a real cluster gives them (none here:
			// the chart's ServiceAccount says automountServiceAccountToken: false).
			// PodTolerationRestriction: the simulated node's toleration comes from the
			// namespace, so the kit's values carry no test plumbing.
			EnableAdmissionPlugins: []string{"ServiceAccount", "PodTolerationRestriction"},
		}})
	}
	code := m.Run()
	wfs.Stop()
	os.Exit(code)
}

// cluster is what a test talks to the control plane with.
type cluster struct {
	cfg    *rest.Config
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func needCluster(t *testing.T) *cluster {
	t.Helper()
	for _, tool := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "workflow-controller"} {
		testenv.Tool(t, tool)
	}
	testenv.NeedServer(t, wfsErr)
	k := wfs.Kube
	cfg := &rest.Config{Host: k.URL, BearerToken: k.Token, TLSClientConfig: rest.TLSClientConfig{CAData: k.CAData},
		Dial: k.DialContext, QPS: 100, Burst: 200}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{cfg: cfg, dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// deploy creates namespace ns with PodSecurity `restricted` enforced and applies the rendered
// objects into it, as Argo CD's sync would (hooks left out: the migration Job is not what this
// test is about). It returns the CronWorkflow.
func (c *cluster) deploy(t *testing.T, ctx context.Context, ns string, objs []chartrender.Object) *unstructured.Unstructured {
	t.Helper()
	tol := fmt.Sprintf(`[{"key":%q,"operator":"Exists","effect":"NoSchedule"}]`, testenv.KwokTaintKey)
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{
		"name": ns,
		"labels": map[string]any{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		},
		"annotations": map[string]any{"scheduler.alpha.kubernetes.io/defaultTolerations": tol}}}}
	if _, err := c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	var cron *unstructured.Unstructured
	templates := false
	for _, o := range objs {
		if o.U.GetAnnotations()["helm.sh/hook"] != "" || o.U.GetAnnotations()["argocd.argoproj.io/hook"] != "" {
			continue
		}
		gvk := o.U.GroupVersionKind()
		if gvk.Group == "monitoring.coreos.com" {
			// ServiceMonitors, PodMonitors and PrometheusRules: this control plane has no
			// Prometheus Operator CRDs, and monitoring is not what these tests are about
			// (charts/dryrun applies them to a server that serves the CRDs).
			continue
		}
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			c.mapper.Reset()
			if m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				t.Fatalf("%s %s: %v", gvk, o.Name(), err)
			}
		}
		o.U.SetNamespace(ns)
		data, err := json.Marshal(o.U.Object)
		if err != nil {
			t.Fatal(err)
		}
		force := true
		if _, err := c.dyn.Resource(m.Resource).Namespace(ns).Patch(ctx, o.Name(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: "lakeport", Force: &force}); err != nil {
			t.Fatalf("apply %s %s: %v", o.Kind(), o.Name(), err)
		}
		switch o.Kind() {
		case "CronWorkflow":
			cron = o.U
		case "WorkflowTemplate":
			templates = true
		}
	}
	if cron == nil {
		t.Fatal("the render has no CronWorkflow")
	}
	if templates {
		// The workflow controller resolves a workflowTemplateRef through its informer's lister
		// (workflow/controller/operator.go: templateresolution.NewContext with
		// wftmplInformer.Lister()), not the API server. A Workflow submitted in the same instant
		// as its WorkflowTemplate can fail at once with `workflowtemplates.argoproj.io "…" not
		// found` (CI, session 8, under load). The controller's cache cannot be observed, so its
		// watch gets time to deliver the template.
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	return cron
}

// submit creates a Workflow from the CronWorkflow as `argo submit --from cronwf/<name>` does
// (Argo Workflows v3.7.6 workflow/common/convert.go, ConvertCronWorkflowToWorkflow): its
// workflowSpec, the workflowMetadata labels, the cron-workflow label, owned by the CronWorkflow.
func (c *cluster) submit(t *testing.T, ctx context.Context, cron *unstructured.Unstructured) string {
	t.Helper()
	return c.submitAt(t, ctx, cron, time.Now())
}

// submitAt is submit with the time the cron controller would stamp as the scheduled time (the
// pipeline's calendar step reads it as {{workflow.scheduledTime}}).
func (c *cluster) submitAt(t *testing.T, ctx context.Context, cron *unstructured.Unstructured, scheduled time.Time) string {
	t.Helper()
	spec, _, err := unstructured.NestedMap(cron.Object, "spec", "workflowSpec")
	if err != nil || spec == nil {
		t.Fatalf("CronWorkflow %s has no spec.workflowSpec (%v)", cron.GetName(), err)
	}
	labels, _, _ := unstructured.NestedStringMap(cron.Object, "spec", "workflowMetadata", "labels")
	if labels == nil {
		labels = map[string]string{}
	}
	labels["workflows.argoproj.io/cron-workflow"] = cron.GetName()
	live, err := c.dyn.Resource(cronWorkflows).Namespace(cron.GetNamespace()).Get(ctx, cron.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wf := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Workflow",
		"metadata": map[string]any{
			"generateName": cron.GetName() + "-",
			"namespace":    cron.GetNamespace(),
			"annotations":  map[string]any{"workflows.argoproj.io/scheduled-time": scheduled.UTC().Format(time.RFC3339)},
			"ownerReferences": []any{map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow",
				"name": live.GetName(), "uid": string(live.GetUID()), "controller": true, "blockOwnerDeletion": true}},
		},
		"spec": spec,
	}}
	wf.SetLabels(labels)
	created, err := c.dyn.Resource(wfexec.WorkflowsResource).Namespace(cron.GetNamespace()).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("submit from %s: %v", cron.GetName(), err)
	}
	return created.GetName()
}

var cronWorkflows = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "cronworkflows"}

// run drives the workflow to its end with wfexec and logs what happened.
func (c *cluster) run(t *testing.T, ctx context.Context, ns, name string) *wfexec.Result {
	t.Helper()
	start := time.Now()
	res, err := wfexec.Run(ctx, wfexec.Options{Config: c.cfg}, ns, name)
	if res != nil {
		t.Logf("workflow %s/%s: %s after %s (%s)", ns, name, res.Phase, time.Since(start).Round(10*time.Millisecond), res.Message)
		for n, s := range res.Nodes {
			t.Logf("  node %s: %s", n, s)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// renderStaging renders the distribution chart as Argo CD does for staging, into namespace ns.
func renderStaging(t *testing.T, chartDir, valuesFile, ns string, values map[string]any) []chartrender.Object {
	t.Helper()
	env, err := chartrender.LoadEnv(repoRoot, "staging")
	if err != nil {
		t.Fatal(err)
	}
	req := chartrender.ForEnv(repoRoot, env, "distribution")
	if chartDir != "" {
		req.ChartDir = chartDir
	}
	if valuesFile != "" {
		req.ValueFiles = []string{valuesFile}
	}
	req.Namespace = ns
	req.Values = values
	out, err := chartrender.Render(req)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := chartrender.Split(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// today writes the distribution chart staging runs today (the revision todayRevision's staging
// env.yaml pins) and that revision's staging values into a temp folder, and returns both paths.
func today(t *testing.T) (chartDir, valuesFile string) {
	t.Helper()
	repo, err := source.Open(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	base, err := repo.At(todayRevision)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base.ReadFile("environments/staging/env.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var env chartrender.Env
	if err := yamlUnmarshal(raw, &env); err != nil {
		t.Fatalf("environments/staging/env.yaml at %s: %v", todayRevision[:12], err)
	}
	pin := ""
	for _, c := range env.Components {
		if c.Component == "distribution" {
			pin = c.Revision
		}
	}
	if pin == "" {
		t.Fatalf("environments/staging/env.yaml at %s: no distribution revision", todayRevision[:12])
	}
	chart, err := repo.At(pin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := chart.Files("charts/distribution")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := chart.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	values, err := base.ReadFile("environments/staging/distribution.yaml")
	if err != nil {
		t.Fatal(err)
	}
	valuesFile = filepath.Join(dir, "staging-distribution.yaml")
	if err := os.WriteFile(valuesFile, values, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("today's staging: chart at %s, values at %s", pin[:12], todayRevision[:12])
	return filepath.Join(dir, "charts", "distribution"), valuesFile
}

// The kit's pipeline running in DAG order on this cluster is TestPipelineRunsInOrder
// (pipeline_test.go), with staging's values.

// checkPodSpec: what the apiserver admitted is what the README promises: the API token only in
// Argo's init and wait containers, each of them with the restricted container settings.
func checkPodSpec(t *testing.T, s wfexec.Step) {
	t.Helper()
	spec := s.Spec
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false on the pod", s.NodeName)
	}
	all := append(slices.Clone(spec.InitContainers), spec.Containers...)
	names := []string{}
	for _, ctr := range all {
		names = append(names, ctr.Name)
		mounted := slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == wfexec.TokenMountPath })
		executor := ctr.Name == "init" || ctr.Name == "wait"
		if mounted != executor {
			t.Errorf("%s: container %s: API token mounted = %v, want %v", s.NodeName, ctr.Name, mounted, executor)
		}
		sc := ctr.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, corev1.Capability("ALL")) {
			t.Errorf("%s: container %s: securityContext %+v is not restricted", s.NodeName, ctr.Name, sc)
		}
	}
	slices.Sort(names)
	if fmt.Sprint(names) != "[init main wait]" {
		t.Errorf("%s: containers %v, want Argo's init, main and wait", s.NodeName, names)
	}
}

// TestTodaysStagingIsRefused shows the two defects of today's staging chart on the same cluster:
// its ServiceAccount may not write the executor's task results, and its pods are rejected by
// PodSecurity (Argo's injected containers carry no securityContext).
func TestTodaysStagingIsRefused(t *testing.T) {
	c := needCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const ns = "risk-staging-today"
	chartDir, values := today(t)
	objs := renderStaging(t, chartDir, values, ns, nil)
	cron := c.deploy(t, ctx, ns, objs)

	t.Run("task results are Forbidden", func(t *testing.T) {
		sa, _, _ := unstructured.NestedString(cron.Object, "spec", "workflowSpec", "serviceAccountName")
		err := createTaskResultAs(ctx, c.cfg, ns, sa)
		if !apierrors.IsForbidden(err) {
			t.Fatalf("creating a WorkflowTaskResult as %s: got %v, want Forbidden", sa, err)
		}
		t.Logf("as today's ServiceAccount: %v", err)
	})

	t.Run("pods are rejected by PodSecurity", func(t *testing.T) {
		// Today's steps name no command, so the controller would first look the image up in its
		// registry (unreachable here: TestCronWorkflowNeeds covers that); give them the command
		// the fix adds, so that the next defect shows.
		addCommand(t, cron)
		res := c.run(t, ctx, ns, c.submit(t, ctx, cron))
		if res.Phase == "Succeeded" {
			t.Fatal("today's staging workflow succeeded on a restricted namespace")
		}
		if len(res.Steps) != 0 {
			t.Errorf("pods were admitted: %+v", res.Steps)
		}
		found := false
		for _, s := range res.Nodes {
			if strings.Contains(s, `violates PodSecurity "restricted:latest"`) {
				found = true
				if !strings.Contains(s, `"init"`) || !strings.Contains(s, `"wait"`) {
					t.Errorf("the rejection should name Argo's init and wait containers: %s", s)
				}
			}
		}
		if !found {
			t.Errorf("no node failed with a PodSecurity rejection: %v", res.Nodes)
		}
	})
}

// TestWithoutTheExecutorRoleStepsFail: the kit's chart with its Role turned off gets its pods
// admitted, but the wait container's task result is Forbidden, the step's pod fails and so does
// the workflow: the Role is what makes it work.
func TestWithoutTheExecutorRoleStepsFail(t *testing.T) {
	c := needCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const ns = "risk-staging-norole"
	// A pod whose wait container fails is an Error, which the pipeline retries (a deleted or
	// evicted pod): a short backoff keeps the futile retries within the test's time.
	objs := renderStaging(t, "", "", ns, map[string]any{"workflow": map[string]any{"rbac": map[string]any{"create": false},
		"backoff": map[string]any{"duration": "1s", "factor": 1, "maxDuration": "20s"}}})
	res := c.run(t, ctx, ns, c.submit(t, ctx, c.deploy(t, ctx, ns, objs)))
	if res.Phase == "Succeeded" {
		t.Fatal("the workflow succeeded without the executor's Role")
	}
	if len(res.Steps) == 0 {
		t.Fatal("no pod was admitted")
	}
	for _, s := range res.Steps {
		if !apierrors.IsForbidden(s.ReportErr) {
			t.Errorf("%s: the wait container's report: got %v, want Forbidden", s.NodeName, s.ReportErr)
		}
	}
}

// createTaskResultAs creates a WorkflowTaskResult in ns as ServiceAccount sa, as Argo's wait
// container does (impersonation: the apiserver then authorizes exactly that ServiceAccount).
func createTaskResultAs(ctx context.Context, admin *rest.Config, ns, sa string) error {
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	tr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTaskResult",
		"metadata": map[string]any{"name": "probe", "labels": map[string]any{wfexec.LabelWorkflow: "probe", wfexec.LabelReportOutputsCompleted: "false"}},
	}}
	_, err = dyn.Resource(wfexec.TaskResultsResource).Namespace(ns).Create(ctx, tr, metav1.CreateOptions{})
	return err
}

// addCommand gives every container template of the CronWorkflow the command the kit's chart
// renders by default (values.yaml workflow.command).
func addCommand(t *testing.T, cron *unstructured.Unstructured) {
	t.Helper()
	tmpls, _, err := unstructured.NestedSlice(cron.Object, "spec", "workflowSpec", "templates")
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range tmpls {
		if ctr, ok := tm.(map[string]any)["container"].(map[string]any); ok {
			ctr["command"] = []any{"/usr/local/bin/distribution"}
		}
	}
	if err := unstructured.SetNestedSlice(cron.Object, tmpls, "spec", "workflowSpec", "templates"); err != nil {
		t.Fatal(err)
	}
}
