// Command lakeport renders, checks, diffs, promotes and health-checks the Lakeport GitOps kit.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
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
	stopProfile := startProfile(os.Getenv("LAKEPORT_CPUPROFILE"), os.Getenv("LAKEPORT_TRACE"))
	code := cmd.Main(ctx, iostreams.System(), os.Args[1:])
	stopProfile()
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile of the command to cpuPath and an execution trace to
// tracePath when they are set (LAKEPORT_CPUPROFILE and LAKEPORT_TRACE, for `go tool pprof` and
// `go tool trace`; CONTRIBUTING.md), and returns the function that ends them.
func startProfile(cpuPath, tracePath string) func() {
	var stops []func() error
	start := func(name, path string, begin func(io.Writer) error, end func()) {
		if path == "" {
			return
		}
		f, err := os.Create(path)
		if err == nil {
			if err = begin(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "lakeport: %s: %v\n", name, err)
			return
		}
		stops = append(stops, func() error { end(); return f.Close() })
	}
	start("LAKEPORT_CPUPROFILE", cpuPath, pprof.StartCPUProfile, pprof.StopCPUProfile)
	start("LAKEPORT_TRACE", tracePath, trace.Start, trace.Stop)
	return func() {
		for _, stop := range stops {
			if err := stop(); err != nil {
				fmt.Fprintf(os.Stderr, "lakeport: profile: %v\n", err)
			}
		}
	}
}
