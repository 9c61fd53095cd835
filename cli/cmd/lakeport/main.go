// Command lakeport renders, checks, diffs, promotes and health-checks the Lakeport GitOps kit.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
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
	stopProfile := startProfile(os.Getenv("LAKEPORT_CPUPROFILE"))
	code := cmd.Main(ctx, iostreams.System(), os.Args[1:])
	stopProfile()
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile of the command to path when it is set (LAKEPORT_CPUPROFILE,
// for `go tool pprof`; CONTRIBUTING.md), and returns the function that ends it.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "lakeport: LAKEPORT_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "lakeport: LAKEPORT_CPUPROFILE: %v\n", err)
		}
	}
}
