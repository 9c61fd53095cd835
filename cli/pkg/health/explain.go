package health

import (
	"context"
	"sort"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
)

// ResourceExplainer is implemented by sources that can say which resources of an Application
// are not Healthy, and why, when the Application does not carry it: since v3, Argo CD keeps
// resource health in its resource tree, not in status.resources, unless the controller runs
// with --persist-resource-health.
type ResourceExplainer interface {
	// ExplainResources returns the Application's resources with their health (all of them;
	// Explain keeps the ones that matter). nil, nil: the source cannot tell.
	ExplainResources(ctx context.Context, app *argov1.Application) ([]Resource, error)
}

// Explain fills in, for every Application that is not Ready and whose status lacks resource
// health, the resources that are not Healthy or not Synced, from the source when it can tell
// (one resource tree per such Application, or the live objects of an in-cluster destination).
// Errors are returned as warnings: the report stands without the detail.
func Explain(ctx context.Context, src Source, r *Report, apps []argov1.Application) []error {
	ex, ok := src.(ResourceExplainer)
	if !ok {
		return nil
	}
	byKey := map[string]*argov1.Application{}
	for i := range apps {
		byKey[apps[i].Namespace+"/"+apps[i].Name] = &apps[i]
	}
	var errs []error
	for i := range r.Applications {
		h := &r.Applications[i]
		a := byKey[h.Namespace+"/"+h.Name]
		if a == nil || h.State == StateReady || !needsExplaining(a) {
			continue
		}
		all, err := ex.ExplainResources(ctx, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if all == nil {
			continue
		}
		var out []Resource
		for _, res := range all {
			if (res.Health == "" || res.Health == HealthHealthy) && (res.Sync == "" || res.Sync == string(argov1.SyncStatusCodeSynced)) {
				continue
			}
			out = append(out, res)
		}
		sortResources(out)
		h.Resources = out
		if len(out) > 0 && (h.State == StateDegraded || (h.State == StateWaiting && h.Health != HealthHealthy && h.Sync == SyncSynced)) {
			worst := out[0]
			if worst.Health != "" && worst.Health != HealthHealthy {
				h.Reason = h.Health + " (" + worst.Ref()
				if worst.Message != "" {
					h.Reason += ": " + worst.Message
				}
				h.Reason += ")"
			}
		}
	}
	return errs
}

// needsExplaining: the Application is not Healthy and its status carries no resource health.
func needsExplaining(a *argov1.Application) bool {
	if a.Status.ResourceHealthSource == argov1.ResourceHealthLocationAppTree {
		return true
	}
	for _, r := range a.Status.Resources {
		if r.Health != nil {
			return false
		}
	}
	return len(a.Status.Resources) > 0
}

func sortResources(out []Resource) {
	sort.SliceStable(out, func(i, j int) bool {
		if rank(out[i].Health) != rank(out[j].Health) {
			return rank(out[i].Health) < rank(out[j].Health)
		}
		return out[i].Ref() < out[j].Ref()
	})
}

// managedKey identifies a managed resource across status.resources and the resource tree.
func managedKey(group, kind, namespace, name string) string {
	return group + "/" + kind + "/" + namespace + "/" + name
}
