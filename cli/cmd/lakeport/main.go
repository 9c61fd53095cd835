// Command lakeport renders, checks, diffs, promotes and health-checks the Lakeport GitOps kit.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/lakeport/lakeport/cli/internal/cmd"
	"github.com/lakeport/lakeport/cli/internal/iostreams"
)

func main() {
	// lakeport allocates in one short burst (the kit rendered once or twice): collecting garbage
	// during it costs a third of the CPU time. Let the heap grow to a soft limit instead, unless
	// the user tunes the collector.
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(512 << 20)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, iostreams.System(), os.Args[1:])
	stop()
	os.Exit(code)
}
