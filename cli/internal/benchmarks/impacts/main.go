// Command impacts (go run ./cli/internal/benchmarks/impacts) measures what impacts cost the pull
// request preview: `lakeport diff --base HEAD~1 -o markdown` run in-process (the action and the
// Markdown writer, as the CLI runs them) over a pull request that touches every release of the
// bundled kit, with and without impacts (action.Diff.NoImpacts), median of interleaved runs.
// Target: with/without ≤ 1.10.
//
// The kit is cloned (with its history, so pinned chart revisions resolve); every environment's
// pins float to HEAD in a base commit, then every chart gets a new template and a version bump
// (the helm.sh/chart label of every object, pod templates included, changes): every object of
// every release differs, so every one is analysed. An applied migration is edited too, so that
// the repository-file impacts are part of the cost.
//
//	go run ./cli/internal/benchmarks/impacts -runs 7
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lakeport/lakeport/cli/internal/benchmarks/kitedit"
	"github.com/lakeport/lakeport/cli/internal/benchmarks/stats"
	"github.com/lakeport/lakeport/cli/pkg/action"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/diff/impact"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench impacts:", err)
		os.Exit(2)
	}
}

func run() error {
	repo := flag.String("repo", ".", "the kit repository to clone (its committed HEAD)")
	runs := flag.Int("runs", 7, "timed runs of each variant, interleaved (the median is reported; at least 7)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the runs with impacts to this file")
	flag.Parse()
	n := max(*runs, 7)
	logrus.SetOutput(io.Discard) // Argo CD's generator code logs through logrus; the CLI discards it too
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "lakeport-impacts-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "kit")
	if err := kitedit.Git(ctx, "", "clone", "--quiet", "--local", *repo, dir); err != nil {
		return err
	}
	if err := kitedit.FloatPins(dir); err != nil {
		return err
	}
	if err := kitedit.Commit(ctx, dir, "bench: every pin follows the branch", "environments", "charts", "jobs"); err != nil {
		return err
	}
	if err := kitedit.EveryChart(dir); err != nil {
		return err
	}
	if err := editMigration(dir); err != nil {
		return err
	}
	if err := kitedit.Commit(ctx, dir, "pull request: every chart and an applied migration", "environments", "charts", "jobs"); err != nil {
		return err
	}

	preview := func(noImpacts bool) (*action.DiffReport, int, error) {
		h, err := diff.NewHasher("bench")
		if err != nil {
			return nil, 0, err
		}
		d := &action.Diff{Config: &action.Config{RepoDir: dir}, Mode: diff.Revisions, Base: "HEAD~1", Head: "HEAD",
			Rules: diff.DefaultRules(), Context: 3, Hasher: h, NoImpacts: noImpacts}
		rep, err := d.Run(ctx)
		if err != nil {
			return nil, 0, err
		}
		size := 0
		for _, p := range diff.Markdown(rep.Report, diff.MarkdownOptions{Split: true}) {
			size += len(p)
		}
		return rep, size, nil
	}
	// timeIt returns the wall time of one preview and the CPU time this process spent on it (less
	// sensitive to the other processes of a shared machine than the wall time).
	timeIt := func(noImpacts bool) (time.Duration, time.Duration, error) {
		runtime.GC()
		cpu0 := selfCPU()
		start := time.Now()
		_, _, err := preview(noImpacts)
		return time.Since(start), selfCPU() - cpu0, err
	}
	// Warm up both (chart loading, git object caches), and check what is measured.
	with, mdWith, err := preview(false)
	if err != nil {
		return err
	}
	without, mdWithout, err := preview(true)
	if err != nil {
		return err
	}
	if with.Totals() != without.Totals() {
		return errors.New("the two variants compared different resources")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		for range n {
			if _, _, err := preview(false); err != nil {
				return err
			}
		}
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return err
		}
	}
	var withT, withoutT, withC, withoutC []time.Duration
	for i := range n {
		// Interleaved, the order alternating, so that load from other processes falls on both.
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		for _, noImpacts := range order {
			d, c, err := timeIt(noImpacts)
			if err != nil {
				return err
			}
			if noImpacts {
				withoutT, withoutC = append(withoutT, d), append(withoutC, c)
			} else {
				withT, withC = append(withT, d), append(withC, c)
			}
		}
	}
	t := with.Totals()
	counts := with.ImpactCounts()
	var kinds []string
	for _, k := range impact.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, counts[k]))
	}
	apps := len(with.Apps)
	mw, mo := stats.Median(withT), stats.Median(withoutT)
	ratio := float64(mw) / float64(mo)
	fmt.Printf("impacts: lakeport diff --base HEAD~1 -o markdown in-process, every release of the kit changed, median of %d interleaved runs\n", n)
	fmt.Printf("  %d applications, %d added, %d changed, %d removed resources; impacts: %s; %d repository-file impacts\n",
		apps, t.Added, t.Changed, t.Removed, strings.Join(kinds, ", "), len(with.FileImpacts))
	fmt.Printf("  without impacts  %8s  (min %s, max %s; markdown %d bytes)\n", mo.Round(time.Millisecond), stats.Min(withoutT).Round(time.Millisecond), stats.Max(withoutT).Round(time.Millisecond), mdWithout)
	fmt.Printf("  with impacts     %8s  (min %s, max %s; markdown %d bytes)\n", mw.Round(time.Millisecond), stats.Min(withT).Round(time.Millisecond), stats.Max(withT).Round(time.Millisecond), mdWith)
	verdict := "met"
	if ratio > 1.10 {
		verdict = "MISSED"
	}
	fmt.Printf("  ratio with/without %.3f (target ≤ 1.10): %s\n", ratio, verdict)
	// Each iteration runs both variants back to back: the median of their ratios cancels most of
	// the load that other processes put on a shared machine (which moves both alike).
	paired := make([]float64, n)
	for i := range n {
		paired[i] = float64(withT[i]) / float64(withoutT[i])
	}
	sort.Float64s(paired)
	fmt.Printf("  median of the %d paired ratios (each iteration's with/without) %.3f\n", n, paired[n/2])
	cw, co := stats.Median(withC), stats.Median(withoutC)
	fmt.Printf("  CPU time of this process: without %s, with %s, ratio %.3f\n", co.Round(time.Millisecond), cw.Round(time.Millisecond), float64(cw)/float64(co))
	return nil
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// editMigration appends a comment to the first applied migration.
func editMigration(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, impact.MigrationsDir, "*", "*.sql"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no migrations under %s (err %v)", impact.MigrationsDir, err)
	}
	f, err := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("-- edited by the impacts benchmark\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
