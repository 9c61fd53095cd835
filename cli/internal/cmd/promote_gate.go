package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lakeport/lakeport/cli/pkg/health"
	"github.com/lakeport/lakeport/cli/pkg/promote"
)

// healthGate gates a promotion on `lakeport health`'s revision-aware judgement of the source
// environment: every Application of the promoted components must be Ready (Synced and Healthy at
// the commit holding the pins, reconciled after its last sync), and that sync must have finished
// at least --soak ago.
type healthGate struct {
	o *PromoteOptions
}

// newHealthGate reads Applications from the Argo CD API server (--server or ARGOCD_SERVER) or
// the Kubernetes API (--kubeconfig, --context), as `lakeport health` does.
func newHealthGate(o *PromoteOptions) (promote.Gate, error) { return &healthGate{o: o}, nil }

func (g *healthGate) Check(ctx context.Context, env string, apps []string, revision string, soak time.Duration) (promote.GateResult, error) {
	f, gf := g.o.f, g.o.Gate
	ho := &HealthOptions{f: f, Envs: []string{env}, Apps: apps, Revision: revision,
		Kubeconfig: gf.Kubeconfig, Context: gf.Context, Server: gf.Server, AuthToken: gf.AuthToken,
		GRPCWeb: gf.GRPCWeb, Insecure: gf.Insecure, PlainText: gf.PlainText}
	if gf.Namespace != "" {
		ho.Namespaces = []string{gf.Namespace}
	}
	if ho.Server == "" {
		ho.Server = f.IO.Getenv("ARGOCD_SERVER")
	}
	if ho.AuthToken == "" {
		ho.AuthToken = f.IO.Getenv("ARGOCD_AUTH_TOKEN")
	}
	plan, sel, err := ho.plan()
	if err != nil {
		return promote.GateResult{}, err
	}
	src, err := ho.source()
	if err != nil {
		return promote.GateResult{}, fmt.Errorf("gate: %w", err)
	}
	r, _, err := health.Check(ctx, src, sel, plan)
	if err != nil {
		return promote.GateResult{}, fmt.Errorf("gate: %w", err)
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	res := promote.GateResult{OK: true}
	var ready []string
	for _, a := range r.Applications {
		switch {
		case a.State != health.StateReady:
			res.OK = false
			res.Details = append(res.Details, fmt.Sprintf("%s: %s (%s/%s) %s", a.Name, a.State, a.Sync, a.Health, a.Reason))
			for _, rs := range a.Resources {
				res.Details = append(res.Details, fmt.Sprintf("  %s: %s %s", rs.Ref(), rs.Health, rs.Message))
			}
		case soak > 0 && (a.Operation == nil || a.Operation.FinishedAt == nil || now().Sub(*a.Operation.FinishedAt) < soak):
			res.OK = false
			since := "never synced by an operation"
			if a.Operation != nil && a.Operation.FinishedAt != nil {
				since = fmt.Sprintf("synced %s ago", now().Sub(*a.Operation.FinishedAt).Round(time.Second))
			}
			res.Details = append(res.Details, fmt.Sprintf("%s: Ready but %s, less than --soak %s", a.Name, since, soak))
		default:
			ready = append(ready, a.Name)
		}
	}
	if res.OK {
		res.Summary = fmt.Sprintf("%s Synced and Healthy at %s (%s)", strings.Join(ready, ", "), shortRev(revision), src)
		if soak > 0 {
			res.Summary += fmt.Sprintf(", for at least %s", soak)
		}
	} else {
		res.Summary = fmt.Sprintf("%s is not Synced and Healthy at %s for promotion (%d of %d ready)", env, shortRev(revision), len(ready), len(r.Applications))
	}
	return res, nil
}
