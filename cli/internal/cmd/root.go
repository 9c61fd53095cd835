// Package cmd holds the lakeport cobra commands: thin layers that bind flags to Options structs
// (Complete, Validate, Run) over the cobra-free domain packages in cli/pkg, and the one place where
// errors become exit codes (Main).
package cmd

import (
	"context"
	"errors"
	"fmt"
	goio "io"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/iostreams"
	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/atomicfile"
	"github.com/lakeport/lakeport/cli/pkg/promote"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

// Factory carries what every command shares: streams and the global flags.
type Factory struct {
	IO *iostreams.IOStreams
	// RepoDir is where the kit repository is searched from (--repo; default the working directory).
	RepoDir string
	Color   string
	// Now is the clock (tests fix it).
	Now func() time.Time
	// NewGate builds the promotion gate; nil means the health-based gate (tests inject fakes).
	NewGate func(*PromoteOptions) (promote.Gate, error)
	// beforeRename injects failures between file writes (tests).
	beforeRename atomicfile.Hook
}

// OpenWorkspace loads the kit at a revision ("" = working tree).
func (f *Factory) OpenWorkspace(revision string) (*workspace.Workspace, error) {
	dir := f.RepoDir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	return workspace.Open(dir, revision)
}

// Styles returns output styles for stdout.
func (f *Factory) Styles() *output.Styles { return output.NewStyles(f.IO.ColorEnabled()) }

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "lakeport",
		Short: "Render, check, diff, promote and health-check the Lakeport GitOps kit",
		Long: `lakeport drives the Lakeport GitOps kit: Helm charts for Spark, Trino, MinIO and the
distribution jobs, templated per environment and synced by Argo CD from environments/.

It expands the kit's own ApplicationSet in-process with Argo CD's generator and template code and
renders every Application with the Helm SDK exactly as Argo CD's repo server does, reading charts at
their pinned git revision. render, apps, check, diff and promote need no cluster and no network.

Exit codes: 0 success, 1 a negative answer (changes, findings, unhealthy), 2 an error,
3 a timeout. Each command's help says which apply.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return f.IO.SetColorMode(f.Color)
		},
	}
	root.PersistentFlags().StringVar(&f.RepoDir, "repo", "", "the kit repository (default: the repository containing the working directory)")
	root.PersistentFlags().StringVar(&f.Color, "color", "auto", "colour output: auto, always or never (auto honours NO_COLOR and CLICOLOR_FORCE)")
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetIn(f.IO.In)
	root.AddCommand(
		newAppsCmd(f, nil),
		newRenderCmd(f, nil),
		newHealthCmd(f, nil),
		newDiffCmd(f, nil),
		newVersionCmd(f),
		newCheckCmd(f, nil),
		newPromoteCmd(f, nil),
	)
	return root
}

// ExitError carries an exit code; Err (if any) is printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit codes shared by every command.
const (
	CodeOK       = 0
	CodeNegative = 1 // changes, findings, unhealthy
	CodeError    = 2
	CodeTimeout  = 3
)

// Main runs the CLI and maps errors to exit codes. It is the only place that does.
func Main(ctx context.Context, io *iostreams.IOStreams, args []string) int {
	return Run(ctx, &Factory{IO: io, Now: time.Now}, args)
}

// Run is Main with a prepared Factory (tests inject clocks, gates and failures).
func Run(ctx context.Context, f *Factory, args []string) int {
	// Argo CD's generator code logs through logrus' process-wide logger; lakeport reports
	// through its own streams.
	logrus.SetOutput(goio.Discard)
	io := f.IO
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return CodeOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(io.ErrOut, "Error: %v\n", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(io.ErrOut, "Error: %v\n", err)
	if errors.Is(err, context.DeadlineExceeded) {
		return CodeTimeout
	}
	return CodeError
}
