package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/config"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/publish"
	"github.com/lakeport/lakeport/jobs/internal/publock"
	"github.com/lakeport/lakeport/jobs/internal/trino"
)

// maintainOptions are the flags of `distribution maintain`.
type maintainOptions struct {
	common
	datasets     []string
	optimizeDays int
	stdout       io.Writer

	contracts []*contract.Contract
}

func runMaintain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &maintainOptions{common: common{stderr: stderr}, stdout: stdout}
	fs := flag.NewFlagSet("maintain", flag.ContinueOnError)
	o.bind(fs)
	fs.Func("dataset", "dataset whose table to maintain (repeatable, or \"all\")", func(s string) error {
		o.datasets = append(o.datasets, s)
		return nil
	})
	fs.IntVar(&o.optimizeDays, "optimize-days", 7, "Trino optimize (when trino.maintenance.optimize) compacts the dates of the last N days (0: the whole table)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: distribution maintain --dataset NAME|all [--config FILE | --data-dir DIR]

The one maintenance of the datasets' Iceberg tables, under each dataset's maintenance lock (no
publication of the dataset runs meanwhile, none starts; a publication that finds it running waits
up to maintenance.publishWait): tag every publication found untagged (run-<cob_date>-<run id>,
kept for maintenance.tagRetention), expire snapshots older than
maintenance.expireSnapshotsOlderThan (never a tagged one before its retention), remove orphan
files older than maintenance.removeOrphanFilesOlderThan, rewrite manifests, then Trino's optimize
when trino.maintenance.optimize is set.

Exit codes: 0 done, 1 error, 2 invalid usage, 6 a publication (or another maintenance) of a
dataset is running: that dataset was not maintained, try again later.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := o.complete(); err != nil {
		return err
	}
	if len(o.datasets) == 1 && o.datasets[0] == "all" {
		o.datasets = contract.Names()
	}
	var errs []error
	o.contracts, errs = loadContracts(o.datasets)
	if o.optimizeDays < 0 {
		errs = append(errs, fmt.Errorf("--optimize-days %d: want >= 0", o.optimizeDays))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return o.run(ctx)
}

func (o *maintainOptions) run(ctx context.Context) error {
	cfg := o.cfg
	m, err := cfg.Maintenance.Resolve()
	if err != nil {
		return usageError{err}
	}
	if err := o.waitForServices(ctx, true, false); err != nil {
		return err
	}
	l, err := lake.Open(ctx, cfg.Iceberg)
	if err != nil {
		return fmt.Errorf("open iceberg catalog: %w", err)
	}
	defer l.Close()
	locker, err := l.Locker(ctx)
	if err != nil {
		return err
	}
	defer locker.Close()
	var tr *trino.Client
	if cfg.Trino.URL != "" && (cfg.Trino.Maintenance.Optimize || cfg.Trino.Maintenance.OptimizeManifests) {
		if tr, err = trino.Open(cfg.Trino, l.Namespace()); err != nil {
			return usageError{fmt.Errorf("trino: %w", err)}
		}
		defer tr.Close()
	}
	owner := publish.NewRunID()
	var errs []error
	for _, c := range o.contracts {
		if err := o.maintain(ctx, l, locker, tr, c, owner, m); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// maintain maintains one dataset's table under its maintenance lock.
func (o *maintainOptions) maintain(ctx context.Context, l *lake.Lake, locker publock.Locker, tr *trino.Client, c *contract.Contract, owner string, m config.ResolvedMaintenance) error {
	log := o.log.With("dataset", c.Name, "run_id", owner)
	lk, err := locker.TryAcquireMaintenance(ctx, c.Name, owner)
	if err != nil {
		if publock.IsBusy(err) {
			return &publish.ConflictError{Err: err}
		}
		return err
	}
	defer func() {
		if rerr := lk.Release(context.WithoutCancel(ctx)); rerr != nil {
			log.Warn("releasing the maintenance lock failed", "error", rerr.Error())
		}
	}()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-lk.Lost():
			cancel(publock.ErrLost)
		case <-ctx.Done():
		}
	}()
	res, err := l.Maintain(ctx, c, lake.MaintainOptions{TagRetention: m.TagRetention, ExpireOlderThan: m.ExpireOlderThan,
		RetainLast: m.RetainLast, OrphansOlderThan: m.OrphansOlderThan, RewriteManifests: m.RewriteManifests})
	if err != nil {
		return err
	}
	log.Info("table maintained", "tagged", strings.Join(res.Tagged, ","), "expired_snapshots", len(res.ExpiredSnapshots),
		"expired_tags", strings.Join(res.ExpiredTags, ","), "orphan_files", res.OrphanFiles, "orphan_bytes", res.OrphanBytes,
		"manifests_rewritten", res.ManifestsBefore, "manifests_written", res.ManifestsAfter, "duration", res.Duration)
	if tr != nil {
		var since time.Time
		if o.optimizeDays > 0 {
			since = now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -o.optimizeDays)
		}
		t0 := time.Now()
		if err := tr.Maintain(ctx, c, since); err != nil {
			return fmt.Errorf("trino optimize: %w", err)
		}
		log.Info("trino optimize done", "duration", time.Since(t0))
	}
	fmt.Fprintf(o.stdout, "maintained %s: %d tagged, %d snapshots and %d tags expired, %d orphan files (%d bytes) removed, manifests %d -> %d\n",
		c.Name, len(res.Tagged), len(res.ExpiredSnapshots), len(res.ExpiredTags), res.OrphanFiles, res.OrphanBytes, res.ManifestsBefore, res.ManifestsAfter)
	return nil
}
