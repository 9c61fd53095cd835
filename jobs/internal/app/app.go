// Package app is the distribution command line: flag parsing into Options, Complete/Validate/Run,
// and the one place where errors become exit codes. The domain packages never print or exit.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/calendar"
	"github.com/lakeport/lakeport/jobs/internal/config"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/publish"
	"github.com/lakeport/lakeport/jobs/internal/tracing"
)

// Exit codes of the distribution command, for CronJobs and alerts.
const (
	ExitOK                 = 0 // done
	ExitError              = 1 // infrastructure or unexpected error: a retry may succeed
	ExitUsage              = 2 // invalid flags or configuration: fix the deployment
	ExitContractViolation  = 3 // the input breaks its contract; nothing was published: fix the input
	ExitInputNotReady      = 4 // no input, or no _SUCCESS marker yet: retry later
	ExitVerificationFailed = 5 // published, but Trino does not read back what was published
	ExitConflict           = 6 // another publication of the same dataset and date holds the lock or won: do not retry blindly
)

// Version is set at build time (-ldflags "-X .../app.Version=...").
var Version = "dev"

const usage = `distribution publishes market-risk results for a close-of-business date.

Usage:
  distribution <command> [flags]

Commands:
  migrate    apply the relational schema migrations (the chart's PreSync hook)
  publish    validate a dataset's input for --cob-date and publish it to Iceberg, the database and Trino
  validate   check a dataset's input against its contract, publish nothing
  maintain   the one maintenance of the Iceberg tables (tags, snapshot expiry, orphans, manifests,
             Trino optimize), under each dataset's lock
  calendar   the nightly pipeline's cob_date and whether it is a business day (holiday: skip)
  wait-input wait for the input's _SUCCESS markers, bounded by --timeout (then exit 4)
  verify     check that a date is published, Iceberg and the database serving the same run
  report     the pipeline's exit handler: the run's outcome to the Pushgateway and a webhook
  inspect    show what consumers see: snapshots, rows per date in Iceberg and in the database
  contracts  print the embedded data contracts
  version    print the version

Without --config the embedded default is used: everything under --data-dir (input/, warehouse/,
catalog.db, risk.db), SQLite for the Iceberg catalog and the database, no server needed.

Exit codes:
  0  success
  1  error (infrastructure, unexpected): a retry may succeed
  2  invalid usage or configuration
  3  contract violation: the input breaks its contract, nothing was published
  4  input not ready: missing, or no _SUCCESS marker yet
  5  verification failed: published, but Trino does not read back the published rows
  6  conflict: another publication of the same dataset and date is running or won the race;
     this run committed nothing (maintain: a publication of the dataset is running)

Datasets: ` + "%s" + `
`

// usageError marks errors of the caller's making (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, usage, strings.Join(contract.Names(), ", "))
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	var err error
	switch args[0] {
	case "migrate":
		err = runMigrate(ctx, args[1:], stdout, stderr)
	case "publish":
		err = runPublish(ctx, args[1:], stdout, stderr)
	case "validate":
		err = runValidate(ctx, args[1:], stdout, stderr)
	case "maintain":
		err = runMaintain(ctx, args[1:], stdout, stderr)
	case "inspect":
		err = runInspect(ctx, args[1:], stdout, stderr)
	case "calendar":
		err = runCalendar(ctx, args[1:], stdout, stderr)
	case "wait-input":
		err = runWaitInput(ctx, args[1:], stdout, stderr)
	case "verify":
		err = runVerify(ctx, args[1:], stdout, stderr)
	case "report":
		err = runReport(ctx, args[1:], stdout, stderr)
	case "contracts":
		err = runContracts(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "distribution", Version)
	default:
		fmt.Fprintf(stderr, "distribution: unknown command %q\n\n", args[0])
		fmt.Fprintf(stderr, usage, strings.Join(contract.Names(), ", "))
		return ExitUsage
	}
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	fmt.Fprintln(stderr, "distribution:", err)
	var (
		u  usageError
		v  *publish.ViolationError
		in *publish.InputNotReadyError
		vf *publish.VerificationError
		cf *publish.ConflictError
	)
	switch {
	case errors.As(err, &u):
		return ExitUsage
	case errors.As(err, &v):
		return ExitContractViolation
	case errors.As(err, &in):
		return ExitInputNotReady
	case errors.As(err, &vf):
		return ExitVerificationFailed
	case errors.As(err, &cf):
		return ExitConflict
	}
	return ExitError
}

// common are the flags every command that touches data shares.
type common struct {
	configPath string
	dataDir    string
	logFormat  string
	logLevel   string

	cfg      *config.Config
	embedded bool
	log      *slog.Logger
	stderr   io.Writer
}

func (o *common) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.configPath, "config", "", "YAML configuration file (default: the embedded default under --data-dir)")
	fs.StringVar(&o.dataDir, "data-dir", "lakeport-data", "root folder of the embedded default")
	fs.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (o *common) complete() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %w", err)}
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch o.logFormat {
	case "json":
		o.log = slog.New(tracing.Handler(slog.NewJSONHandler(o.stderr, hopts)))
	case "text":
		o.log = slog.New(tracing.Handler(slog.NewTextHandler(o.stderr, hopts)))
	default:
		return usageError{fmt.Errorf("--log-format %q: want json or text", o.logFormat)}
	}
	// Libraries (iceberg-go) log through the default logger: same format, same stream.
	slog.SetDefault(o.log)
	if o.configPath == "" {
		o.cfg, o.embedded = config.Default(o.dataDir), true
		return nil
	}
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return usageError{err}
	}
	o.cfg = cfg
	return nil
}

// now is the clock of relative dates; tests replace it.
var now = time.Now

// parseDate parses --cob-date: YYYY-MM-DD, or a date relative to today (UTC) for schedulers:
// "today", "previous-business-day" (alias "t-1": the last business day before today in cal, the
// configured holiday calendar, TARGET2 by default).
func parseDate(s string, cal *calendar.Calendar) (time.Time, error) {
	today := now().UTC().Truncate(24 * time.Hour)
	switch strings.ToLower(s) {
	case "":
		return time.Time{}, errors.New("--cob-date is required")
	case "today":
		return today, nil
	case "previous-business-day", "t-1":
		return cal.Previous(today), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--cob-date %q: want YYYY-MM-DD, today or previous-business-day", s)
	}
	return t, nil
}

func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	return nil
}

func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
