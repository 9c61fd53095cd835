package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/internal/version"
)

func newVersionCmd(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the lakeport version and the Helm and Argo CD engines it embeds",
		Long: `Print the lakeport version and the versions of the Helm SDK and Argo CD code it renders and
expands with. Exit codes: 0 success, 2 error.`,
		Example: `  lakeport version
  lakeport version -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fo, err := output.Parse(format, output.Text, output.JSON, output.YAML)
			if err != nil {
				return err
			}
			info := version.Get()
			switch fo {
			case output.JSON:
				return output.WriteJSON(f.IO.Out, info)
			case output.YAML:
				return output.WriteYAML(f.IO.Out, info)
			}
			commit, date := info.Commit, info.Date
			if commit == "" {
				commit = "unknown"
			}
			if date == "" {
				date = "unknown"
			}
			_, err = fmt.Fprintf(f.IO.Out, "lakeport %s (commit %s, %s; %s, %s)\nhelm SDK %s, argo-cd %s\n",
				info.Version, commit, date, info.GoVersion, info.Platform, info.Helm, info.ArgoCD)
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text, json or yaml")
	return cmd
}
