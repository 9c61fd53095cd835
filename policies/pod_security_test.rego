package main

import data.lib.fixtures as f

test_pod_security_good_deployment_passes if {
	count(deny_psa_privileged) == 0 with input as f.deployment
	count(deny_psa_host_namespaces) == 0 with input as f.deployment
	count(deny_psa_host_path) == 0 with input as f.deployment
	count(deny_psa_volume_types) == 0 with input as f.deployment
	count(deny_psa_host_ports) == 0 with input as f.deployment
	count(deny_psa_run_as_non_root) == 0 with input as f.deployment
	count(deny_psa_seccomp) == 0 with input as f.deployment
	count(deny_psa_capabilities) == 0 with input as f.deployment
	count(deny_psa_privilege_escalation) == 0 with input as f.deployment
	count(deny_psa_host_settings) == 0 with input as f.deployment
}

test_privileged if {
	deny_psa_privileged["Deployment web: container \"app\" is privileged: remove securityContext.privileged (PodSecurity restricted)"] with input as f.with_container("securityContext/privileged", true)
}

test_privileged_proc_mount if {
	count(deny_psa_privileged) == 1 with input as f.with_container("securityContext/procMount", "Unmasked")
}

test_host_process if {
	count(deny_psa_privileged) == 1 with input as f.with_pod([{"path": "securityContext/windowsOptions", "value": {"hostProcess": true}}])
}

test_host_namespaces if {
	deny_psa_host_namespaces["Deployment web: hostNetwork shares the node's namespace: remove hostNetwork (PodSecurity restricted)"] with input as f.with_pod([{"path": "hostNetwork", "value": true}])
	count(deny_psa_host_namespaces) == 2 with input as f.with_pod([{"path": "hostPID", "value": true}, {"path": "hostIPC", "value": true}])
	count(deny_psa_host_namespaces) == 0 with input as f.with_pod([{"path": "hostNetwork", "value": false}])
}

test_host_path if {
	deny_psa_host_path["Deployment web: volume \"logs\" mounts the host path \"/var/log\": use an emptyDir, a PVC or a projected volume (PodSecurity restricted)"] with input as f.with_pod([{"path": "volumes/-", "value": {"name": "logs", "hostPath": {"path": "/var/log"}}}])
	count(deny_psa_volume_types) == 0 with input as f.with_pod([{"path": "volumes/-", "value": {"name": "logs", "hostPath": {"path": "/var/log"}}}])
}

test_volume_types if {
	count(deny_psa_volume_types) == 1 with input as f.with_pod([{"path": "volumes/-", "value": {"name": "nfs", "nfs": {"server": "x", "path": "/"}}}])
	count(deny_psa_volume_types) == 0 with input as f.with_pod([{"path": "volumes/-", "value": {"name": "c", "configMap": {"name": "x"}}}])
}

test_host_ports if {
	deny_psa_host_ports["Deployment web: container \"app\" binds host port 8080: remove ports[].hostPort and expose it with a Service (PodSecurity restricted)"] with input as f.with_container("ports", [{"containerPort": 8080, "hostPort": 8080}])
	count(deny_psa_host_ports) == 0 with input as f.with_container("ports", [{"containerPort": 8080}])
}

test_run_as_non_root_missing if {
	pod := json.patch(f.deployment, [{"op": "remove", "path": "/spec/template/spec/securityContext/runAsNonRoot"}])
	bad := json.patch(pod, [{"op": "remove", "path": "/spec/template/spec/containers/0/securityContext/runAsNonRoot"}])
	deny_psa_run_as_non_root["Deployment web: container \"app\" may run as root: set securityContext.runAsNonRoot: true on the pod or the container (PodSecurity restricted)"] with input as bad
	count(deny_psa_run_as_non_root) == 0 with input as pod
}

test_run_as_non_root_container_overrides_pod if {
	bad := json.patch(f.deployment, [
		{"op": "remove", "path": "/spec/template/spec/containers/0/securityContext/runAsNonRoot"},
		{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/runAsNonRoot", "value": false},
	])
	count(deny_psa_run_as_non_root) == 1 with input as bad
}

test_run_as_uid_zero if {
	deny_psa_run_as_non_root["Deployment web: container \"app\" runs as UID 0: set securityContext.runAsUser to a non-zero UID (PodSecurity restricted)"] with input as f.with_container("securityContext/runAsUser", 0)
	count(deny_psa_run_as_non_root) == 1 with input as f.with_pod([{"path": "securityContext/runAsUser", "value": 0}])
	count(deny_psa_run_as_non_root) == 0 with input as json.patch(f.with_pod([{"path": "securityContext/runAsUser", "value": 0}]), [{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/runAsUser", "value": 1001}])
}

test_seccomp if {
	no_pod := json.patch(f.deployment, [{"op": "remove", "path": "/spec/template/spec/securityContext/seccompProfile"}])
	count(deny_psa_seccomp) == 1 with input as no_pod
	count(deny_psa_seccomp) == 0 with input as json.patch(no_pod, [{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/seccompProfile", "value": {"type": "Localhost", "localhostProfile": "p.json"}}])
	deny_psa_seccomp["Deployment web: container \"app\" uses seccomp profile Unconfined: use RuntimeDefault or Localhost (PodSecurity restricted)"] with input as f.with_container("securityContext/seccompProfile", {"type": "Unconfined"})
}

test_capabilities if {
	deny_psa_capabilities["Deployment web: container \"app\" keeps its capabilities: set securityContext.capabilities.drop: [ALL] (PodSecurity restricted)"] with input as f.with_container("securityContext/capabilities", {"drop": ["NET_RAW"]})
	deny_psa_capabilities["Deployment web: container \"app\" adds capability SYS_ADMIN: only NET_BIND_SERVICE may be added (PodSecurity restricted)"] with input as f.with_container("securityContext/capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]})
	count(deny_psa_capabilities) == 0 with input as f.with_container("securityContext/capabilities", {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
}

test_privilege_escalation if {
	count(deny_psa_privilege_escalation) == 1 with input as f.without_container("securityContext/allowPrivilegeEscalation")
	count(deny_psa_privilege_escalation) == 1 with input as f.with_container("securityContext/allowPrivilegeEscalation", true)
}

test_host_settings if {
	count(deny_psa_host_settings) == 1 with input as f.with_container("securityContext/seLinuxOptions", {"user": "root"})
	count(deny_psa_host_settings) == 0 with input as f.with_container("securityContext/seLinuxOptions", {"type": "container_t"})
	count(deny_psa_host_settings) == 1 with input as f.with_container("securityContext/appArmorProfile", {"type": "Unconfined"})
	count(deny_psa_host_settings) == 1 with input as f.with_pod([{"path": "securityContext/sysctls", "value": [{"name": "kernel.msgmax", "value": "1"}]}])
	count(deny_psa_host_settings) == 0 with input as f.with_pod([{"path": "securityContext/sysctls", "value": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}])
}

test_init_containers_are_checked if {
	init := object.union(f.container, {"name": "init", "securityContext": {"privileged": true}})
	deny_psa_privileged["Deployment web: container \"init\" is privileged: remove securityContext.privileged (PodSecurity restricted)"] with input as f.with_pod([{"path": "initContainers", "value": [init]}])
}

test_cronjob_pods_are_checked if {
	bad := json.patch(f.cronjob, [{"op": "add", "path": "/spec/jobTemplate/spec/template/spec/hostPID", "value": true}])
	count(deny_psa_host_namespaces) == 1 with input as bad
	count(deny_psa_host_namespaces) == 0 with input as f.cronjob
}

test_argo_workflow_templates_are_checked if {
	wf := {
		"apiVersion": "argoproj.io/v1alpha1",
		"kind": "CronWorkflow",
		"metadata": {"name": "nightly"},
		"spec": {"workflowSpec": {
			"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
			"templates": [
				{"name": "dag", "dag": {"tasks": []}},
				{"name": "publish", "container": object.union(f.container, {"securityContext": {"privileged": true}})},
			],
		}},
	}
	deny_psa_privileged["CronWorkflow nightly: container \"app\" in template \"publish\" is privileged: remove securityContext.privileged (PodSecurity restricted)"] with input as wf
	count(deny_psa_seccomp) == 0 with input as wf
}
