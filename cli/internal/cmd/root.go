// Package cmd holds the lakeport cobra commands: thin layers that bind flags to Options structs
// (Complete, Validate, Run) over the cobra-free domain packages in cli/pkg, and the one place where
// errors become exit codes (Main).
package cmd

import (
	"context"
	"errors"
	"fmt"
	goio "io"
	"regexp"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/lakeport/lakeport/cli/internal/iostreams"
	"github.com/lakeport/lakeport/cli/internal/output"
	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/atomicfile"
	"github.com/lakeport/lakeport/cli/pkg/promote"
	"github.com/lakeport/lakeport/cli/pkg/render"
)

// Factory carries what every command shares: streams and the global flags, and what tests inject.
type Factory struct {
	IO *iostreams.IOStreams
	// RepoDir is where the kit repository is searched from (--repo; default the working directory).
	RepoDir string
	Color   string
	// Cache is the render cache directory (--cache; default LAKEPORT_CACHE; "" = no cache).
	Cache string
	// Now is the clock (tests fix it).
	Now func() time.Time
	// Gate, when set, replaces the health-based promotion gate (tests).
	Gate promote.Gate
	// beforeRename injects failures between file writes (tests).
	beforeRename atomicfile.Hook
}

// Config is the action configuration of one command: the repository, the clock, warnings and
// notes on stderr, the environment of the streams, and the connection the command's flags fill.
func (f *Factory) Config(conn action.Connection) *action.Config {
	errOut := f.IO.ErrOut
	cache := f.Cache
	if cache == "" {
		cache = f.IO.Getenv(render.CacheEnv)
	}
	return &action.Config{
		RepoDir:     f.RepoDir,
		RenderCache: cache,
		Now:         f.Now,
		Getenv:      f.IO.Getenv,
		Warn:        func(msg string) { fmt.Fprintf(errOut, "warning: %s\n", msg) },
		Note:        func(msg string) { fmt.Fprintf(errOut, "note: %s\n", msg) },
		Conn:        conn,
	}
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
	root.PersistentFlags().StringVar(&f.Cache, "cache", "", "keep rendered releases in this directory, keyed by content (charts, values, parameters, lakeport build), and reuse them across runs (default $"+render.CacheEnv+"; off when empty)")
	root.PersistentFlags().StringVar(&f.Color, "color", "auto", "colour output: auto, always or never (auto honours NO_COLOR and CLICOLOR_FORCE)")
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetIn(f.IO.In)
	root.AddCommand(
		newAppsCmd(f, nil),
		newRenderCmd(f, nil),
		newHealthCmd(f, nil),
		newPipelineCmd(f, nil),
		newDiffCmd(f, nil),
		newVersionCmd(f),
		newCheckCmd(f, nil),
		newPromoteCmd(f, nil),
		newInitCmd(f, nil),
		newGenerateCmd(f),
	)
	return root
}

// ExitError carries an exit code for a command-line mistake found while binding flags; Err (if
// any) is printed.
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

// usageError is a bad command line: exit 2.
func usageError(err error) error { return &ExitError{Code: CodeError, Err: err} }

// Exit codes shared by every command.
const (
	CodeOK       = 0
	CodeNegative = 1 // changes, findings, unhealthy, refused by the gate
	CodeError    = 2
	CodeTimeout  = 3
	CodeImpacts  = 4 // diff --fail-on: an impact of a listed kind
)

// Main runs the CLI and maps errors to exit codes.
func Main(ctx context.Context, io *iostreams.IOStreams, args []string) int {
	return Run(ctx, &Factory{IO: io, Now: time.Now}, args)
}

// Run is Main with a prepared Factory (tests inject clocks, gates and failures). It is the only
// place that prints an error and picks an exit code.
func Run(ctx context.Context, f *Factory, args []string) int {
	// Argo CD's generator code logs through logrus' process-wide logger; lakeport reports
	// through its own streams.
	logrus.SetOutput(goio.Discard)
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && !action.IsOutcome(err) {
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Err != nil {
			fmt.Fprintf(f.IO.ErrOut, "Error: %v\n", flagWords(err))
		}
	}
	return exitCode(err)
}

// exitCode is the one map from outcomes and typed errors to exit codes.
func exitCode(err error) int {
	if err == nil {
		return CodeOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	switch action.KindOf(err) {
	case action.KindNegative, action.KindRefused:
		return CodeNegative
	case action.KindTimeout:
		return CodeTimeout
	case action.KindImpacts:
		return CodeImpacts
	}
	return CodeError
}

// flagWords says a domain error in the command line's words: the side of a diff or the base of a
// check become the flags that set them.
func flagWords(err error) error {
	var re *action.RevisionError
	if errors.As(err, &re) && re.Revision != "" && err == error(re) {
		return fmt.Errorf("--%s %s: %w", re.Side, re.Revision, re.Err)
	}
	var be *action.BaseError
	if errors.As(err, &be) && err == error(be) {
		return fmt.Errorf("--base: %w", be.Err)
	}
	var ue *action.UsageError
	if errors.As(err, &ue) && err == error(ue) && optionFlag(ue.Option) != "" {
		return fmt.Errorf("%s with %s", sayFlags(ue.Msg), optionFlag(ue.Option))
	}
	if said := sayFlags(err.Error()); said != err.Error() {
		return errors.New(said)
	}
	return err
}

// optionRef is an option named in a domain message: {Field}, the field of the action's or the
// domain's options that settles it.
var optionRef = regexp.MustCompile(`\{[A-Z][A-Za-z]+\}`)

// sayFlags says the options a domain message names ({Force}) as the flags that set them (--force).
func sayFlags(msg string) string {
	return optionRef.ReplaceAllStringFunc(msg, func(ref string) string {
		if fl := optionFlag(ref[1 : len(ref)-1]); fl != "" {
			return fl
		}
		return ref
	})
}

// optionFlag is the flag that sets an action's option, by field name.
func optionFlag(option string) string {
	switch option {
	case "Envs":
		return "--env"
	case "ExpectHead":
		return "--expect-head"
	case "DryRun":
		return "--dry-run"
	case "Kubeconfig":
		return "--kubeconfig"
	case "ArgoServer":
		return "--server"
	case "RepoURL":
		return "--repo-url"
	case "Environments":
		return "--env"
	case "Charts":
		return "--chart"
	case "KubeVersion":
		return "--kube-version"
	case "ProjectPrefix":
		return "--project-prefix"
	case "ToStage":
		return "--to-stage"
	case "ChangeID":
		return "--change-id"
	case "Override":
		return "--override"
	case "To", "From", "Pin", "Force", "All", "Ignore":
		return "--" + strings.ToLower(option)
	}
	return ""
}
