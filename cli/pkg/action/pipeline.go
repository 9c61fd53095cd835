package action

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/client-go/dynamic"

	"github.com/lakeport/lakeport/cli/pkg/pipeline"
)

// Pipeline reads the last run of the nightly pipeline (the distribution chart's Argo Workflows
// mode) of each selected environment from the Kubernetes API, through Config.Conn. It only reads.
type Pipeline struct {
	Config *Config
	// Envs selects environments of the kit (empty: all); each is read in its destination
	// namespace.
	Envs []string
	// Namespace, when set, is read instead of the environments' namespaces (one target, named
	// after the single selected environment or the namespace).
	Namespace string
}

// PipelineReport is the outcome of Pipeline.
type PipelineReport struct {
	Runs []pipeline.Run `json:"runs"`
}

// Verdict is nil when every environment's last run succeeded, was skipped, or is running, and
// ErrUnhealthy when one failed, errored or never ran.
func (r *PipelineReport) Verdict() error {
	for _, run := range r.Runs {
		switch run.Outcome {
		case pipeline.OutcomeFailed, pipeline.OutcomeError, pipeline.OutcomeNone:
			return ErrUnhealthy
		}
	}
	return nil
}

// Run reads the runs.
func (p *Pipeline) Run(ctx context.Context) (*PipelineReport, error) {
	c := p.Config
	targets, err := p.targets()
	if err != nil {
		return nil, err
	}
	cfg, err := c.Conn.restConfig(c.getenv)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	runs, err := pipeline.LastRuns(ctx, dyn, targets)
	if err != nil {
		return nil, err
	}
	return &PipelineReport{Runs: runs}, nil
}

func (p *Pipeline) targets() ([]pipeline.Target, error) {
	if p.Namespace != "" {
		if len(p.Envs) > 1 {
			return nil, &UsageError{Msg: "one namespace is one environment: select at most one", Option: "Envs"}
		}
		env := p.Namespace
		if len(p.Envs) == 1 {
			env = p.Envs[0]
		}
		return []pipeline.Target{{Env: env, Namespace: p.Namespace}}, nil
	}
	w, err := p.Config.openWorkspace("")
	if err != nil {
		return nil, err
	}
	var out []pipeline.Target
	var known []string
	for _, e := range w.Kit.Environments {
		known = append(known, e.Name)
		if len(p.Envs) == 0 || slices.Contains(p.Envs, e.Name) {
			out = append(out, pipeline.Target{Env: e.Name, Namespace: e.Destination.Namespace})
		}
	}
	for _, e := range p.Envs {
		if !slices.Contains(known, e) {
			return nil, &UsageError{Msg: fmt.Sprintf("unknown environment %q (the kit has %s)", e, strings.Join(known, ", ")), Option: "Envs"}
		}
	}
	return out, nil
}
