// Package wfexec plays, for Argo Workflows pods on kwok's simulated nodes, the two parts kwok
// cannot: Argo's executor, whose wait container reports each step as a WorkflowTaskResult using
// the pod's own ServiceAccount token, and the kubelet, which records the containers' exits.
//
// The wait container's writes are made as the pod's ServiceAccount (client-go impersonation of
// system:serviceaccount:<namespace>:<name>), and only when the wait container has a
// ServiceAccount token mounted where its in-cluster client reads it, so a workflow run here
// succeeds only if the kit's RBAC and token mounts would let the real executor work. What the
// executor does is taken from Argo Workflows v3.7.6: cmd/argoexec/commands/wait.go creates a
// placeholder task result labelled report-outputs-completed=false and, when the step ends,
// FinalizeOutput patches the label to true (workflow/executor/taskresult.go); the controller
// holds a succeeded pod's node until then (workflow/controller/taskresult.go). If the writes
// fail, the wait container exits non-zero and the pod fails.
//
// It lives beside hack/testenv (which is stdlib only) because it needs client-go.
package wfexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

// Labels, annotations and container names Argo Workflows v3.7.6 uses (workflow/common/common.go).
const (
	LabelWorkflow                = "workflows.argoproj.io/workflow"
	LabelReportOutputsCompleted  = "workflows.argoproj.io/report-outputs-completed"
	AnnotationNodeID             = "workflows.argoproj.io/node-id"
	AnnotationNodeName           = "workflows.argoproj.io/node-name"
	MainContainer, WaitContainer = "main", "wait"
	// TokenMountPath is where client-go's in-cluster config reads the ServiceAccount token.
	TokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// Resources this package reads and writes.
var (
	WorkflowsResource   = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}
	TaskResultsResource = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflowtaskresults"}
)

// ErrNoToken is the wait container's failure when no ServiceAccount token is mounted at
// TokenMountPath: its in-cluster client cannot be built.
var ErrNoToken = errors.New("the wait container has no ServiceAccount token at " + TokenMountPath)

// Options configure Run.
type Options struct {
	// Config is an administrator's client config: it reads Workflows and pods and writes pod
	// status (the kubelet's part). The wait container's writes impersonate the pod's
	// ServiceAccount through a copy of it.
	Config *rest.Config
	// ExitCode is the exit code of a step's main container; nil means 0 for every step.
	ExitCode func(pod *corev1.Pod) int32
	// Run, when set, replaces ExitCode: it plays the step's main container and says how it
	// ended, with the output parameters the wait container reports (Argo reads them from the
	// files the template's outputs name; here the test supplies their values). It is called
	// once per pod, or again on the next poll while it answers Pending. A test keeps per-step
	// state in it, e.g. to fail a step's first attempt and let its retry succeed.
	Run func(pod *corev1.Pod) Exit
	// Poll is how often pods and the Workflow are read; default 100ms.
	Poll time.Duration
}

// Exit is how a step's main container ended, as Options.Run decides.
type Exit struct {
	// Code is the main container's exit code.
	Code int32
	// Parameters are the step's output parameters by name (its task result's
	// outputs.parameters, which the controller copies to the node).
	Parameters map[string]string
	// Pending leaves the pod running: Run is asked again on the next poll (a coordinator
	// waiting for its workers).
	Pending bool
}

// Step is one pod of the workflow, as this package ran it.
type Step struct {
	// Pod and NodeName name the pod and its workflow node (e.g. "nightly-x.migrate").
	Pod, NodeName string
	// ServiceAccount is the pod's spec.serviceAccountName.
	ServiceAccount string
	// Spec is the pod's spec as the apiserver admitted it (the controller deletes pods as its
	// podGC says, so tests read it here).
	Spec corev1.PodSpec
	// Seen is when the pod was first seen; Finished when its status was set to terminated.
	Seen, Finished time.Time
	// ExitCode of the main container.
	ExitCode int32
	// Parameters are the output parameters reported (Options.Run).
	Parameters map[string]string
	// ReportErr is why the wait container could not report (nil when it did): ErrNoToken, or
	// the API's answer to the ServiceAccount (e.g. Forbidden).
	ReportErr error
	// Existing are the node names of the workflow's pods that existed when this step finished,
	// in creation order: what DAG-order assertions need.
	Existing []string
}

// Result is how a workflow ended.
type Result struct {
	// Phase and Message are the Workflow's status.phase and status.message.
	Phase, Message string
	// Nodes maps each node's displayName to "<phase>: <message>" (the message may be empty).
	Nodes map[string]string
	// Steps are the pods run, in the order they were first seen.
	Steps []Step
}

// Run drives the pods of Workflow namespace/name until it reaches Succeeded, Failed or Error, or
// ctx ends (then it returns what it saw with ctx's error). Each pod is run once it is Running
// (kwok makes it so): the wait container's task result is created and completed as the pod's
// ServiceAccount, then the containers are marked terminated and the pod Succeeded or Failed.
func Run(ctx context.Context, opts Options, namespace, name string) (*Result, error) {
	if opts.Config == nil {
		return nil, errors.New("wfexec: Options.Config is required")
	}
	if opts.Poll == 0 {
		opts.Poll = 100 * time.Millisecond
	}
	kc, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("wfexec: %w", err)
	}
	dyn, err := dynamic.NewForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("wfexec: %w", err)
	}
	r := &runner{opts: opts, kc: kc, dyn: dyn, ns: namespace, wf: name, steps: map[string]*Step{}}
	res := &Result{}
	for {
		wf, err := dyn.Resource(WorkflowsResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return r.result(res), fmt.Errorf("wfexec: get workflow %s/%s: %w", namespace, name, err)
		}
		res.Phase, _, _ = unstructured.NestedString(wf.Object, "status", "phase")
		res.Message, _, _ = unstructured.NestedString(wf.Object, "status", "message")
		res.Nodes = nodes(wf)
		switch res.Phase {
		case "Succeeded", "Failed", "Error":
			return r.result(res), nil
		}
		if err := r.tick(ctx, wf); err != nil {
			return r.result(res), err
		}
		select {
		case <-ctx.Done():
			return r.result(res), fmt.Errorf("wfexec: workflow %s/%s still %q: %w", namespace, name, res.Phase, ctx.Err())
		case <-time.After(opts.Poll):
		}
	}
}

// runner holds one Run's clients and what it has done.
type runner struct {
	opts   Options
	kc     kubernetes.Interface
	dyn    dynamic.Interface
	ns, wf string
	steps  map[string]*Step // by pod name
	order  []string         // pod names, first seen first
}

func (r *runner) result(res *Result) *Result {
	res.Steps = res.Steps[:0]
	for _, p := range r.order {
		res.Steps = append(res.Steps, *r.steps[p])
	}
	return res
}

// tick runs every workflow pod that kwok has made Running and that has not been run yet.
func (r *runner) tick(ctx context.Context, wf *unstructured.Unstructured) error {
	pods, err := r.kc.CoreV1().Pods(r.ns).List(ctx, metav1.ListOptions{LabelSelector: LabelWorkflow + "=" + r.wf})
	if err != nil {
		return fmt.Errorf("wfexec: list pods of %s/%s: %w", r.ns, r.wf, err)
	}
	items := pods.Items
	sort.SliceStable(items, func(i, j int) bool {
		return items[i].CreationTimestamp.Before(&items[j].CreationTimestamp)
	})
	for i := range items {
		p := &items[i]
		if _, ok := r.steps[p.Name]; !ok {
			r.steps[p.Name] = &Step{Pod: p.Name, NodeName: p.Annotations[AnnotationNodeName],
				ServiceAccount: p.Spec.ServiceAccountName, Spec: *p.Spec.DeepCopy(), Seen: time.Now()}
			r.order = append(r.order, p.Name)
		}
	}
	for i := range items {
		p := &items[i]
		s := r.steps[p.Name]
		if !s.Finished.IsZero() || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		done, err := r.runPod(ctx, wf, p, s)
		if err != nil {
			return err
		}
		if !done {
			continue
		}
		for j := range items {
			s.Existing = append(s.Existing, items[j].Annotations[AnnotationNodeName])
		}
	}
	return nil
}

// runPod plays the wait container, then the kubelet, for one Running pod.
func (r *runner) runPod(ctx context.Context, wf *unstructured.Unstructured, p *corev1.Pod, s *Step) (bool, error) {
	switch {
	case r.opts.Run != nil:
		e := r.opts.Run(p)
		if e.Pending {
			return false, nil
		}
		s.ExitCode, s.Parameters = e.Code, e.Parameters
	case r.opts.ExitCode != nil:
		s.ExitCode = r.opts.ExitCode(p)
	}
	s.ReportErr = r.report(ctx, wf, p, s.Parameters)
	waitExit := int32(0)
	if s.ReportErr != nil {
		waitExit = 1
	}
	if err := r.terminate(ctx, p.Name, s.ExitCode, waitExit, s.ReportErr); err != nil {
		return false, err
	}
	s.Finished = time.Now()
	return true, nil
}

// report writes the step's WorkflowTaskResult as Argo's wait container does, with the pod's
// ServiceAccount: a placeholder marked incomplete, then the label that marks it complete.
func (r *runner) report(ctx context.Context, wf *unstructured.Unstructured, p *corev1.Pod, params map[string]string) error {
	if !hasToken(p, WaitContainer) {
		return ErrNoToken
	}
	sa := p.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	cfg := rest.CopyConfig(r.opts.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + p.Namespace + ":" + sa}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("wfexec: %w", err)
	}
	nodeID := p.Annotations[AnnotationNodeID]
	if nodeID == "" {
		return fmt.Errorf("pod %s has no %s annotation", p.Name, AnnotationNodeID)
	}
	tr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "WorkflowTaskResult",
		"metadata": map[string]any{
			"name":   nodeID,
			"labels": map[string]any{LabelWorkflow: r.wf, LabelReportOutputsCompleted: "false"},
			"ownerReferences": []any{map[string]any{
				"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
				"name": wf.GetName(), "uid": string(wf.GetUID()),
			}},
		},
	}}
	ri := dyn.Resource(TaskResultsResource).Namespace(p.Namespace)
	if _, err := ri.Create(ctx, tr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create WorkflowTaskResult %s as %s: %w", nodeID, cfg.Impersonate.UserName, err)
	}
	// FinalizeOutput: the outputs and the completed label in one patch.
	final := map[string]any{"metadata": map[string]any{"labels": map[string]any{LabelReportOutputsCompleted: "true"}}}
	if len(params) > 0 {
		names := make([]string, 0, len(params))
		for n := range params {
			names = append(names, n)
		}
		sort.Strings(names)
		var ps []any
		for _, n := range names {
			ps = append(ps, map[string]any{"name": n, "value": params[n]})
		}
		final["outputs"] = map[string]any{"parameters": ps}
	}
	patch, err := json.Marshal(final)
	if err != nil {
		return err
	}
	if _, err := ri.Patch(ctx, nodeID, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch WorkflowTaskResult %s as %s: %w", nodeID, cfg.Impersonate.UserName, err)
	}
	return nil
}

// terminate sets the pod's status as the kubelet would once its containers have exited.
func (r *runner) terminate(ctx context.Context, pod string, mainExit, waitExit int32, waitErr error) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := r.kc.CoreV1().Pods(r.ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		term := func(c corev1.Container, code int32, msg string) corev1.ContainerStatus {
			reason := "Completed"
			if code != 0 {
				reason = "Error"
			}
			return corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, Message: msg, StartedAt: p.CreationTimestamp, FinishedAt: now}}}
		}
		p.Status.InitContainerStatuses = p.Status.InitContainerStatuses[:0]
		for _, c := range p.Spec.InitContainers {
			p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, term(c, 0, ""))
		}
		p.Status.ContainerStatuses = p.Status.ContainerStatuses[:0]
		for _, c := range p.Spec.Containers {
			switch c.Name {
			case WaitContainer:
				msg := ""
				if waitErr != nil {
					msg = waitErr.Error()
				}
				p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, term(c, waitExit, msg))
			case MainContainer:
				p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, term(c, mainExit, ""))
			default:
				p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, term(c, 0, ""))
			}
		}
		p.Status.Phase = corev1.PodSucceeded
		if mainExit != 0 || waitExit != 0 {
			p.Status.Phase = corev1.PodFailed
		}
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.PodReady || p.Status.Conditions[i].Type == corev1.ContainersReady {
				p.Status.Conditions[i].Status = corev1.ConditionFalse
				p.Status.Conditions[i].Reason = "PodCompleted"
			}
		}
		_, err = r.kc.CoreV1().Pods(r.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("wfexec: set status of pod %s/%s: %w", r.ns, pod, err)
	}
	return nil
}

// hasToken reports whether container name of p mounts a ServiceAccount token where client-go's
// in-cluster config reads it: a projected volume with a serviceAccountToken source (what the
// ServiceAccount admission plugin injects, or a chart mounts itself) or a token Secret.
func hasToken(p *corev1.Pod, name string) bool {
	i := slices.IndexFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == name })
	if i < 0 {
		return false
	}
	for _, m := range p.Spec.Containers[i].VolumeMounts {
		if m.MountPath != TokenMountPath {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			if v.Secret != nil {
				return true
			}
			if v.Projected != nil {
				for _, src := range v.Projected.Sources {
					if src.ServiceAccountToken != nil {
						return true
					}
				}
			}
		}
	}
	return false
}

// nodes summarises status.nodes by display name.
func nodes(wf *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	ns, _, _ := unstructured.NestedMap(wf.Object, "status", "nodes")
	for _, n := range ns {
		m, ok := n.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["displayName"].(string)
		phase, _ := m["phase"].(string)
		msg, _ := m["message"].(string)
		out[name] = phase + ": " + msg
	}
	return out
}
