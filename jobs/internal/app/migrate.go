package app

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/lakeport/lakeport/jobs/internal/migrate"
)

type migrateOptions struct {
	common
	stdout io.Writer
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &migrateOptions{common: common{stderr: stderr}, stdout: stdout}
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: distribution migrate [--config FILE | --data-dir DIR]\n\nApplies the pending versioned schema migrations of the relational target, each once, in order;\nrefuses when an applied migration was edited. Exit codes: 0 done, 1 error, 2 invalid usage.\n\nFlags:")
		fs.PrintDefaults()
	}
	o.bind(fs)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
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
	res, err := migrate.Run(ctx, db, o.cfg.Database.Driver)
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
