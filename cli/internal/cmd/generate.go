package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/action"
)

func newGenerateCmd(f *Factory) *cobra.Command {
	var format string
	g := &action.Generate{}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write the files generated from the environments: CODEOWNERS and the AppProjects' sync windows",
		Long: `Write the files lakeport derives from the environments model, so that each fact is declared once:

  - CODEOWNERS (.github/CODEOWNERS, or lakeport.yaml codeOwners): the kit-wide files owned by
    lakeport.yaml owners, each environments/<env>/ folder by its env.yaml changeControl.owners;
  - every AppProject's spec.syncWindows in the projects file (lakeport.yaml projects), from the
    env.yaml changeControl.syncWindows of the environments it fences (every other byte kept).

` + "`lakeport check`" + ` reports a generated file that does not match its source (rules codeowners_current and
sync_windows_rendered), with the file and line; --check does only that, for CI.

Exit codes: 0 written (or current), 1 stale (with --check), 2 error.`,
		Example: `  lakeport generate
  lakeport generate --check -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fo, err := output.Parse(format, output.Text, output.JSON)
			if err != nil {
				return usageError(err)
			}
			g.Config = f.Config(action.Connection{})
			files, err := g.Run(c.Context())
			if fo == output.JSON {
				if werr := output.WriteJSON(f.IO.Out, struct {
					APIVersion string                 `json:"apiVersion"`
					Kind       string                 `json:"kind"`
					Files      []action.GeneratedFile `json:"files"`
				}{output.APIVersion, "Generated", files}); werr != nil {
					return werr
				}
				return err
			}
			for _, gf := range files {
				fmt.Fprintf(f.IO.Out, "%-8s %s\n", gf.Status, gf.Path)
				if gf.Status == "stale" {
					for _, p := range gf.Problems {
						loc := gf.Path
						if p.Line > 0 {
							loc = fmt.Sprintf("%s:%d", gf.Path, p.Line)
						}
						fmt.Fprintf(f.IO.Out, "  %s: %s\n", loc, p.Msg)
					}
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&g.Check, "check", false, "write nothing: exit 1 when a generated file is stale")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	return cmd
}
