package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/config"
	"github.com/lakeport/lakeport/jobs/internal/wait"
)

// EnvWaitTimeout overrides how long a command waits for the services it needs (a Go duration;
// "0" disables the wait). Default: wait.Options' 5 minutes.
const EnvWaitTimeout = "DISTRIBUTION_WAIT_TIMEOUT"

// waitForServices blocks until every network endpoint the command needs accepts connections:
// the relational database; with lake also the Iceberg catalog and the S3 endpoints of the
// warehouse and the input; with trino also Trino. Argo CD gives no order between the kit's
// Applications, so these may come up after the job starts.
func (o *common) waitForServices(ctx context.Context, lake, trino bool) error {
	timeout := time.Duration(0)
	if v := os.Getenv(EnvWaitTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return usageError{fmt.Errorf("%s=%q: %w", EnvWaitTimeout, v, err)}
		}
		if d == 0 {
			return nil
		}
		timeout = d
	}
	targets, err := waitTargets(o.cfg, lake, trino)
	if err != nil {
		return usageError{err}
	}
	return wait.For(ctx, wait.Options{Timeout: timeout, Log: o.log}, targets...)
}

// waitTargets lists the network endpoints of a configuration, each once, in the order a command
// uses them. Local files (SQLite, folders) are not endpoints.
func waitTargets(cfg *config.Config, lake, trino bool) ([]wait.Target, error) {
	var out []wait.Target
	seen := map[string]bool{}
	add := func(name, raw string) error {
		if raw == "" {
			return nil
		}
		addr, err := wait.Addr(raw)
		if errors.Is(err, wait.ErrNoHost) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !seen[addr] {
			seen[addr] = true
			out = append(out, wait.Target{Name: name, Addr: addr})
		}
		return nil
	}
	var errs []error
	if d := cfg.Database; d.Driver == "postgres" || d.Driver == "oracle" {
		errs = append(errs, add("database", d.DSN))
	}
	if lake {
		if c := cfg.Iceberg.Catalog; c.Type == "rest" || strings.Contains(c.URI, "://") {
			errs = append(errs, add("iceberg catalog", c.URI))
		}
		if strings.HasPrefix(cfg.Iceberg.Warehouse, "s3://") {
			errs = append(errs, add("S3 (warehouse)", cfg.Iceberg.S3.Endpoint))
		}
		if strings.HasPrefix(cfg.Input.URI, "s3://") {
			errs = append(errs, add("S3 (input)", cfg.Input.S3.Endpoint))
		}
	}
	if trino {
		errs = append(errs, add("trino", cfg.Trino.URL))
	}
	return out, errors.Join(errs...)
}
