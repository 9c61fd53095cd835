package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/lakeport/lakeport/jobs/internal/migrate"
)

type migrateOptions struct {
	common
	stdout   io.Writer
	printSQL bool
	// force is the version of `migrate force VERSION`, -1 without it.
	force int
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &migrateOptions{common: common{stderr: stderr}, stdout: stdout, force: -1}
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: distribution migrate [--print-sql] [--config FILE | --data-dir DIR]
       distribution migrate force VERSION [--config FILE | --data-dir DIR]

Applies the pending versioned schema migrations of the relational target, each once, in order,
under a lock (pg_advisory_lock, DBMS_LOCK on Oracle); refuses when an applied migration was edited.
On Oracle, whose DDL commits, a migration that failed half-way leaves its version dirty and every
later run refuses until the schema is repaired by hand and "force VERSION" records it (VERSION:
the migration now fully applied, or the one before it when it was undone).

--print-sql prints the statements that would run, binds in comments, and executes none.
Exit codes: 0 done, 1 error, 2 invalid usage.

Flags:`)
		fs.PrintDefaults()
	}
	o.bind(fs)
	fs.BoolVar(&o.printSQL, "print-sql", false, "print the statements that would run (for a DBA) and execute none")
	// parseFlags refuses arguments; "force VERSION" is one, flags may come before or after it.
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if rest := fs.Args(); len(rest) > 0 {
		if rest[0] != "force" || len(rest) < 2 {
			return usageError{fmt.Errorf("migrate: unexpected arguments %q (want: force VERSION)", rest)}
		}
		v, err := strconv.Atoi(rest[1])
		if err != nil || v < 0 {
			return usageError{fmt.Errorf("migrate force %q: want a version number", rest[1])}
		}
		o.force = v
		// Flags after VERSION.
		if err := parseFlags(fs, rest[2:], stderr); err != nil {
			return err
		}
	}
	if o.printSQL && o.force >= 0 {
		return usageError{fmt.Errorf("migrate: --print-sql and force exclude each other")}
	}
	if err := o.complete(); err != nil {
		return err
	}
	return o.run(ctx)
}

func (o *migrateOptions) run(ctx context.Context) error {
	if o.cfg.Database.Driver == "none" {
		o.log.Info("no relational target configured; nothing to migrate")
		return nil
	}
	if err := o.waitForServices(ctx, false, false); err != nil {
		return err
	}
	db, err := openSQL(o.cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	driver := o.cfg.Database.Driver
	switch {
	case o.printSQL:
		plan, err := migrate.PlanRun(ctx, db, driver)
		if err != nil {
			return fmt.Errorf("plan the migrations of %s: %w", driver, err)
		}
		return migrate.WritePlan(o.stdout, plan)
	case o.force >= 0:
		if err := migrate.Force(ctx, db, driver, o.force); err != nil {
			return fmt.Errorf("migrate %s: %w", driver, err)
		}
		o.log.Info("schema version forced", "driver", driver, "version", o.force)
		fmt.Fprintf(o.stdout, "schema recorded at version %d\n", o.force)
		return nil
	}
	res, err := migrate.Run(ctx, db, driver)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", o.cfg.Database.Driver, err)
	}
	for _, m := range res.Applied {
		o.log.Info("migration applied", "version", m.Version, "name", m.Name, "checksum", m.Checksum[:12])
	}
	o.log.Info("schema up to date", "driver", o.cfg.Database.Driver, "version", res.Current, "applied", len(res.Applied))
	fmt.Fprintf(o.stdout, "schema at version %d (%d applied now)\n", res.Current, len(res.Applied))
	return nil
}
