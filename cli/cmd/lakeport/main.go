// Command lakeport renders, checks, diffs, promotes and health-checks the Lakeport GitOps kit.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// First: no garbage collection below a soft limit, from package initialisation on, and no
	// kubectl message catalogue.
	_ "github.com/lakeport/lakeport/cli/internal/burstgc"
	_ "github.com/lakeport/lakeport/cli/internal/noi18n"

	"github.com/lakeport/lakeport/cli/internal/cmd"
	"github.com/lakeport/lakeport/cli/internal/iostreams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, iostreams.System(), os.Args[1:])
	stop()
	os.Exit(code)
}
