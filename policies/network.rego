# Network isolation.
# Every pod is selected by a NetworkPolicy of its namespace, so that the namespace's traffic is
# default-deny plus what each component declares.
package main

import data.lib.kubernetes as k8s

# METADATA
# title: A NetworkPolicy selects every workload
# custom:
#   severity: failure
deny_network_policy contains msg if {
	k8s.is_workload(input)
	lbls := k8s.pod_labels(input)
	not selected(input, lbls)
	msg := sprintf("%s: no NetworkPolicy of namespace %s selects its pods: add one whose podSelector matches the pod labels", [k8s.name(input), k8s.namespace(input)])
}

selected(obj, lbls) if {
	some np in k8s.objects
	np.kind == "NetworkPolicy"
	k8s.same_namespace(np, obj)
	k8s.selects(np.spec.podSelector, lbls)
}
