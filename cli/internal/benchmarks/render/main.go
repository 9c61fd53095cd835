// Command render measures `lakeport render` of the whole kit against the way it is scripted
// without lakeport: the real helm binary run once per release with the arguments Argo CD's repo
// server uses. Both are timed as whole processes, in the same run, interleaved, and the medians of
// several runs are compared.
//
//	go run ./cli/internal/benchmarks/render -lakeport bin/lakeport -helm .tools/bin/helm -runs 7
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/lakeport/lakeport/cli/internal/benchmarks/stats"
	"github.com/lakeport/lakeport/cli/internal/helmpeer"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench render:", err)
		os.Exit(2)
	}
}

func run() error {
	lakeport := flag.String("lakeport", "bin/lakeport", "the lakeport binary")
	helm := flag.String("helm", ".tools/bin/helm", "the helm binary")
	repo := flag.String("repo", ".", "the kit repository")
	runs := flag.Int("runs", 7, "timed runs of each (the median is reported)")
	flag.Parse()

	ctx := context.Background()
	w, err := workspace.Open(*repo, "")
	if err != nil {
		return err
	}
	rels, err := w.Render(ctx, w.Apps)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "lakeport-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	invs, err := helmpeer.Prepare(w, rels, tmp)
	if err != nil {
		return err
	}

	lakeportRun := func() error {
		cmd := exec.CommandContext(ctx, *lakeport, "render", "--repo", *repo)
		cmd.Stdout, cmd.Stderr = nil, nil
		return cmd.Run()
	}
	// The floor of any lakeport command: process start and package initialisation, no work.
	startOnly := func() error {
		cmd := exec.CommandContext(ctx, *lakeport, "version")
		cmd.Stdout, cmd.Stderr = nil, nil
		return cmd.Run()
	}
	helmLoop := func() error {
		for _, inv := range invs {
			if _, err := helmpeer.Run(ctx, *helm, inv); err != nil {
				return err
			}
		}
		return nil
	}
	// One warm-up of each (page cache, binary loading), then interleaved timed runs.
	if err := lakeportRun(); err != nil {
		return fmt.Errorf("lakeport render: %w", err)
	}
	if err := helmLoop(); err != nil {
		return err
	}
	var lt, ht, st []time.Duration
	for i := 0; i < *runs; i++ {
		d, err := timeIt(startOnly)
		if err != nil {
			return err
		}
		st = append(st, d)
		if d, err = timeIt(lakeportRun); err != nil {
			return err
		}
		lt = append(lt, d)
		if d, err = timeIt(helmLoop); err != nil {
			return err
		}
		ht = append(ht, d)
	}
	lm, hm, sm := stats.Median(lt), stats.Median(ht), stats.Median(st)
	fmt.Printf("render: %d applications, %d environments, median of %d runs\n", len(rels), len(w.Kit.Environments), *runs)
	fmt.Printf("  lakeport render (one process)      %8s   (min %s, max %s)\n", lm.Round(time.Millisecond), stats.Min(lt).Round(time.Millisecond), stats.Max(lt).Round(time.Millisecond))
	fmt.Printf("  helm template × %-2d (one per app)   %8s   (min %s, max %s)\n", len(invs), hm.Round(time.Millisecond), stats.Min(ht).Round(time.Millisecond), stats.Max(ht).Round(time.Millisecond))
	fmt.Printf("  ratio helm/lakeport                %8.1fx  (target ≥ 10x; lakeport target < 300ms)\n", float64(hm)/float64(lm))
	fmt.Printf("  lakeport version (start, no work)  %8s   one helm template: %s\n", sm.Round(time.Millisecond), (hm / time.Duration(len(invs))).Round(time.Millisecond))
	fmt.Printf("  ceiling helm/start                 %8.1fx  (no render can beat the loop by more than this)\n", float64(hm)/float64(sm))
	return nil
}

func timeIt(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}
