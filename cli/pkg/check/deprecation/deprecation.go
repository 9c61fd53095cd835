// Package deprecation tells whether an API version is deprecated or removed in a Kubernetes
// version, like pluto. The source of truth is the API types themselves: every pre-release
// version in k8s.io/api carries the release it was deprecated and removed in
// (zz_generated.prerelease-lifecycle.go, what the API server uses for its deprecation warnings).
// API versions already deleted from k8s.io/api come from a short table.
package deprecation

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Rule IDs of deprecation findings.
const (
	RuleRemoved    = "api_removed"
	RuleDeprecated = "api_deprecated"
)

// Version is a Kubernetes minor release.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

func (v Version) atLeast(o Version) bool {
	return v.Major > o.Major || v.Major == o.Major && v.Minor >= o.Minor
}

// ParseVersion reads "1.29", "v1.29.4" or "1.30.0-eks".
func ParseVersion(s string) (Version, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("%q is not a Kubernetes version such as 1.30.2", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return Version{}, fmt.Errorf("%q is not a Kubernetes version such as 1.30.2", s)
	}
	return Version{major, minor}, nil
}

// Lifecycle is when an API version of a kind stops being usable.
type Lifecycle struct {
	Deprecated  Version
	Removed     Version
	Replacement string // apiVersion of the replacement, when there is one
}

type lifecycled interface {
	APILifecycleDeprecated() (int, int)
	APILifecycleRemoved() (int, int)
}

type replaced interface {
	APILifecycleReplacement() schema.GroupVersionKind
}

// removedTable lists API versions that k8s.io/api no longer carries (and a few it still carries,
// for schemes without them).
var removedTable = buildTable()

func buildTable() map[schema.GroupVersionKind]Lifecycle {
	t := map[schema.GroupVersionKind]Lifecycle{}
	add := func(gv string, kinds []string, dep, rem Version, repl string) {
		g, _ := schema.ParseGroupVersion(gv)
		for _, k := range kinds {
			t[g.WithKind(k)] = Lifecycle{Deprecated: dep, Removed: rem, Replacement: repl}
		}
	}
	add("extensions/v1beta1", []string{"Deployment", "DaemonSet", "ReplicaSet"}, Version{1, 8}, Version{1, 16}, "apps/v1")
	add("extensions/v1beta1", []string{"NetworkPolicy"}, Version{1, 9}, Version{1, 16}, "networking.k8s.io/v1")
	add("extensions/v1beta1", []string{"PodSecurityPolicy"}, Version{1, 10}, Version{1, 16}, "")
	add("extensions/v1beta1", []string{"Ingress"}, Version{1, 14}, Version{1, 22}, "networking.k8s.io/v1")
	add("apps/v1beta1", []string{"Deployment", "StatefulSet", "ControllerRevision"}, Version{1, 9}, Version{1, 16}, "apps/v1")
	add("apps/v1beta2", []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ControllerRevision"}, Version{1, 9}, Version{1, 16}, "apps/v1")
	add("autoscaling/v2beta1", []string{"HorizontalPodAutoscaler"}, Version{1, 22}, Version{1, 25}, "autoscaling/v2")
	add("autoscaling/v2beta2", []string{"HorizontalPodAutoscaler"}, Version{1, 23}, Version{1, 26}, "autoscaling/v2")
	add("batch/v1beta1", []string{"CronJob"}, Version{1, 21}, Version{1, 25}, "batch/v1")
	add("batch/v2alpha1", []string{"CronJob"}, Version{1, 8}, Version{1, 21}, "batch/v1")
	add("policy/v1beta1", []string{"PodDisruptionBudget"}, Version{1, 21}, Version{1, 25}, "policy/v1")
	add("policy/v1beta1", []string{"PodSecurityPolicy"}, Version{1, 21}, Version{1, 25}, "")
	add("apiextensions.k8s.io/v1beta1", []string{"CustomResourceDefinition"}, Version{1, 16}, Version{1, 22}, "apiextensions.k8s.io/v1")
	add("apiregistration.k8s.io/v1beta1", []string{"APIService"}, Version{1, 19}, Version{1, 22}, "apiregistration.k8s.io/v1")
	add("networking.k8s.io/v1beta1", []string{"Ingress", "IngressClass"}, Version{1, 19}, Version{1, 22}, "networking.k8s.io/v1")
	add("rbac.authorization.k8s.io/v1beta1", []string{"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}, Version{1, 17}, Version{1, 22}, "rbac.authorization.k8s.io/v1")
	add("scheduling.k8s.io/v1beta1", []string{"PriorityClass"}, Version{1, 14}, Version{1, 22}, "scheduling.k8s.io/v1")
	add("storage.k8s.io/v1beta1", []string{"CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"}, Version{1, 19}, Version{1, 22}, "storage.k8s.io/v1")
	add("storage.k8s.io/v1beta1", []string{"CSIStorageCapacity"}, Version{1, 24}, Version{1, 27}, "storage.k8s.io/v1")
	add("discovery.k8s.io/v1beta1", []string{"EndpointSlice"}, Version{1, 21}, Version{1, 25}, "discovery.k8s.io/v1")
	add("flowcontrol.apiserver.k8s.io/v1beta1", []string{"FlowSchema", "PriorityLevelConfiguration"}, Version{1, 23}, Version{1, 26}, "flowcontrol.apiserver.k8s.io/v1")
	add("flowcontrol.apiserver.k8s.io/v1beta2", []string{"FlowSchema", "PriorityLevelConfiguration"}, Version{1, 26}, Version{1, 29}, "flowcontrol.apiserver.k8s.io/v1")
	add("node.k8s.io/v1beta1", []string{"RuntimeClass"}, Version{1, 22}, Version{1, 25}, "node.k8s.io/v1")
	add("admissionregistration.k8s.io/v1beta1", []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}, Version{1, 16}, Version{1, 22}, "admissionregistration.k8s.io/v1")
	add("certificates.k8s.io/v1beta1", []string{"CertificateSigningRequest"}, Version{1, 19}, Version{1, 22}, "certificates.k8s.io/v1")
	add("coordination.k8s.io/v1beta1", []string{"Lease"}, Version{1, 19}, Version{1, 22}, "coordination.k8s.io/v1")
	add("events.k8s.io/v1beta1", []string{"Event"}, Version{1, 22}, Version{1, 25}, "events.k8s.io/v1")
	return t
}

// Of returns the lifecycle of a built-in API version and kind; ok is false for GA versions and
// kinds Kubernetes does not serve (custom resources). The API types' own markers win over the table.
func Of(scheme *runtime.Scheme, gvk schema.GroupVersionKind) (Lifecycle, bool) {
	if scheme != nil && scheme.Recognizes(gvk) {
		obj, err := scheme.New(gvk)
		if err == nil {
			if l, ok := obj.(lifecycled); ok {
				dMaj, dMin := l.APILifecycleDeprecated()
				rMaj, rMin := l.APILifecycleRemoved()
				if dMaj == 0 && rMaj == 0 {
					return Lifecycle{}, false
				}
				lc := Lifecycle{Deprecated: Version{dMaj, dMin}, Removed: Version{rMaj, rMin}}
				if r, ok := obj.(replaced); ok {
					if rg := r.APILifecycleReplacement(); rg.Version != "" {
						lc.Replacement = rg.GroupVersion().String()
					}
				}
				return lc, true
			}
		}
	}
	lc, ok := removedTable[gvk]
	return lc, ok
}

// Finding is a deprecation problem: Rule is RuleRemoved (a failure: the cluster rejects the
// object) or RuleDeprecated (a warning).
type Finding struct {
	Rule    string
	Message string
}

// Check tells whether gvk is removed or deprecated in the cluster version kube.
func Check(scheme *runtime.Scheme, gvk schema.GroupVersionKind, kube Version) *Finding {
	lc, ok := Of(scheme, gvk)
	if !ok {
		return nil
	}
	use := ""
	if lc.Replacement != "" {
		use = ": use " + lc.Replacement
	}
	apiVersion := gvk.GroupVersion().String()
	switch {
	case lc.Removed.Major > 0 && kube.atLeast(lc.Removed):
		return &Finding{RuleRemoved, fmt.Sprintf("%s %s was removed in Kubernetes %s and the environment runs %s%s", apiVersion, gvk.Kind, lc.Removed, kube, use)}
	case lc.Deprecated.Major > 0 && kube.atLeast(lc.Deprecated):
		removal := ""
		if lc.Removed.Major > 0 {
			removal = fmt.Sprintf(", removal in %s", lc.Removed)
		}
		return &Finding{RuleDeprecated, fmt.Sprintf("%s %s is deprecated since Kubernetes %s (the environment runs %s%s)%s", apiVersion, gvk.Kind, lc.Deprecated, kube, removal, use)}
	}
	return nil
}
