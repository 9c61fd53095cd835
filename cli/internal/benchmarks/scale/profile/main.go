// Command profile runs one lakeport action in-process on a kit (a generated fleet) and writes
// CPU and heap profiles, for the findings of issue 14:
//
//	go run ./cli/internal/benchmarks/scale/profile -repo /tmp/fleet -what render -cpu cpu.out -mem mem.out
//	go tool pprof -top cpu.out
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/diff"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(2)
	}
}

func run() error {
	repo := flag.String("repo", ".", "the kit repository")
	what := flag.String("what", "render", "apps, render, check or diff (diff --base HEAD~1)")
	cpu := flag.String("cpu", "", "write a CPU profile here")
	mem := flag.String("mem", "", "write a heap profile (in use at the end, and allocations) here")
	flag.Parse()
	ctx := context.Background()
	cfg := &action.Config{RepoDir: *repo}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	var err error
	var keep any
	switch *what {
	case "apps":
		keep, err = (&action.Apps{Config: cfg}).Run(ctx)
	case "render":
		keep, err = (&action.Render{Config: cfg}).Run(ctx)
	case "check":
		keep, err = (&action.Check{Config: cfg}).Run(ctx)
	case "diff":
		keep, err = (&action.Diff{Config: cfg, Mode: diff.Revisions, Base: "HEAD~1"}).Run(ctx)
	default:
		return fmt.Errorf("-what %q: want apps, render, check or diff", *what)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %s\n", *what, time.Since(start).Round(time.Millisecond))
	if *mem != "" {
		f, err := os.Create(*mem)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	runtime.KeepAlive(keep)
	return nil
}
