// Command start measures what stripping costs or saves at start-up: `lakeport version` (process
// start and package initialisation, no work) of the development build (`make build`: unstripped)
// against the release build (`make release`'s flags: -s -w -buildid=), as whole processes,
// interleaved in the same run, medians of several runs. It also prints both binaries' sizes.
//
//	go run ./cli/internal/benchmarks/start -dev bin/lakeport -release out/bench/lakeport-release -runs 31
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/lakeport/lakeport/cli/internal/benchmarks/stats"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench start:", err)
		os.Exit(2)
	}
}

func run() error {
	dev := flag.String("dev", "bin/lakeport", "the development build")
	rel := flag.String("release", "out/bench/lakeport-release", "the release build (stripped)")
	runs := flag.Int("runs", 31, "timed runs of each (the median is reported)")
	flag.Parse()
	if *runs < 5 {
		return fmt.Errorf("-runs %d: at least 5", *runs)
	}
	ctx := context.Background()
	once := func(bin string) (time.Duration, error) {
		start := time.Now()
		if err := exec.CommandContext(ctx, bin, "version").Run(); err != nil {
			return 0, fmt.Errorf("%s version: %w", bin, err)
		}
		return time.Since(start), nil
	}
	var d, r []time.Duration
	for i := 0; i < *runs+2; i++ { // two warm-up rounds: the page cache holds both binaries
		a, err := once(*dev)
		if err != nil {
			return err
		}
		b, err := once(*rel)
		if err != nil {
			return err
		}
		if i >= 2 {
			d, r = append(d, a), append(r, b)
		}
	}
	size := func(p string) float64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return float64(fi.Size()) / 1e6
	}
	md, mr := stats.Median(d), stats.Median(r)
	fmt.Printf("lakeport version, median of %d runs each (interleaved):\n", *runs)
	fmt.Printf("  development build  %7.1f ms  %6.1f MB  %s\n", float64(md.Microseconds())/1000, size(*dev), *dev)
	fmt.Printf("  release build      %7.1f ms  %6.1f MB  %s\n", float64(mr.Microseconds())/1000, size(*rel), *rel)
	fmt.Printf("  release / development start time: %.2f (below 1: the stripped binary starts faster)\n", float64(mr)/float64(md))
	return nil
}
