# PodSecurity restricted.
# Every pod the kit runs meets the Kubernetes Pod Security Standards "restricted" profile, so
# that the namespace can enforce pod-security.kubernetes.io/enforce=restricted. Each rule names
# the object, the container and the field to set.
# See https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
package main

import data.lib.kubernetes as k8s

# METADATA
# title: No privileged containers, host processes or unmasked /proc
# custom:
#   severity: failure
deny_psa_privileged contains msg if {
	some c in k8s.input_containers
	c.container.securityContext.privileged == true
	msg := sprintf("%s: %s is privileged: remove securityContext.privileged (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c)])
}

deny_psa_privileged contains msg if {
	some c in k8s.input_containers
	host_process(c)
	msg := sprintf("%s: %s runs as a Windows HostProcess: remove windowsOptions.hostProcess (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c)])
}

deny_psa_privileged contains msg if {
	some c in k8s.input_containers
	pm := c.container.securityContext.procMount
	pm != "Default"
	msg := sprintf("%s: %s sets securityContext.procMount %q: remove it or use Default (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c), pm])
}

host_process(c) if c.container.securityContext.windowsOptions.hostProcess == true

host_process(c) if c.pod.securityContext.windowsOptions.hostProcess == true

# METADATA
# title: No host network, PID or IPC namespaces
# custom:
#   severity: failure
deny_psa_host_namespaces contains msg if {
	some p in k8s.input_pods
	some f in ["hostNetwork", "hostPID", "hostIPC"]
	p.spec[f] == true
	msg := sprintf("%s%s: %s shares the node's namespace: remove %s (PodSecurity restricted)", [k8s.name(input), p.where, f, f])
}

# METADATA
# title: No hostPath volumes
# custom:
#   severity: failure
deny_psa_host_path contains msg if {
	some p in k8s.input_pods
	some v in object.get(p.spec, "volumes", [])
	v.hostPath
	msg := sprintf("%s%s: volume %q mounts the host path %q: use an emptyDir, a PVC or a projected volume (PodSecurity restricted)", [k8s.name(input), p.where, v.name, object.get(v.hostPath, "path", "")])
}

# METADATA
# title: Only the volume types the restricted profile allows
# custom:
#   severity: failure
deny_psa_volume_types contains msg if {
	some p in k8s.input_pods
	some v in object.get(p.spec, "volumes", [])
	some t, _ in v
	t != "name"
	t != "hostPath" # reported by psa_host_path
	not t in allowed_volume_types
	msg := sprintf("%s%s: volume %q is of type %s: use configMap, secret, emptyDir, persistentVolumeClaim, projected, downwardAPI, csi or ephemeral (PodSecurity restricted)", [k8s.name(input), p.where, v.name, t])
}

allowed_volume_types := {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}

# METADATA
# title: No host ports
# custom:
#   severity: failure
deny_psa_host_ports contains msg if {
	some c in k8s.input_containers
	some port in object.get(c.container, "ports", [])
	object.get(port, "hostPort", 0) != 0
	msg := sprintf("%s: %s binds host port %d: remove ports[].hostPort and expose it with a Service (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c), port.hostPort])
}

# METADATA
# title: Run as non-root
# custom:
#   severity: failure
deny_psa_run_as_non_root contains msg if {
	some c in k8s.input_containers
	not run_as_non_root(c)
	msg := sprintf("%s: %s may run as root: set securityContext.runAsNonRoot: true on the pod or the container (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c)])
}

deny_psa_run_as_non_root contains msg if {
	some c in k8s.input_containers
	run_as_user(c) == 0
	msg := sprintf("%s: %s runs as UID 0: set securityContext.runAsUser to a non-zero UID (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c)])
}

run_as_non_root(c) if c.container.securityContext.runAsNonRoot == true

run_as_non_root(c) if {
	c.pod.securityContext.runAsNonRoot == true
	object.get(c.container, ["securityContext", "runAsNonRoot"], true) != false
}

run_as_user(c) := c.container.securityContext.runAsUser

run_as_user(c) := c.pod.securityContext.runAsUser if not c.container.securityContext.runAsUser

# METADATA
# title: Seccomp profile RuntimeDefault or Localhost
# custom:
#   severity: failure
deny_psa_seccomp contains msg if {
	some c in k8s.input_containers
	not seccomp_type(c)
	msg := sprintf("%s: %s has no seccomp profile: set securityContext.seccompProfile.type: RuntimeDefault on the pod (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c)])
}

deny_psa_seccomp contains msg if {
	some c in k8s.input_containers
	t := seccomp_type(c)
	not t in {"RuntimeDefault", "Localhost"}
	msg := sprintf("%s: %s uses seccomp profile %s: use RuntimeDefault or Localhost (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c), t])
}

seccomp_type(c) := c.container.securityContext.seccompProfile.type

seccomp_type(c) := c.pod.securityContext.seccompProfile.type if not c.container.securityContext.seccompProfile.type

# METADATA
# title: Drop ALL capabilities, add at most NET_BIND_SERVICE
# custom:
#   severity: failure
deny_psa_capabilities contains msg if {
	some c in k8s.input_containers
	not "ALL" in object.get(c.container, ["securityContext", "capabilities", "drop"], [])
	msg := sprintf("%s: %s keeps its capabilities: set securityContext.capabilities.drop: [ALL] (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c)])
}

deny_psa_capabilities contains msg if {
	some c in k8s.input_containers
	some cap in object.get(c.container, ["securityContext", "capabilities", "add"], [])
	cap != "NET_BIND_SERVICE"
	msg := sprintf("%s: %s adds capability %s: only NET_BIND_SERVICE may be added (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c), cap])
}

# METADATA
# title: No privilege escalation
# custom:
#   severity: failure
deny_psa_privilege_escalation contains msg if {
	some c in k8s.input_containers
	object.get(c.container, ["securityContext", "allowPrivilegeEscalation"], true) != false
	msg := sprintf("%s: %s may escalate privileges: set securityContext.allowPrivilegeEscalation: false (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c)])
}

# METADATA
# title: SELinux, AppArmor and sysctls within the baseline
# custom:
#   severity: failure
deny_psa_host_settings contains msg if {
	some c in k8s.input_containers
	some sc in [object.get(c.container, "securityContext", {}), object.get(c.pod, "securityContext", {})]
	opts := sc.seLinuxOptions
	bad_selinux(opts)
	msg := sprintf("%s: %s sets seLinuxOptions %v: only the container_t types are allowed, without user or role (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c), opts])
}

deny_psa_host_settings contains msg if {
	some c in k8s.input_containers
	some sc in [object.get(c.container, "securityContext", {}), object.get(c.pod, "securityContext", {})]
	t := sc.appArmorProfile.type
	not t in {"RuntimeDefault", "Localhost"}
	msg := sprintf("%s: %s uses AppArmor profile %s: use RuntimeDefault or Localhost (PodSecurity restricted)", [k8s.name(input), k8s.container_name(c), t])
}

deny_psa_host_settings contains msg if {
	some p in k8s.input_pods
	some s in object.get(p.spec, ["securityContext", "sysctls"], [])
	not s.name in safe_sysctls
	msg := sprintf("%s%s: sets the unsafe sysctl %s: remove it (PodSecurity restricted)", [k8s.name(input), p.where, s.name])
}

bad_selinux(opts) if not object.get(opts, "type", "container_t") in {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

bad_selinux(opts) if object.get(opts, "user", "") != ""

bad_selinux(opts) if object.get(opts, "role", "") != ""

safe_sysctls := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
}
