package impact

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The immutable fields below are those the API server's update validation refuses to change,
// read from Kubernetes v1.37.2 (k8s.io/kubernetes@v1.37.2, the kube-apiserver the tests run):
//
//   - pkg/apis/apps/validation/validation.go: ValidateDeploymentUpdate, ValidateReplicaSetUpdate,
//     ValidateDaemonSetSpecUpdate (spec.selector); ValidateStatefulSetUpdate (spec.selector,
//     spec.volumeClaimTemplates, spec.serviceName, spec.podManagementPolicy).
//   - pkg/apis/batch/validation/validation.go: ValidateJobSpecUpdate (spec.selector,
//     spec.completionMode, spec.podFailurePolicy, spec.backoffLimitPerIndex, spec.managedBy,
//     spec.successPolicy, and validatePodTemplateUpdate: spec.template of a Job that is not
//     suspended). ValidateCronJobUpdate has no immutable field.
//   - pkg/apis/core/validation/validation.go: ValidateServiceUpdate
//     (validateUpgradeDowngradeClusterIPs: clusterIP/clusterIPs "may not change once set",
//     validateUpgradeDowngradeIPFamilies), with pkg/registry/core/service/storage/storage.go
//     patchAllocatedValues (an omitted clusterIP keeps the allocated one);
//     ValidatePersistentVolumeClaimUpdate (spec immutable except resources.requests and
//     volumeAttributesClassName of a bound claim; storage "can not be less than previous value");
//     ValidateSecretUpdate (type; data of an immutable Secret); ValidateConfigMapUpdate (data and
//     binaryData of an immutable ConfigMap).
//   - pkg/apis/rbac/validation/validation.go: ValidateRoleBindingUpdate (roleRef), also for
//     ClusterRoleBindings.
//   - k8s.io/apiextensions-apiserver@v0.37.2 pkg/apis/apiextensions/validation/validation.go:
//     ValidateCustomResourceDefinitionUpdate (requireImmutableNames: spec.scope and
//     spec.names.kind once established), ValidateCustomResourceDefinitionStoredVersions (a stored
//     version cannot leave spec.versions).
//
// NetworkPolicy, Ingress, PodDisruptionBudget, HorizontalPodAutoscaler, ServiceAccount, Role,
// CronJob and the custom resources the kit renders (CronWorkflow, WorkflowTemplate,
// ServiceMonitor, PodMonitor: their CRDs in cli/pkg/crds declare no x-kubernetes-validations
// transition rule) have no immutable field beyond metadata.name and namespace.
//
// Hooks are exempt: Argo CD deletes a hook and creates it again (BeforeHookCreation is its
// default delete policy), so an immutable field of a hook Job never fails a sync.

// fix is what Argo CD needs to get past a refused update (docs/user-guide/sync-options.md of
// argoproj/argo-cd: Force=true with Replace=true deletes and recreates the resource).
const fix = "annotate it argocd.argoproj.io/sync-options: Force=true,Replace=true (delete and recreate) or delete it before syncing"

func (c *change) syncFails() {
	if !c.changed() || c.hook != "" {
		return
	}
	refuse := func(what string, paths ...string) {
		c.add(SyncFails, fmt.Sprintf("the API server refuses to change %s of a %s: %s", what, c.kind, fix), paths...)
	}
	switch c.group + "/" + c.kind {
	case "apps/Deployment", "apps/ReplicaSet", "apps/DaemonSet":
		if p := c.under("spec", "selector"); len(p) > 0 {
			refuse("spec.selector", p...)
		}
		if c.kind == "Deployment" {
			c.defaultedRollingUpdate("strategy", "Recreate")
		}
	case "apps/StatefulSet":
		var what, paths []string
		if p := c.under("spec", "selector"); len(p) > 0 {
			what, paths = append(what, "spec.selector"), append(paths, p...)
		}
		if p := c.vctChanges(); len(p) > 0 {
			what, paths = append(what, "spec.volumeClaimTemplates"), append(paths, p...)
		}
		if getString(c.b, "spec", "serviceName") != getString(c.h, "spec", "serviceName") {
			what, paths = append(what, "spec.serviceName"), append(paths, "spec.serviceName")
		}
		if defaulted(getString(c.b, "spec", "podManagementPolicy"), "OrderedReady") != defaulted(getString(c.h, "spec", "podManagementPolicy"), "OrderedReady") {
			what, paths = append(what, "spec.podManagementPolicy"), append(paths, "spec.podManagementPolicy")
		}
		if len(what) > 0 {
			refuse(strings.Join(what, ", "), paths...)
		}
		c.defaultedRollingUpdate("updateStrategy", "OnDelete")
	case "batch/Job":
		var what, paths []string
		for _, f := range []string{"selector", "template", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"} {
			if f == "template" && get(c.b, "spec", "suspend") == true {
				continue
			}
			if p := c.under("spec", f); len(p) > 0 {
				what, paths = append(what, "spec."+f), append(paths, p...)
			}
		}
		if len(what) > 0 {
			refuse(strings.Join(what, ", "), paths...)
		}
	case "/Service":
		c.serviceIPs(refuse)
	case "/PersistentVolumeClaim":
		c.pvcSpec(refuse)
	case "/ConfigMap", "/Secret":
		if c.kind == "Secret" && defaulted(getString(c.b, "type"), "Opaque") != defaulted(getString(c.h, "type"), "Opaque") {
			refuse("the type", "type")
		}
		if get(c.b, "immutable") != true {
			return
		}
		var paths []string
		if get(c.h, "immutable") != true {
			paths = append(paths, "immutable")
		}
		if c.kind == "Secret" {
			if !same(secretData(c.b), secretData(c.h)) {
				paths = append(paths, c.under("data")...)
				paths = append(paths, c.under("stringData")...)
			}
		} else {
			paths = append(paths, c.under("data")...)
			paths = append(paths, c.under("binaryData")...)
		}
		if len(paths) > 0 {
			refuse("the data of an immutable (immutable: true)", paths...)
		}
	case "rbac.authorization.k8s.io/RoleBinding", "rbac.authorization.k8s.io/ClusterRoleBinding":
		if p := c.under("roleRef"); len(p) > 0 {
			refuse("roleRef", p...)
		}
	case "apiextensions.k8s.io/CustomResourceDefinition":
		var what, paths []string
		if defaulted(getString(c.b, "spec", "scope"), "Namespaced") != defaulted(getString(c.h, "spec", "scope"), "Namespaced") {
			what, paths = append(what, "spec.scope"), append(paths, "spec.scope")
		}
		if getString(c.b, "spec", "names", "kind") != getString(c.h, "spec", "names", "kind") {
			what, paths = append(what, "spec.names.kind"), append(paths, "spec.names.kind")
		}
		// Offline the base's storage version is stored; a live object lists every stored one.
		stored := map[string]bool{storageVersion(c.b): true}
		for _, v := range getList(c.b, "status", "storedVersions") {
			stored[fmt.Sprint(v)] = true
		}
		for _, v := range getList(c.b, "spec", "versions") {
			vm, _ := v.(map[string]any)
			if n := getString(vm, "name"); n != "" && stored[n] && !hasVersion(c.h, n) {
				what, paths = append(what, "spec.versions (stored version "+n+" removed)"), append(paths, "spec.versions")
			}
		}
		if len(what) > 0 {
			refuse(strings.Join(what, ", "), paths...)
		}
	}
}

// defaultedRollingUpdate predicts the refusal of a switch to a strategy that forbids
// rollingUpdate (a Deployment's Recreate: ValidateDeploymentStrategy, "may not be specified when
// strategy type is 'Recreate'"; a StatefulSet's OnDelete: ValidateStatefulSetSpec, "only allowed
// for updateStrategy 'RollingUpdate'") when the base left rollingUpdate to the server's
// defaults: an apply (server-side or kubectl's three-way merge) only removes fields it set, so
// the defaulted rollingUpdate stays beside the new type. Found by TestSyncFailsMatchesAPIServer.
func (c *change) defaultedRollingUpdate(field, forbidding string) {
	bt := getString(c.b, "spec", field, "type")
	ht := getString(c.h, "spec", field, "type")
	if ht != forbidding || bt == forbidding || get(c.b, "spec", field, "rollingUpdate") != nil || get(c.h, "spec", field, "rollingUpdate") != nil {
		return
	}
	c.add(SyncFails, fmt.Sprintf("the API server refuses spec.%s.type %s: the rollingUpdate it defaulted stays beside it (an apply removes only fields it set): %s", field, forbidding, fix), "spec."+field+".type")
}

func defaulted(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// vctChanges lists the changed paths of a StatefulSet's volumeClaimTemplates, counting an
// omitted volumeMode as the server's default (Filesystem) and ignoring what the server does not
// keep (apiVersion, kind, status of a template).
func (c *change) vctChanges() []string {
	p := c.under("spec", "volumeClaimTemplates")
	if len(p) == 0 {
		return nil
	}
	norm := func(obj map[string]any) []any {
		var out []any
		for _, t := range getList(obj, "spec", "volumeClaimTemplates") {
			tm, _ := t.(map[string]any)
			cp := map[string]any{}
			for k, v := range tm {
				// The server keeps neither the type fields nor a status of a claim template.
				if k != "apiVersion" && k != "kind" && k != "status" {
					cp[k] = v
				}
			}
			if spec, ok := tm["spec"].(map[string]any); ok {
				s2 := map[string]any{}
				for k, v := range spec {
					s2[k] = v
				}
				if s2["volumeMode"] == nil {
					s2["volumeMode"] = "Filesystem"
				}
				cp["spec"] = s2
			}
			out = append(out, cp)
		}
		return out
	}
	if same(norm(c.b), norm(c.h)) {
		return nil
	}
	return p
}

// serviceIPs predicts validateUpgradeDowngradeClusterIPs: an allocated or set cluster IP may not
// change; an omitted one keeps the allocated IP (patchAllocatedValues); ExternalName on either
// side is exempt.
func (c *change) serviceIPs(refuse func(string, ...string)) {
	bt, ht := defaulted(getString(c.b, "spec", "type"), "ClusterIP"), defaulted(getString(c.h, "spec", "type"), "ClusterIP")
	if bt == "ExternalName" || ht == "ExternalName" {
		return
	}
	bip, hip := getString(c.b, "spec", "clusterIP"), getString(c.h, "spec", "clusterIP")
	if ips := getList(c.b, "spec", "clusterIPs"); bip == "" && len(ips) > 0 {
		bip = fmt.Sprint(ips[0])
	}
	if ips := getList(c.h, "spec", "clusterIPs"); hip == "" && len(ips) > 0 {
		hip = fmt.Sprint(ips[0])
	}
	var paths []string
	switch {
	case hip == "":
		// Omitted: the allocated (or set) IP is kept.
	case bip == "" && hip != "":
		// The base's IP was allocated by the server: a rendered one (None, or an address) differs
		// from it, short of naming the very address allocated, which a chart cannot know.
		paths = append(paths, "spec.clusterIP")
	case bip != hip:
		paths = append(paths, "spec.clusterIP")
	}
	bf, hf := getList(c.b, "spec", "ipFamilies"), getList(c.h, "spec", "ipFamilies")
	if len(bf) > 0 && len(hf) > 0 && !same(bf[0], hf[0]) {
		paths = append(paths, "spec.ipFamilies[0]")
	}
	if len(paths) > 0 {
		refuse(strings.Join(paths, ", ")+" (may not change once set)", paths...)
	}
}

// pvcSpec predicts ValidatePersistentVolumeClaimUpdate for a bound claim: only
// resources.requests (storage may grow, never shrink) and volumeAttributesClassName may change.
func (c *change) pvcSpec(refuse func(string, ...string)) {
	var other []string
	for _, p := range c.paths {
		if !p.hasPrefix([]any{"spec"}) {
			continue
		}
		if p.hasPrefix([]any{"spec", "resources", "requests"}) || p.hasPrefix([]any{"spec", "volumeAttributesClassName"}) {
			continue
		}
		// volumeName may be set once, while the claim has none.
		if p.hasPrefix([]any{"spec", "volumeName"}) && getString(c.b, "spec", "volumeName") == "" {
			continue
		}
		other = append(other, p.String())
	}
	if len(other) > 0 {
		refuse("the spec (only resources.requests may change)", other...)
	}
	if shrunk, from, to := storageShrunk(c.b, c.h, "spec"); shrunk {
		refuse(fmt.Sprintf("the storage request downwards (%s → %s)", from, to), "spec.resources.requests.storage")
	}
}

// storageShrunk compares the storage request under spec path keys.
func storageShrunk(b, h map[string]any, keys ...string) (bool, string, string) {
	from := getString(getMap(b, keys...), "resources", "requests", "storage")
	to := getString(getMap(h, keys...), "resources", "requests", "storage")
	if from == "" || to == "" || from == to {
		return false, from, to
	}
	fq, err1 := resource.ParseQuantity(from)
	tq, err2 := resource.ParseQuantity(to)
	if err1 != nil || err2 != nil {
		return false, from, to
	}
	return tq.Cmp(fq) < 0, from, to
}

// secretData is a Secret's data as the server stores it: stringData folds into data (values
// compared as given; both sides are rendered the same way).
func secretData(obj map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range getMap(obj, "data") {
		out[k] = v
	}
	for k, v := range getMap(obj, "stringData") {
		out[k] = "string:" + fmt.Sprint(v)
	}
	return out
}

func storageVersion(crd map[string]any) string {
	for _, v := range getList(crd, "spec", "versions") {
		vm, _ := v.(map[string]any)
		if vm["storage"] == true {
			return getString(vm, "name")
		}
	}
	return ""
}

func hasVersion(crd map[string]any, name string) bool {
	for _, v := range getList(crd, "spec", "versions") {
		vm, _ := v.(map[string]any)
		if getString(vm, "name") == name {
			return true
		}
	}
	return false
}
