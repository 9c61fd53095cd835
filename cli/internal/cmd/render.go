package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/render"
)

// RenderOptions are the inputs of `lakeport render`.
type RenderOptions struct {
	f *Factory
	action.Render
	Output string

	format output.Format
}

func newRenderCmd(f *Factory, runF func(*RenderOptions) error) *cobra.Command {
	o := &RenderOptions{f: f}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render every environment's Applications exactly as Argo CD will deploy them",
		Long: `Render the Helm source of every Application the ApplicationSet generates, in-process with the
Helm SDK and the parameters Argo CD's repo server uses: release name, namespace, kube version and
API versions from the environment, value files in order, inline values and parameters, CRDs
included. Charts are read at their pinned git revision straight from the git object store; pins
that follow the branch (HEAD) read the working tree, or --revision.

Output: -o yaml (default) prints each Application's manifests as ` + "`helm template`" + ` would;
-o json prints a versioned document with every object; -o table prints a summary per Application;
-o dir=PATH writes PATH/<env>/<component>.yaml, replacing PATH as a whole only once everything
rendered (never a partial directory).

Exit codes: 0 success, 2 error (bad values, a chart that fails to template, a pin that does not
resolve, an unknown environment or app).`,
		Example: `  lakeport render
  lakeport render --env prod --app trino
  lakeport render -o dir=out/rendered
  lakeport render -o table
  lakeport render --revision origin/main -o json`,
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
	addSelectionFlags(cmd, &o.Envs, &o.Apps)
	cmd.Flags().StringVar(&o.Revision, "revision", "", "read the kit (environments, values, floating charts) at this git revision instead of the working tree")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "yaml", "output format: yaml, json, table or dir=PATH")
	return cmd
}

// Complete parses -o.
func (o *RenderOptions) Complete() error {
	if dir, ok := strings.CutPrefix(o.Output, "dir="); ok {
		if dir == "" {
			return usageError(fmt.Errorf("-o dir= needs a path, e.g. -o dir=out/rendered"))
		}
		o.Dir = dir
		return nil
	}
	var err error
	if o.format, err = output.Parse(o.Output, output.YAML, output.JSON, output.Table); err != nil {
		return usageError(fmt.Errorf("%w, or dir=PATH", err))
	}
	// The YAML stream prints manifests only: the decoded objects need not be held for it.
	o.ManifestsOnly = o.format == output.YAML
	return nil
}

// RenderList is the JSON shape of `lakeport render -o json`.
type RenderList struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Releases   []*render.Release `json:"releases"`
}

// Run renders and writes the output.
func (o *RenderOptions) Run(ctx context.Context) error {
	f := o.f
	rep, err := o.Render.Run(ctx)
	if err != nil {
		return err
	}
	rels := rep.Releases
	switch {
	case o.Dir != "":
	case o.format == output.Table:
		if err := writeRenderSummary(f, rels); err != nil {
			return err
		}
	case o.format == output.JSON:
		if err := output.WriteJSON(f.IO.Out, RenderList{APIVersion: output.APIVersion, Kind: "RenderList", Releases: rels}); err != nil {
			return err
		}
	default:
		if err := render.WriteStream(f.IO.Out, rels); err != nil {
			return err
		}
	}
	where := ""
	if o.Dir != "" {
		where = " into " + o.Dir
	}
	fmt.Fprintf(f.IO.ErrOut, "rendered %d applications (%d objects) in %d environments%s in %s\n",
		len(rels), rep.Objects, rep.Environments, where, rep.Took.Round(time.Millisecond))
	return nil
}

func writeRenderSummary(f *Factory, rels []*render.Release) error {
	t := output.NewTable(f.IO.IsStdoutTTY(), f.Styles(), "ENV", "APP", "CHART", "PIN", "READ AT", "OBJECTS", "KINDS")
	for _, r := range rels {
		kinds := map[string]int{}
		var names []string
		for _, o := range r.Objects {
			if kinds[o.Kind] == 0 {
				names = append(names, o.Kind)
			}
			kinds[o.Kind]++
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s×%d", n, kinds[n])
		}
		t.Row(r.Environment, r.App, fmt.Sprintf("%s %s", r.Chart.Name, r.Chart.Version), shortRev(r.Chart.Revision),
			shortRev(r.Chart.Resolved), fmt.Sprint(len(r.Objects)), strings.Join(parts, " "))
	}
	return t.Render(f.IO.Out)
}
