package impact

import "fmt"

// scale adds the impacts on how many pods run or may be disrupted: replicas, HPA bounds,
// PodDisruptionBudgets.
func (c *change) scale() {
	gk := c.group + "/" + c.kind
	switch gk {
	case "apps/Deployment", "apps/StatefulSet", "apps/ReplicaSet":
		if !c.changed() {
			return
		}
		b, bok := number(get(c.b, "spec", "replicas"))
		h, hok := number(get(c.h, "spec", "replicas"))
		if !bok {
			b = 1 // the API server's default
		}
		if !hok {
			h = 1
		}
		if b != h && (bok || hok) {
			c.add(Scale, fmt.Sprintf("replicas %d → %d", b, h), "spec.replicas")
		}
	case "autoscaling/HorizontalPodAutoscaler":
		switch {
		case c.added():
			c.add(Scale, fmt.Sprintf("autoscaling added: %s replicas between %s and %s", getString(c.h, "spec", "scaleTargetRef", "name"), orDefaultMin(getString(c.h, "spec", "minReplicas")), getString(c.h, "spec", "maxReplicas")))
		case c.removed():
			c.add(Scale, "autoscaling removed: the workload keeps its current replicas (or the spec's)")
		default:
			var p []string
			for _, f := range []string{"minReplicas", "maxReplicas", "metrics", "behavior", "scaleTargetRef"} {
				p = append(p, c.under("spec", f)...)
			}
			if len(p) > 0 {
				c.add(Scale, fmt.Sprintf("autoscaling bounds %s–%s → %s–%s", orDefaultMin(getString(c.b, "spec", "minReplicas")), getString(c.b, "spec", "maxReplicas"),
					orDefaultMin(getString(c.h, "spec", "minReplicas")), getString(c.h, "spec", "maxReplicas")), p...)
			}
		}
	case "policy/PodDisruptionBudget":
		budget := func(obj map[string]any) string {
			if v := getString(obj, "spec", "minAvailable"); v != "" {
				return "minAvailable " + v
			}
			if v := getString(obj, "spec", "maxUnavailable"); v != "" {
				return "maxUnavailable " + v
			}
			return "no budget"
		}
		switch {
		case c.added():
			c.add(Scale, "disruption budget added: "+budget(c.h))
		case c.removed():
			c.add(Scale, "disruption budget removed: node drains may evict every pod at once")
		default:
			var p []string
			for _, f := range []string{"minAvailable", "maxUnavailable", "selector", "unhealthyPodEvictionPolicy"} {
				p = append(p, c.under("spec", f)...)
			}
			if len(p) > 0 {
				c.add(Scale, fmt.Sprintf("disruption budget %s → %s", budget(c.b), budget(c.h)), p...)
			}
		}
	}
}

func orDefaultMin(s string) string {
	if s == "" {
		return "1"
	}
	return s
}
