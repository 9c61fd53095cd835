// Package references is the references-resolve check of `lakeport check`: every ConfigMap,
// Secret, PersistentVolumeClaim, ServiceAccount, PriorityClass and Service that a rendered
// workload references must be rendered in the same environment or declared external in the
// environment's env.yaml (`external:`, the objects the bank or the cluster provides). A dangling
// reference is a pod stuck in ContainerCreating (or refused) on a real cluster, which no schema
// or per-object policy sees; here it is a finding naming the workload, the field path and the
// missing object. An external declaration nothing references is a warning, so the list stays
// true.
//
// kube-linter's dangling-* checks were the model; its module (golang.stackrox.io/kube-linter) is
// not served by the module proxy here and has no notion of objects declared outside the render,
// so the resolver is written out below, one function per kind of reference.
package references

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/lakeport/lakeport/cli/pkg/check/envcheck"
	"github.com/lakeport/lakeport/cli/pkg/check/internal/workload"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/kit"
	"github.com/lakeport/lakeport/cli/pkg/render"
	"github.com/lakeport/lakeport/cli/pkg/source"
)

// Rules.
const (
	RuleDangling       = "references_resolve"
	RuleMissingKey     = "references_key_exists"
	RuleUnusedExternal = "references_external_unused"
)

// Load returns the check; it needs no file of its own (external objects are declared in each
// env.yaml, which package kit validates).
func Load(source.Snapshot) (envcheck.Check, error) { return Check{}, nil }

// Check resolves references.
type Check struct{}

// Rules lists the rules of the check.
func (Check) Rules() []envcheck.Rule {
	return []envcheck.Rule{
		{ID: RuleDangling, Severity: policy.Failure, Title: "Every object a workload references exists", Description: "A ConfigMap, Secret, PersistentVolumeClaim, ServiceAccount, PriorityClass or Service referenced by a workload's pod template (volumes, projected sources, envFrom, env valueFrom, imagePullSecrets, serviceAccountName, priorityClassName, a StatefulSet's serviceName) is rendered in the same environment or declared in env.yaml external."},
		{ID: RuleMissingKey, Severity: policy.Failure, Title: "Every key a workload reads from a rendered ConfigMap or Secret exists", Description: "A configMapKeyRef, secretKeyRef or volume item naming a key the rendered ConfigMap or Secret does not hold (unless optional)."},
		{ID: RuleUnusedExternal, Severity: policy.Warning, Title: "Every external object is referenced", Description: "An object declared in env.yaml external that no rendered workload references: remove it, or it hides the next dangling reference."},
	}
}

// ref is one reference of a workload.
type ref struct {
	kind, name, field string
	// key is the key read from a ConfigMap or Secret, when one is.
	key      string
	optional bool
}

// builtins exist in every cluster.
var builtins = map[string]map[string]bool{
	"ServiceAccount": {"default": true},
	"PriorityClass":  {"system-cluster-critical": true, "system-node-critical": true},
}

// namespaced are the kinds a reference resolves in the workload's namespace.
var namespaced = map[string]bool{"ConfigMap": true, "Secret": true, "PersistentVolumeClaim": true, "ServiceAccount": true, "Service": true}

// Check resolves the references of one environment's workloads.
func (Check) Check(_ context.Context, in envcheck.Input) ([]envcheck.Finding, error) {
	env := in.Environment
	wls, err := workload.Find(in.Releases)
	if err != nil {
		return nil, err
	}
	rendered := map[string]*render.Object{} // kind/namespace/name (namespace empty for cluster-scoped)
	for _, r := range in.Releases {
		for _, o := range r.Objects {
			if o.Group() != "" && !(o.Kind == "PriorityClass" && o.Group() == "scheduling.k8s.io") {
				continue
			}
			ns := ""
			if namespaced[o.Kind] {
				ns = o.Namespace
				if ns == "" {
					ns = r.Namespace
				}
			}
			rendered[o.Kind+"/"+ns+"/"+o.Name] = o
		}
	}
	external := map[string]bool{}
	lists := env.External.Lists()
	for _, l := range lists {
		for _, n := range l.Names {
			external[l.Kind+"/"+n] = true
		}
	}
	used := map[string]bool{}
	var out []envcheck.Finding
	for _, w := range wls {
		for _, rf := range refsOf(w) {
			ns := ""
			if namespaced[rf.kind] {
				ns = w.Namespace
			}
			obj, isRendered := rendered[rf.kind+"/"+ns+"/"+rf.name]
			switch {
			case isRendered:
				if rf.key != "" && !rf.optional && !hasKey(obj, rf.key) {
					out = append(out, envcheck.Finding{Release: w.Release, Object: w.Object, Rule: RuleMissingKey, Severity: policy.Failure,
						Message: fmt.Sprintf("%s: %s reads key %q of %s %q, which the rendered %s does not hold (keys: %s)", w.Name(), rf.field, rf.key, rf.kind, rf.name, rf.kind, strings.Join(keysOf(obj), ", "))})
				}
			case external[rf.kind+"/"+rf.name]:
				used[rf.kind+"/"+rf.name] = true
			case builtins[rf.kind][rf.name], rf.optional:
			default:
				out = append(out, envcheck.Finding{Release: w.Release, Object: w.Object, Rule: RuleDangling, Severity: policy.Failure,
					Message: fmt.Sprintf("%s: %s references %s %q, which is neither rendered in %s nor declared in %s (external.%s)", w.Name(), rf.field, rf.kind, rf.name, env.Name, env.File, kit.ExternalKey(rf.kind))})
			}
		}
	}
	for _, l := range lists {
		for i, n := range l.Names {
			if used[l.Kind+"/"+n] {
				continue
			}
			out = append(out, envcheck.Finding{Rule: RuleUnusedExternal, Severity: policy.Warning, File: env.File, Line: env.Line("external", l.Key, fmt.Sprint(i)),
				Message: fmt.Sprintf("external.%s[%d]: %s %q is declared external in %s but no rendered workload references it", l.Key, i, l.Kind, n, env.Name)})
		}
	}
	return out, nil
}

// refsOf lists a workload's references, with their field paths.
func refsOf(w *workload.Workload) []ref {
	var out []ref
	s := &w.Spec
	base := w.SpecPath
	add := func(kind, name, field, key string, optional *bool) {
		if name == "" {
			return
		}
		out = append(out, ref{kind: kind, name: name, field: field, key: key, optional: optional != nil && *optional})
	}
	if s.ServiceAccountName != "" {
		add("ServiceAccount", s.ServiceAccountName, base+".serviceAccountName", "", nil)
	}
	if s.PriorityClassName != "" {
		add("PriorityClass", s.PriorityClassName, base+".priorityClassName", "", nil)
	}
	for i, ps := range s.ImagePullSecrets {
		add("Secret", ps.Name, fmt.Sprintf("%s.imagePullSecrets[%d].name", base, i), "", nil)
	}
	for i, v := range s.Volumes {
		vp := fmt.Sprintf("%s.volumes[%d]", base, i)
		switch {
		case v.ConfigMap != nil:
			add("ConfigMap", v.ConfigMap.Name, vp+".configMap.name", "", v.ConfigMap.Optional)
			for j, it := range v.ConfigMap.Items {
				add("ConfigMap", v.ConfigMap.Name, fmt.Sprintf("%s.configMap.items[%d].key", vp, j), it.Key, v.ConfigMap.Optional)
			}
		case v.Secret != nil:
			add("Secret", v.Secret.SecretName, vp+".secret.secretName", "", v.Secret.Optional)
			for j, it := range v.Secret.Items {
				add("Secret", v.Secret.SecretName, fmt.Sprintf("%s.secret.items[%d].key", vp, j), it.Key, v.Secret.Optional)
			}
		case v.PersistentVolumeClaim != nil:
			add("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName, vp+".persistentVolumeClaim.claimName", "", nil)
		case v.Projected != nil:
			for j, src := range v.Projected.Sources {
				sp := fmt.Sprintf("%s.projected.sources[%d]", vp, j)
				if cm := src.ConfigMap; cm != nil {
					add("ConfigMap", cm.Name, sp+".configMap.name", "", cm.Optional)
					for k, it := range cm.Items {
						add("ConfigMap", cm.Name, fmt.Sprintf("%s.configMap.items[%d].key", sp, k), it.Key, cm.Optional)
					}
				}
				if sec := src.Secret; sec != nil {
					add("Secret", sec.Name, sp+".secret.name", "", sec.Optional)
					for k, it := range sec.Items {
						add("Secret", sec.Name, fmt.Sprintf("%s.secret.items[%d].key", sp, k), it.Key, sec.Optional)
					}
				}
			}
		}
	}
	containers := func(field string, cs []corev1.Container) {
		for i, c := range cs {
			cp := fmt.Sprintf("%s.%s[%d]", base, field, i)
			for j, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					add("ConfigMap", ef.ConfigMapRef.Name, fmt.Sprintf("%s.envFrom[%d].configMapRef.name", cp, j), "", ef.ConfigMapRef.Optional)
				}
				if ef.SecretRef != nil {
					add("Secret", ef.SecretRef.Name, fmt.Sprintf("%s.envFrom[%d].secretRef.name", cp, j), "", ef.SecretRef.Optional)
				}
			}
			for j, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				ep := fmt.Sprintf("%s.env[%d].valueFrom", cp, j)
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					add("ConfigMap", r.Name, ep+".configMapKeyRef", r.Key, r.Optional)
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					add("Secret", r.Name, ep+".secretKeyRef", r.Key, r.Optional)
				}
			}
		}
	}
	containers("initContainers", s.InitContainers)
	containers("containers", s.Containers)
	if w.Object.Kind == "StatefulSet" {
		if svc, _ := nestedString(w.Object.Content, "spec", "serviceName"); svc != "" {
			add("Service", svc, "spec.serviceName", "", nil)
		}
	}
	return out
}

func nestedString(m map[string]any, keys ...string) (string, bool) {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		cur = mm[k]
	}
	s, ok := cur.(string)
	return s, ok
}

// hasKey says whether a rendered ConfigMap or Secret holds a key (data, binaryData, stringData).
func hasKey(o *render.Object, key string) bool {
	for _, f := range []string{"data", "binaryData", "stringData"} {
		if m, ok := o.Content[f].(map[string]any); ok {
			if _, ok := m[key]; ok {
				return true
			}
		}
	}
	return false
}

func keysOf(o *render.Object) []string {
	var out []string
	for _, f := range []string{"data", "binaryData", "stringData"} {
		if m, ok := o.Content[f].(map[string]any); ok {
			for k := range m {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}
