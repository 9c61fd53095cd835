package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/adopt"
)

// InitOptions are the inputs of `lakeport init`.
type InitOptions struct {
	f *Factory
	action.Init
	envs, charts []string
}

func newInitCmd(f *Factory, runF func(*InitOptions) error) *cobra.Command {
	o := &InitOptions{f: f}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Adopt the kit's model in an existing repository: environments, ApplicationSet, AppProjects",
		Long: `Write the files the kit's model needs into the git repository you are in, naming its own URL:

  environments/lakeport.yaml               promotion order and image pins
  environments/<env>/env.yaml              cluster, namespace, AppProject, sync policy, chart pins
  environments/<env>/<component>.yaml      each component's Helm values (kept if it exists)
  environments/argocd/applicationset.yaml  the one ApplicationSet Argo CD applies
  environments/argocd/projects.yaml        one AppProject per environment

then expand and render the result (as lakeport apps and lakeport render do), so a mistake shows
now. Existing files are refused unless --force; values files are never overwritten. All files are
written as one set or not at all.

The repository URL defaults to the origin remote's; the charts default to every folder with a
Chart.yaml one or two levels down (charts/trino, deploy/api). On a terminal, what is missing is
asked for. Charts must be Helm charts in the repository: charts from Helm repositories or OCI
registries (vendor them with helm pull --untar), Kustomize and plugins are not supported.

Exit codes: 0 written and rendered, 2 an error (a bad option, files that exist, a chart that does
not render: the files are then written and the error says what to fix).`,
		Example: `  lakeport init --env dev=risk-dev@https://kubernetes.default.svc \
                --env prod=risk-prod@https://prod.kube.example:6443
  lakeport init --repo-url https://git.example.com/platform/lakehouse.git \
                --env dev=risk-dev@https://kubernetes.default.svc --chart api=deploy/api --kube-version 1.33.0
  lakeport init --dry-run --env dev=risk-dev@https://kubernetes.default.svc`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Config = f.Config(action.Connection{})
			if err := o.Complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return o.Run(c.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.RepoURL, "repo-url", "", "the URL Argo CD clones this repository from (default: the origin remote's)")
	fl.StringArrayVar(&o.envs, "env", nil, "an environment as NAME=NAMESPACE@SERVER, in promotion order (repeat)")
	fl.StringArrayVar(&o.charts, "chart", nil, "a component and its chart folder as COMPONENT=PATH (repeat; default: the repository's charts)")
	fl.StringVar(&o.KubeVersion, "kube-version", "", "the clusters' Kubernetes version (default: Helm's)")
	fl.StringVar(&o.ProjectPrefix, "project-prefix", "lakeport", "AppProject names are PREFIX-<env>")
	fl.BoolVar(&o.Force, "force", false, "overwrite the kit files that exist (never values files)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print what would be written, write nothing")
	return cmd
}

// Complete parses --env and --chart and, on a terminal, asks for what is missing.
func (o *InitOptions) Complete() error {
	io := o.f.IO
	if io.IsStdinTTY() {
		in := bufio.NewReader(io.In)
		if len(o.envs) == 0 {
			lines, err := askLines(in, io.ErrOut, "Environments in promotion order, one per line as NAME=NAMESPACE@SERVER\n(e.g. dev=risk-dev@https://kubernetes.default.svc); an empty line ends:")
			if err != nil {
				return err
			}
			o.envs = lines
		}
	}
	var errs []error
	for _, s := range o.envs {
		e, err := adopt.ParseEnvironment(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--env %w", err))
		}
		o.Environments = append(o.Environments, e)
	}
	if len(o.envs) == 0 {
		errs = append(errs, fmt.Errorf("name the environments: --env NAME=NAMESPACE@SERVER, once per environment in promotion order"))
	}
	for _, s := range o.charts {
		c, err := adopt.ParseChart(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--chart %w", err))
		}
		o.Charts = append(o.Charts, c)
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	return nil
}

// askLines prompts on w and reads lines from r up to an empty line or the end.
func askLines(r *bufio.Reader, w io.Writer, prompt string) ([]string, error) {
	fmt.Fprintln(w, prompt)
	var out []string
	for {
		fmt.Fprint(w, "> ")
		line, err := r.ReadString('\n')
		line = strings.TrimSpace(line)
		if line != "" {
			out = append(out, line)
		}
		if line == "" || err != nil {
			if err != nil && err != io.EOF {
				return nil, fmt.Errorf("read the answer: %w", err)
			}
			return out, nil
		}
	}
}

// Run writes the files and prints them, then the Applications and the render summary.
func (o *InitOptions) Run(ctx context.Context) error {
	f := o.f
	start := time.Now()
	rep, err := o.Init.Run(ctx)
	if rep != nil {
		t := output.NewTable(f.IO.IsStdoutTTY(), f.Styles(), "FILE", "ACTION")
		for _, file := range rep.Files {
			what := "create"
			switch {
			case file.Keep:
				what = "keep (exists)"
			case file.Exists:
				what = "overwrite"
			}
			if !o.DryRun && !file.Keep {
				what = strings.NewReplacer("create", "created", "overwrite", "overwritten").Replace(what)
			}
			t.Row(file.Path, what)
		}
		if terr := t.Render(f.IO.Out); terr != nil {
			return terr
		}
	}
	if err != nil {
		return err
	}
	if o.DryRun {
		fmt.Fprintf(f.IO.ErrOut, "dry run: nothing written to %s\n", rep.Root)
		return nil
	}
	fmt.Fprintln(f.IO.Out)
	t := output.NewTable(f.IO.IsStdoutTTY(), f.Styles(), "APP", "ENV", "COMPONENT", "CHART", "PIN", "OBJECTS")
	for _, r := range rep.Render.Releases {
		t.Row(r.App, r.Environment, r.Component, r.Chart.Name+" "+r.Chart.Version, shortRev(r.Chart.Revision), fmt.Sprint(len(r.Objects)))
	}
	if err := t.Render(f.IO.Out); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "wrote the kit into %s: %d applications in %d environments render (%d objects) in %s\nnext: review, commit and push; then kubectl apply -n argocd -f environments/argocd/projects.yaml -f environments/argocd/applicationset.yaml\n",
		rep.Root, len(rep.Apps.Items), rep.Render.Environments, rep.Render.Objects, time.Since(start).Round(time.Millisecond))
	return nil
}
