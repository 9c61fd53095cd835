// Package workload finds the pods an environment's render would create: the pod template of
// every Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and CronJob, bare Pods, and the pod
// metadata and spec of Argo Workflows' CronWorkflows and WorkflowTemplates. The whole-environment
// checks (connectivity, references) reason about these templates, never about one object alone.
package workload

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/lakeport/lakeport/cli/pkg/render"
)

// Workload is one rendered object that creates pods.
type Workload struct {
	Release *render.Release
	Object  *render.Object
	// Namespace is the object's namespace, or the release's when the object has none.
	Namespace string
	// Labels are the labels of the pods it creates.
	Labels map[string]string
	// Spec is the pod spec. For Argo workflows it holds the workflow-level fields (service
	// account, volumes, image pull secrets) and one container per template.
	Spec corev1.PodSpec
	// SpecPath is the field path of the pod spec inside the object, e.g. spec.template.spec.
	SpecPath string
}

// Name is "Kind/name", as findings show it.
func (w *Workload) Name() string { return w.Object.Kind + "/" + w.Object.Name }

// templatePaths maps a kind to the path of its pod template (metadata + spec).
var templatePaths = map[string][]string{
	"Deployment":  {"spec", "template"},
	"StatefulSet": {"spec", "template"},
	"DaemonSet":   {"spec", "template"},
	"ReplicaSet":  {"spec", "template"},
	"Job":         {"spec", "template"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template"},
}

// Find returns the workloads of every release, in release and object order. An object whose pod
// template does not decode is an error naming it.
func Find(rels []*render.Release) ([]*Workload, error) {
	var out []*Workload
	for _, r := range rels {
		for _, o := range r.Objects {
			w, err := fromObject(r, o)
			if err != nil {
				return nil, fmt.Errorf("%s: %s %s/%s: %w", r.App, o.Kind, namespaceOf(r, o), o.Name, err)
			}
			if w != nil {
				out = append(out, w)
			}
		}
	}
	return out, nil
}

func namespaceOf(r *render.Release, o *render.Object) string {
	if o.Namespace != "" {
		return o.Namespace
	}
	return r.Namespace
}

func fromObject(r *render.Release, o *render.Object) (*Workload, error) {
	w := &Workload{Release: r, Object: o, Namespace: namespaceOf(r, o)}
	switch {
	case o.Kind == "Pod" && o.Group() == "":
		if err := decode(o.Content["spec"], &w.Spec); err != nil {
			return nil, err
		}
		w.Labels = stringMap(nested(o.Content, "metadata", "labels"))
		w.SpecPath = "spec"
		return w, nil
	case templatePaths[o.Kind] != nil && (o.Group() == "apps" || o.Group() == "batch"):
		p := templatePaths[o.Kind]
		tmpl, _ := nested(o.Content, p...).(map[string]any)
		if tmpl == nil {
			return nil, nil
		}
		if err := decode(tmpl["spec"], &w.Spec); err != nil {
			return nil, err
		}
		w.Labels = stringMap(nested(tmpl, "metadata", "labels"))
		w.SpecPath = strings.Join(p, ".") + ".spec"
		return w, nil
	case o.Group() == "argoproj.io" && (o.Kind == "CronWorkflow" || o.Kind == "WorkflowTemplate" || o.Kind == "Workflow"):
		return fromWorkflow(w, o)
	}
	return nil, nil
}

// fromWorkflow reads an Argo workflow spec: its pods carry podMetadata labels, run as its service
// account, mount its volumes and pull with its secrets; each container or script template adds a
// container (Argo's executor runs beside it).
func fromWorkflow(w *Workload, o *render.Object) (*Workload, error) {
	specPath := []string{"spec"}
	if o.Kind == "CronWorkflow" {
		specPath = []string{"spec", "workflowSpec"}
	}
	spec, _ := nested(o.Content, specPath...).(map[string]any)
	if spec == nil {
		return nil, nil
	}
	if ref, _ := spec["workflowTemplateRef"].(map[string]any); ref != nil && spec["templates"] == nil {
		// Its pods are the referenced WorkflowTemplate's (Argo merges the template's spec under
		// this one): they are checked as that template's, which the same environment renders.
		return nil, nil
	}
	w.SpecPath = strings.Join(specPath, ".")
	w.Labels = stringMap(nested(spec, "podMetadata", "labels"))
	var ps struct {
		ServiceAccountName string                        `json:"serviceAccountName"`
		Volumes            []corev1.Volume               `json:"volumes"`
		ImagePullSecrets   []corev1.LocalObjectReference `json:"imagePullSecrets"`
		PriorityClassName  string                        `json:"podPriorityClassName"`
		Templates          []struct {
			Name      string            `json:"name"`
			Container *corev1.Container `json:"container"`
			Script    *corev1.Container `json:"script"`
		} `json:"templates"`
	}
	if err := decode(spec, &ps); err != nil {
		return nil, err
	}
	w.Spec = corev1.PodSpec{ServiceAccountName: ps.ServiceAccountName, Volumes: ps.Volumes, ImagePullSecrets: ps.ImagePullSecrets, PriorityClassName: ps.PriorityClassName}
	for _, t := range ps.Templates {
		c := t.Container
		if c == nil {
			c = t.Script
		}
		if c == nil {
			continue
		}
		c.Name = t.Name
		w.Spec.Containers = append(w.Spec.Containers, *c)
	}
	return w, nil
}

func decode(in any, out any) error {
	m, ok := in.(map[string]any)
	if !ok {
		if in == nil {
			return nil
		}
		return fmt.Errorf("pod spec is a %T, not an object", in)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, out); err != nil {
		return fmt.Errorf("decode pod spec: %w", err)
	}
	return nil
}

func nested(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, x := range m {
		if s, ok := x.(string); ok {
			out[k] = s
		} else if x != nil {
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}
