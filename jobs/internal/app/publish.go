package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/calendar"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/metrics"
	"github.com/lakeport/lakeport/jobs/internal/migrate"
	"github.com/lakeport/lakeport/jobs/internal/publish"
	"github.com/lakeport/lakeport/jobs/internal/source"
	"github.com/lakeport/lakeport/jobs/internal/tracing"
	"github.com/lakeport/lakeport/jobs/internal/trino"
	"github.com/lakeport/lakeport/jobs/internal/validate"
)

type publishOptions struct {
	common
	datasets   []string
	cobDateStr string
	runID      string
	reportPath string
	dryRun     bool // validate only
	stdout     io.Writer
	shards     int
	shardIndex int
	shardWait  time.Duration

	contracts []*contract.Contract
	cob       time.Time
}

func newPublishFlags(o *publishOptions, name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	o.bind(fs)
	fs.Func("dataset", "dataset to publish (repeatable, or \"all\")", func(s string) error {
		o.datasets = append(o.datasets, s)
		return nil
	})
	fs.StringVar(&o.cobDateStr, "cob-date", "", "close-of-business date: YYYY-MM-DD, today or previous-business-day (UTC, in the configured holiday calendar) (required)")
	fs.StringVar(&o.reportPath, "report", "", "write the validation report as JSON to this file")
	if name == "publish" {
		fs.StringVar(&o.runID, "run-id", "", "run id recorded in the snapshot summary and the publication log (default: random; required with --shards, the same for every worker)")
		fs.IntVar(&o.shards, "shards", 1, "workers of a sharded publication (an Indexed Job's completions); 1: one process publishes")
		idx := 0
		if v, ok := os.LookupEnv("JOB_COMPLETION_INDEX"); ok {
			_, _ = fmt.Sscan(v, &idx)
		}
		fs.IntVar(&o.shardIndex, "shard-index", idx, "this worker's index, 0 the coordinator (default: $JOB_COMPLETION_INDEX)")
		fs.DurationVar(&o.shardWait, "shard-wait", time.Hour, "how long a worker waits for the staging table and the coordinator for the workers' results")
	}
	return fs
}

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &publishOptions{common: common{stderr: stderr}, stdout: stdout}
	fs := newPublishFlags(o, "publish", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: distribution publish --dataset NAME --cob-date YYYY-MM-DD [--config FILE | --data-dir DIR]

Validates the dataset's input for the date against its contract and, when it passes, replaces the
date's partition of the Iceberg table (one commit), loads the date into the relational target
(one transaction), tags the run's snapshot for the regulatory retention, then verifies it through
Trino when configured (maintenance is 'distribution maintain', never a publication's). A re-run
for the same date gives the same table and rows.

Exit codes: 0 published, 1 error (retry may succeed), 2 invalid usage, 3 contract violation
(nothing published), 4 input not ready, 5 Trino verification failed, 6 another publication of
the same dataset and date is running or won (nothing committed by this run).

Sharded (--shards K, an Indexed Job): every worker validates and writes its share of the files;
worker 0 (--shard-index, default $JOB_COMPLETION_INDEX) waits for them all and publishes in one
commit.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := o.complete(); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	return o.run(ctx)
}

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &publishOptions{common: common{stderr: stderr}, stdout: stdout, dryRun: true}
	fs := newPublishFlags(o, "validate", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: distribution validate --dataset NAME --cob-date YYYY-MM-DD [--report FILE]\n\nChecks the input against the contract and prints the report; publishes nothing.\nExit codes: 0 passed, 1 error, 2 invalid usage, 3 contract violated, 4 input not ready.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := o.complete(); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	return o.run(ctx)
}

func (o *publishOptions) complete() error {
	if err := o.common.complete(); err != nil {
		return err
	}
	if len(o.datasets) == 1 && o.datasets[0] == "all" {
		o.datasets = contract.Names()
	}
	return nil
}

// loadContracts loads the contract of every --dataset, collecting every problem.
func loadContracts(datasets []string) ([]*contract.Contract, []error) {
	var out []*contract.Contract
	var errs []error
	if len(datasets) == 0 {
		errs = append(errs, errors.New("--dataset is required"))
	}
	for _, d := range datasets {
		c, err := contract.Load(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errs
}

func (o *publishOptions) validate() error {
	var errs []error
	o.contracts, errs = loadContracts(o.datasets)
	if o.dryRun {
		o.shards, o.shardIndex = 1, 0 // validate: one process
	}
	if o.shards < 1 || o.shardIndex < 0 || o.shardIndex >= max(o.shards, 1) {
		errs = append(errs, fmt.Errorf("--shard-index %d of --shards %d: want 0 <= index < shards", o.shardIndex, o.shards))
	}
	if o.shards > 1 && (o.runID == "" || len(o.datasets) != 1) {
		errs = append(errs, errors.New("--shards > 1 publishes one --dataset with a --run-id shared by the workers"))
	}
	cal, err := calendar.New(o.cfg.Calendar)
	if err != nil {
		errs = append(errs, fmt.Errorf("config calendar: %w", err))
	} else if o.cob, err = parseDate(o.cobDateStr, cal); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return nil
}

func (o *publishOptions) run(ctx context.Context) (err error) {
	cfg := o.cfg
	shutdown, err := tracing.Setup(ctx, cfg.Tracing, Version)
	if err != nil {
		return usageError{fmt.Errorf("tracing: %w", err)}
	}
	defer func() {
		if serr := shutdown(context.WithoutCancel(ctx)); serr != nil {
			o.log.Warn("flushing traces failed", "error", serr.Error())
		}
	}()
	if err := o.waitForServices(ctx, true, !o.dryRun); err != nil {
		return err
	}
	maint, err := cfg.Maintenance.Resolve()
	if err != nil {
		return usageError{err}
	}
	l, err := lake.Open(ctx, cfg.Iceberg)
	if err != nil {
		return fmt.Errorf("open iceberg catalog: %w", err)
	}
	defer l.Close()
	p := &publish.Publisher{
		TagRetention:    maint.TagRetention,
		MaintenanceWait: maint.PublishWait,
		Lake:            l,
		Input:           source.Options{URI: cfg.Input.URI, S3: cfg.Input.S3, WorkDir: cfg.WorkDir, AllowIncomplete: cfg.Input.AllowIncomplete},
		Log:             o.log,
		BatchRows:       cfg.BatchRows,
		RunID:           o.runID,
		Metrics:         metrics.New(),
	}
	if o.dryRun {
		var errs []error
		for _, c := range o.contracts {
			rep, err := p.Validate(ctx, c, o.cob)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
				continue
			}
			if err := o.report(rep); err != nil {
				return err
			}
			if !rep.Passed() {
				errs = append(errs, &publish.ViolationError{Report: rep})
			}
		}
		return errors.Join(errs...)
	}
	if o.embedded && cfg.Database.Driver == "sqlite" {
		// The embedded default has no PreSync hook: bring its schema up to date here.
		db, err := openSQL(cfg.Database)
		if err != nil {
			return err
		}
		_, err = migrate.Run(ctx, db, migrate.SQLite)
		_ = db.Close()
		if err != nil {
			return fmt.Errorf("migrate embedded database: %w", err)
		}
	}
	if p.Locker, err = l.Locker(ctx); err != nil {
		return err
	}
	defer p.Locker.Close()
	p.Hook = crashHook(os.Getenv(CrashAtEnv))
	loader, err := openLoader(ctx, cfg.Database)
	if err != nil {
		return err
	}
	if loader != nil {
		defer loader.Close()
		p.DB = loader
	}
	if cfg.Trino.URL != "" {
		v, err := trino.Open(cfg.Trino, l.Namespace())
		if err != nil {
			return usageError{fmt.Errorf("trino: %w", err)}
		}
		defer v.Close()
		p.Verifier = v
	}
	defer func() {
		// Metrics go out whatever the outcome: a failed run is what alerts are about.
		if u := cfg.Metrics.Pushgateway; u != "" {
			if perr := p.Metrics.Push(context.WithoutCancel(ctx), u, o.shardIndex, cfg.Metrics.Labels); perr != nil {
				o.log.Warn("metrics push failed", "error", perr.Error())
			}
		}
		if f := cfg.Metrics.Textfile; f != "" {
			if werr := p.Metrics.WriteTextfile(f); werr != nil {
				o.log.Warn("metrics textfile failed", "error", werr.Error())
			}
		}
	}()
	var errs []error
	for _, c := range o.contracts {
		res, err := p.PublishShard(ctx, c, o.cob, publish.ShardSpec{Index: o.shardIndex, Count: o.shards, RunID: o.runID, Wait: o.shardWait})
		if res != nil && res.Report != nil {
			if rerr := o.report(res.Report); rerr != nil {
				return rerr
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
			continue
		}
		if o.shards > 1 && o.shardIndex > 0 {
			fmt.Fprintf(o.stdout, "shard %d of %d of %s %s done (run %s), %v\n", o.shardIndex, o.shards, c.Name, o.cob.Format(time.DateOnly), res.RunID, res.Duration.Round(time.Millisecond))
			continue
		}
		fmt.Fprintf(o.stdout, "published %s %s: %d rows, snapshot %d, %d files, run %s, %v\n", c.Name, o.cob.Format(time.DateOnly),
			res.Report.Rows, res.Commit.SnapshotID, res.Commit.AddedFiles, res.RunID, res.Duration.Round(time.Millisecond))
	}
	return errors.Join(errs...)
}

// CrashAtEnv names the publication point (publish.Point*) at which the command kills itself with
// SIGKILL: the crash tests re-run the binary with it to prove that a re-run converges.
const CrashAtEnv = "LAKEPORT_CRASH_AT"

// crashHook returns the publication hook that kills the process at point (nil: no hook).
func crashHook(point string) func(context.Context, string) error {
	if point == "" {
		return nil
	}
	return func(_ context.Context, at string) error {
		if at == point {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	}
}

// report prints a failed report to stderr (and every report to --report).
func (o *publishOptions) report(rep *validate.Report) error {
	if !rep.Passed() || o.dryRun {
		w := o.stderr
		if o.dryRun && rep.Passed() {
			w = o.stdout
		}
		if err := rep.WriteText(w); err != nil {
			return err
		}
	}
	if o.reportPath == "" {
		return nil
	}
	path := o.reportPath
	if len(o.contracts) > 1 {
		path = fmt.Sprintf("%s.%s.json", o.reportPath, rep.Dataset)
	}
	if err := writeFileAtomic(path, rep.WriteJSON); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
