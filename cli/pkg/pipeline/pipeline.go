// Package pipeline reads the last run of the kit's nightly pipeline (the distribution chart's
// Argo Workflows mode) from the Kubernetes API: the Workflows its CronWorkflow created carry the
// label lakeport.dev/pipeline, and their status says what happened (Argo Workflows v3.7.6
// pkg/apis/workflow/v1alpha1 WorkflowStatus and NodeStatus). It only reads: list and get on
// workflows.argoproj.io in the environment's namespace.
package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// LabelPipeline is the label the chart's CronWorkflow gives its Workflows (workflowMetadata):
// the release's name.
const LabelPipeline = "lakeport.dev/pipeline"

// Workflows is the resource read.
var Workflows = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}

// Outcomes of a run, as the pipeline's exit handler records them (jobs: distribution report).
const (
	OutcomeSucceeded = "succeeded"
	OutcomeSkipped   = "skipped" // the calendar said the cob date is not a business day
	OutcomeFailed    = "failed"
	OutcomeError     = "error"
	OutcomeRunning   = "running"
	OutcomeNone      = "none" // no run yet
)

// Target is where to look: one environment's namespace.
type Target struct {
	Env, Namespace string
}

// Run is the last run of one pipeline in one environment.
type Run struct {
	Env       string `json:"env"`
	Namespace string `json:"namespace"`
	// Pipeline is the release (the label's value); empty when no run was found.
	Pipeline string `json:"pipeline,omitempty"`
	Workflow string `json:"workflow,omitempty"`
	// Phase is Argo's (Pending, Running, Succeeded, Failed, Error); Outcome is the pipeline's.
	Phase   string `json:"phase,omitempty"`
	Outcome string `json:"outcome"`
	Message string `json:"message,omitempty"`
	// CobDate and Reason come from the calendar step's outputs.
	CobDate   string     `json:"cobDate,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Scheduled *time.Time `json:"scheduledAt,omitempty"`
	Started   *time.Time `json:"startedAt,omitempty"`
	Finished  *time.Time `json:"finishedAt,omitempty"`
	// Steps counts the run's pods; Retries those that were a retry of a step.
	Steps   int `json:"steps"`
	Retries int `json:"retries"`
	// Failed are the pods that failed (a retried one too), in the order they finished.
	Failed []Failure `json:"failed,omitempty"`
	// Runs is how many Workflows of this pipeline the namespace keeps (Argo's history limits).
	Runs int `json:"runs"`
}

// Duration of the run (0 while it runs).
func (r *Run) Duration() time.Duration {
	if r.Started == nil || r.Finished == nil {
		return 0
	}
	return r.Finished.Sub(*r.Started)
}

// Failure is one failed step's pod.
type Failure struct {
	Step     string `json:"step"`
	Phase    string `json:"phase"`
	ExitCode string `json:"exitCode,omitempty"`
	Message  string `json:"message,omitempty"`
}

// LastRuns reads the last run of every pipeline in each target's namespace; a target without
// any run gets one Run with Outcome "none".
func LastRuns(ctx context.Context, dyn dynamic.Interface, targets []Target) ([]Run, error) {
	var out []Run
	for _, t := range targets {
		list, err := dyn.Resource(Workflows).Namespace(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelPipeline})
		if err != nil {
			return nil, fmt.Errorf("list workflows in namespace %s (env %s): %w", t.Namespace, t.Env, err)
		}
		last := map[string]*unstructured.Unstructured{}
		count := map[string]int{}
		for i := range list.Items {
			w := &list.Items[i]
			p := w.GetLabels()[LabelPipeline]
			count[p]++
			if cur, ok := last[p]; !ok || newer(w, cur) {
				last[p] = w
			}
		}
		if len(last) == 0 {
			out = append(out, Run{Env: t.Env, Namespace: t.Namespace, Outcome: OutcomeNone})
			continue
		}
		names := make([]string, 0, len(last))
		for p := range last {
			names = append(names, p)
		}
		sort.Strings(names)
		for _, p := range names {
			r := FromWorkflow(last[p])
			r.Env, r.Runs = t.Env, count[p]
			out = append(out, r)
		}
	}
	return out, nil
}

// newer orders runs by scheduled time, then creation, then name.
func newer(a, b *unstructured.Unstructured) bool {
	ta, tb := scheduled(a), scheduled(b)
	if ta == nil || tb == nil || ta.Equal(*tb) {
		ca, cb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
		if !ca.Equal(&cb) {
			return cb.Before(&ca)
		}
		return a.GetName() > b.GetName()
	}
	return ta.After(*tb)
}

func scheduled(w *unstructured.Unstructured) *time.Time {
	return parseTime(w.GetAnnotations()["workflows.argoproj.io/scheduled-time"])
}

func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	return &t
}

// FromWorkflow reads one Workflow's status.
func FromWorkflow(w *unstructured.Unstructured) Run {
	str := func(path ...string) string {
		s, _, _ := unstructured.NestedString(w.Object, path...)
		return s
	}
	r := Run{
		Namespace: w.GetNamespace(),
		Pipeline:  w.GetLabels()[LabelPipeline],
		Workflow:  w.GetName(),
		Phase:     str("status", "phase"),
		Message:   str("status", "message"),
		Scheduled: scheduled(w),
		Started:   parseTime(str("status", "startedAt")),
		Finished:  parseTime(str("status", "finishedAt")),
	}
	nodes, _, _ := unstructured.NestedMap(w.Object, "status", "nodes")
	type pod struct {
		name, phase, exit, msg string
		finished               *time.Time
	}
	var failed []pod
	businessDay := ""
	for _, n := range nodes {
		m, _ := n.(map[string]any)
		get := func(k string) string { s, _ := m[k].(string); return s }
		name := get("displayName")
		params, _, _ := unstructured.NestedSlice(m, "outputs", "parameters")
		for _, p := range params {
			pm, _ := p.(map[string]any)
			v, _ := pm["value"].(string)
			if !strings.HasPrefix(name, "calendar") {
				continue
			}
			switch pm["name"] {
			case "cob-date":
				r.CobDate = v
			case "business-day":
				businessDay = v
			case "reason":
				r.Reason = v
			}
		}
		if get("type") != "Pod" {
			continue
		}
		r.Steps++
		if i := strings.LastIndex(name, "("); i > 0 && !strings.HasPrefix(name[i:], "(0)") && strings.HasSuffix(name, ")") {
			r.Retries++
		}
		if ph := get("phase"); ph == "Failed" || ph == "Error" {
			exit, _, _ := unstructured.NestedString(m, "outputs", "exitCode")
			failed = append(failed, pod{name: name, phase: ph, exit: exit, msg: get("message"), finished: parseTime(get("finishedAt"))})
		}
	}
	sort.SliceStable(failed, func(i, j int) bool {
		a, b := failed[i], failed[j]
		if a.finished != nil && b.finished != nil && !a.finished.Equal(*b.finished) {
			return a.finished.Before(*b.finished)
		}
		return a.name < b.name
	})
	for _, f := range failed {
		r.Failed = append(r.Failed, Failure{Step: f.name, Phase: f.phase, ExitCode: f.exit, Message: f.msg})
	}
	switch r.Phase {
	case "Succeeded":
		r.Outcome = OutcomeSucceeded
		if businessDay == "false" {
			r.Outcome = OutcomeSkipped
		}
	case "Failed":
		r.Outcome = OutcomeFailed
	case "Error":
		r.Outcome = OutcomeError
	default:
		r.Outcome = OutcomeRunning
	}
	return r
}
