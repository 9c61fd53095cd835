// Command distribution publishes market-risk results (VaR/ES, FRTB sensitivities, DRC) for a
// close-of-business date to Iceberg, the relational database and Trino. Run it without arguments
// for the commands and the exit codes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lakeport/lakeport/jobs/internal/app"
	"github.com/lakeport/lakeport/jobs/internal/memlimit"
)

func main() {
	// The pod's memory limit bounds the heap (GOMEMLIMIT, when set, wins).
	if _, err := memlimit.Set("/sys/fs/cgroup", os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "distribution: no memory limit from the container:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
