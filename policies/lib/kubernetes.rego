# METADATA
# title: Kubernetes helpers
# description: |
#   Shared helpers for the Lakeport policies: object names for messages, the pods an object runs
#   (Kubernetes workloads and Argo Workflows templates alike), their containers, label selectors,
#   images and the objects of the same environment (data.lakeport.objects).
package lib.kubernetes

# The environment being checked (environments/<env>/env.yaml), as data.
default environment := {}

environment := data.lakeport.environment

# Every object rendered for the environment, as data (cross-object rules look here).
default objects := []

objects := data.lakeport.objects

# Environments held to the production rules (replicas, PDBs, topology spread, TLS).
production_environments := {"prod"}

production if environment.name in production_environments

# name is how messages name an object: "Deployment trino-worker".
name(obj) := sprintf("%s %s", [obj.kind, obj.metadata.name])

namespace(obj) := ns if {
	ns := obj.metadata.namespace
} else := object.get(environment, "namespace", "")

same_namespace(a, b) if namespace(a) == namespace(b)

labels(obj) := object.get(obj, ["metadata", "labels"], {})

annotations(obj) := object.get(obj, ["metadata", "annotations"], {})

# --- workloads and their pods ---------------------------------------------------------------------

pod_template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

argo_workflow_kinds := {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"}

# Kinds that run pods.
workload_kinds := (pod_template_kinds | argo_workflow_kinds) | {"Pod", "CronJob"}

is_workload(obj) if {
	obj.kind in workload_kinds
	not template_ref_only(obj)
}

# template_ref_only: an Argo Workflows object that only references a WorkflowTemplate
# (workflowTemplateRef, no templates of its own) runs the template's pods, checked as the
# template's.
template_ref_only(obj) if {
	obj.kind in argo_workflow_kinds
	spec := workflow_spec(obj)
	spec.workflowTemplateRef
	not spec.templates
}

# Long-running workloads, whose replicas are counted.
replicated_kinds := {"Deployment", "StatefulSet", "ReplicaSet"}

# workflow_spec is the WorkflowSpec of an Argo Workflows object.
workflow_spec(obj) := obj.spec.workflowSpec if obj.kind == "CronWorkflow"

workflow_spec(obj) := obj.spec if obj.kind in {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate"}

# pod_spec is the pod spec of a Kubernetes workload.
pod_spec(obj) := obj.spec if obj.kind == "Pod"

pod_spec(obj) := obj.spec.template.spec if obj.kind in pod_template_kinds

pod_spec(obj) := obj.spec.jobTemplate.spec.template.spec if obj.kind == "CronJob"

# pod_labels are the labels of the pods an object runs.
pod_labels(obj) := labels(obj) if obj.kind == "Pod"

pod_labels(obj) := object.get(obj.spec.template, ["metadata", "labels"], {}) if obj.kind in pod_template_kinds

pod_labels(obj) := object.get(obj.spec.jobTemplate.spec.template, ["metadata", "labels"], {}) if obj.kind == "CronJob"

pod_labels(obj) := object.get(workflow_spec(obj), ["podMetadata", "labels"], {}) if obj.kind in argo_workflow_kinds

container_fields := ["initContainers", "containers", "ephemeralContainers"]

# pods lists the pods an object runs, each as {"where", "spec", "containers"}: spec holds the
# pod-level fields (securityContext, hostNetwork, volumes...), containers every container with
# "where" naming it in messages. A Kubernetes workload runs one pod; an Argo Workflows object one
# per template that runs containers.
pods(obj) := [{"where": "", "spec": spec, "containers": cs}] if {
	spec := pod_spec(obj)
	cs := [c | some f in container_fields; some c in object.get(spec, f, [])]
}

pods(obj) := [p |
	wf := workflow_spec(obj)
	some t in object.get(wf, "templates", [])
	cs := template_containers(t)
	count(cs) > 0
	spec := object.union(object.filter(wf, {"hostNetwork", "hostPID", "hostIPC", "securityContext", "volumes", "hostAliases"}), object.filter(t, {"securityContext", "volumes", "hostNetwork"}))
	p := {"where": sprintf(" in template %q", [t.name]), "spec": spec, "containers": cs}
] if obj.kind in argo_workflow_kinds

template_containers(t) := [c |
	some c in array.concat(
		array.concat(
			[x | some f in ["container", "script"]; x := object.get(t, f, null); x != null],
			object.get(t, ["containerSet", "containers"], []),
		),
		array.concat(object.get(t, "initContainers", []), object.get(t, "sidecars", [])),
	)
]

# input_pods and input_containers are pods(input) and containers(input), for the rules: OPA
# remembers a rule's value for the whole evaluation of one input, but not a function's result, so
# each of the twenty-odd rules that called containers(input) built the list again (most of the
# policies' time on a fleet's workloads, issue 14).
input_pods := pods(input)

input_containers := containers(input)

# containers lists {"where", "container", "pod"} for every container of an object.
containers(obj) := [{"where": p.where, "container": c, "pod": p.spec} | some p in pods(obj); some c in p.containers]

# container_name names a container in messages: `container "trino"`, `container "main" in template "publish"`.
container_name(c) := sprintf("container %q%s", [object.get(c.container, "name", "main"), c.where])

# --- replicas and selectors ------------------------------------------------------------------------

# hpa is the (first) HorizontalPodAutoscaler that scales obj, if any.
hpa(obj) := hs[0] if {
	hs := [h |
		some h in objects
		h.kind == "HorizontalPodAutoscaler"
		same_namespace(h, obj)
		h.spec.scaleTargetRef.kind == obj.kind
		h.spec.scaleTargetRef.name == obj.metadata.name
	]
	count(hs) > 0
}

# min_replicas is the fewest replicas a replicated workload runs: its HPA's minReplicas when
# autoscaled, else spec.replicas (default 1).
min_replicas(obj) := object.get(h.spec, "minReplicas", 1) if {
	h := hpa(obj)
} else := object.get(obj.spec, "replicas", 1)

# max_replicas is the most replicas a replicated workload runs.
max_replicas(obj) := h.spec.maxReplicas if {
	h := hpa(obj)
} else := object.get(obj.spec, "replicas", 1)

multi_replica(obj) if {
	obj.kind in replicated_kinds
	max_replicas(obj) >= 2
}

# selects(selector, lbls) is a metav1.LabelSelector match; an empty selector selects everything.
selects(selector, lbls) if {
	every k, v in object.get(selector, "matchLabels", {}) {
		lbls[k] == v
	}
	every e in object.get(selector, "matchExpressions", []) {
		expression_matches(e, lbls)
	}
}

expression_matches(e, lbls) if {
	e.operator == "In"
	lbls[e.key] in e.values
}

expression_matches(e, lbls) if {
	e.operator == "NotIn"
	not lbls[e.key] in e.values
}

expression_matches(e, lbls) if {
	e.operator == "Exists"
	lbls[e.key]
}

expression_matches(e, lbls) if {
	e.operator == "DoesNotExist"
	not lbls[e.key]
}

# --- images ------------------------------------------------------------------------------------------

# image_ref splits an image reference into registry, repository, tag and digest, the way the
# container runtime resolves it (docker.io and library/ are implied).
image_ref(image) := {"registry": registry, "repository": repo, "tag": tag, "digest": digest} if {
	[named, digest] := split_digest(image)
	parts := split(named, "/")
	first_is_registry(parts)
	registry := parts[0]
	[repo, tag] := split_tag(concat("/", array.slice(parts, 1, count(parts))))
} else := {"registry": "docker.io", "repository": repo, "tag": tag, "digest": digest} if {
	[named, digest] := split_digest(image)
	[path, tag] := split_tag(named)
	repo := library(path)
}

first_is_registry(parts) if {
	count(parts) > 1
	regex.match(`[.:]|^localhost$`, parts[0])
}

library(path) := concat("/", ["library", path]) if not contains(path, "/")

library(path) := path if contains(path, "/")

split_digest(image) := [named, digest] if {
	[named, digest] := split(image, "@")
} else := [image, ""]

split_tag(named) := [repo, tag] if {
	parts := split(named, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	[name, tag] := split(last, ":")
	repo := concat("/", array.concat(array.slice(parts, 0, count(parts) - 1), [name]))
} else := [named, ""]

# image_name is registry/repository, e.g. docker.io/trinodb/trino.
image_name(image) := sprintf("%s/%s", [r.registry, r.repository]) if r := image_ref(image)
