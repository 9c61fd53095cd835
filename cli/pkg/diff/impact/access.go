package impact

import (
	"fmt"
	"strings"
)

// security adds the impacts on who can reach or do what: RBAC, NetworkPolicies, service
// accounts, exposure (Service type and addresses, Ingress, Gateway API routes). Pod-level
// security (security contexts, Secrets read) is in workload.
func (c *change) security() {
	verb := "changed"
	switch {
	case c.added():
		verb = "added"
	case c.removed():
		verb = "removed"
	}
	gk := c.group + "/" + c.kind
	switch gk {
	case "rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole":
		if c.changed() {
			p := append(c.under("rules"), c.under("aggregationRule")...)
			if len(p) > 0 {
				c.add(Security, "RBAC rules changed: what its subjects may do changes", p...)
			}
			return
		}
		c.add(Security, fmt.Sprintf("RBAC %s %s: its subjects %s these permissions", c.kind, verb, map[string]string{"added": "gain", "removed": "lose"}[verb]))
	case "rbac.authorization.k8s.io/RoleBinding", "rbac.authorization.k8s.io/ClusterRoleBinding":
		if c.changed() {
			p := append(c.under("subjects"), c.under("roleRef")...)
			if len(p) > 0 {
				c.add(Security, "role binding changed: who holds which role changes", p...)
			}
			return
		}
		c.add(Security, fmt.Sprintf("role binding %s: %s", verb, getString(c.cur(), "roleRef", "name")))
	case "networking.k8s.io/NetworkPolicy":
		if c.changed() {
			if p := c.under("spec"); len(p) > 0 {
				c.add(Security, "NetworkPolicy changed: the allowed traffic changes", p...)
			}
			return
		}
		msg := "NetworkPolicy added: traffic its pods did not get from this policy is now denied unless another allows it"
		if c.removed() {
			msg = "NetworkPolicy removed: the traffic it allowed is denied unless another policy allows it, or all traffic is allowed when no policy selects the pods any more"
		}
		c.add(Security, msg)
	case "/ServiceAccount":
		if c.changed() {
			p := append(c.under("automountServiceAccountToken"), c.under("imagePullSecrets")...)
			p = append(p, c.under("secrets")...)
			p = append(p, c.under("metadata", "annotations")...) // workload identity (IRSA, GKE) lives here
			if len(p) > 0 {
				c.add(Security, "service account changed (token mount, pull secrets or cloud identity annotations)", p...)
			}
			return
		}
		c.add(Security, "service account "+verb)
	case "/Service":
		c.exposure()
	case "networking.k8s.io/Ingress", "gateway.networking.k8s.io/HTTPRoute", "gateway.networking.k8s.io/GRPCRoute", "gateway.networking.k8s.io/TLSRoute", "gateway.networking.k8s.io/TCPRoute":
		if c.changed() {
			if p := c.under("spec"); len(p) > 0 {
				c.add(Security, "exposure changed: "+c.kind+" routes, hosts or TLS change", p...)
			}
			return
		}
		c.add(Security, "exposure "+verb+": "+c.kind)
	}
}

func (c *change) cur() map[string]any {
	if c.h != nil {
		return c.h
	}
	return c.b
}

// exposure reports a Service that becomes reachable from outside the cluster, or stops being.
func (c *change) exposure() {
	external := func(obj map[string]any) bool {
		t := getString(obj, "spec", "type")
		return t == "NodePort" || t == "LoadBalancer" || len(getList(obj, "spec", "externalIPs")) > 0
	}
	switch {
	case c.added() && external(c.h):
		c.add(Security, fmt.Sprintf("exposure: a %s Service is added", getString(c.h, "spec", "type")))
	case c.removed() || c.added():
	default:
		var p []string
		for _, f := range []string{"type", "externalIPs", "loadBalancerSourceRanges", "externalTrafficPolicy"} {
			p = append(p, c.under("spec", f)...)
		}
		if len(p) == 0 {
			return
		}
		from, to := defaulted(getString(c.b, "spec", "type"), "ClusterIP"), defaulted(getString(c.h, "spec", "type"), "ClusterIP")
		what := "exposure changed"
		if from != to {
			what = fmt.Sprintf("exposure changed: Service type %s → %s", from, to)
		}
		c.add(Security, what+" ("+strings.Join(p, ", ")+")", p...)
	}
}
