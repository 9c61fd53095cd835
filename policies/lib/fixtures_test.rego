# Objects the policy tests start from: each passes every policy in a production environment, and
# each test breaks exactly one thing.
package lib.fixtures

pod_labels := {"app.kubernetes.io/name": "trino", "app.kubernetes.io/component": "worker"}

container := {
	"name": "app",
	"image": "docker.io/trinodb/trino:482",
	"securityContext": {
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true,
		"runAsNonRoot": true,
		"capabilities": {"drop": ["ALL"]},
	},
	"resources": {
		"requests": {"cpu": "1", "memory": "1Gi"},
		"limits": {"cpu": "2", "memory": "1Gi"},
	},
	"readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
}

pod_spec := {
	"securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
	"containers": [container],
	"volumes": [{"name": "tmp", "emptyDir": {}}],
	"topologySpreadConstraints": [{
		"maxSkew": 1,
		"topologyKey": "topology.kubernetes.io/zone",
		"whenUnsatisfiable": "DoNotSchedule",
		"labelSelector": {"matchLabels": pod_labels},
	}],
}

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "risk-prod", "labels": {"app.kubernetes.io/name": "trino"}},
	"spec": {
		"replicas": 3,
		"selector": {"matchLabels": pod_labels},
		"template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
	},
}

# with_pod patches the pod spec of the deployment.
with_pod(patch) := json.patch(deployment, [{"op": "add", "path": concat("/", ["/spec/template/spec", p.path]), "value": p.value} | some p in patch])

# with_container patches the first container of the deployment.
with_container(path, value) := json.patch(deployment, [{"op": "add", "path": concat("", ["/spec/template/spec/containers/0/", path]), "value": value}])

without_container(path) := json.patch(deployment, [{"op": "remove", "path": concat("", ["/spec/template/spec/containers/0/", path])}])

cronjob := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": {"name": "nightly", "namespace": "risk-prod"},
	"spec": {
		"schedule": "0 1 * * *",
		"concurrencyPolicy": "Forbid",
		"startingDeadlineSeconds": 600,
		"jobTemplate": {"spec": {
			"activeDeadlineSeconds": 3600,
			"template": {"metadata": {"labels": {"app.kubernetes.io/name": "distribution"}}, "spec": object.union(pod_spec, {"restartPolicy": "Never"})},
		}},
	},
}

pdb := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": {"name": "web", "namespace": "risk-prod"},
	"spec": {"maxUnavailable": 1, "selector": {"matchLabels": pod_labels}},
}

network_policy := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "default-deny", "namespace": "risk-prod"},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
}

service := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {"name": "web", "namespace": "risk-prod"},
	"spec": {"selector": pod_labels, "ports": [{"port": 80}]},
}

prod := {"name": "prod", "namespace": "risk-prod"}

dev := {"name": "dev", "namespace": "risk-dev"}

# objects is what a healthy environment renders beside the deployment.
objects := [deployment, pdb, network_policy, service]
