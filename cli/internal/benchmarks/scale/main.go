// Command scale (go run ./cli/internal/benchmarks/scale, make bench-scale) measures lakeport on a
// synthetic fleet: for each size N it builds a temporary repository with N Applications (N/4
// environments copied from the kit's staging and prod shapes, see package fleet) and times, each in
// a fresh process of the built lakeport binary, with the peak RSS of that process (getrusage of
// the child): `apps`, `render`, `render -o dir=`, `check` and three pull request previews (`diff
// --base HEAD~1 -o markdown`: one values file; one component's pin moved in every environment;
// the ApplicationSet template changed). The peer is the real helm binary run once per release
// with Argo CD's arguments on a sample of the fleet's releases chosen by a fixed seed; its
// per-release median is extrapolated to the fleet (stated as such in the output). No cache.
//
//	go run ./cli/internal/benchmarks/scale -lakeport bin/lakeport -helm .tools/bin/helm -sizes 600,3000 -runs 3
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"

	"github.com/lakeport/lakeport/cli/internal/benchmarks/scale/fleet"
	"github.com/lakeport/lakeport/cli/internal/benchmarks/stats"
	"github.com/lakeport/lakeport/cli/internal/helmpeer"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench scale:", err)
		os.Exit(2)
	}
}

type options struct {
	lakeport, helm, repo, only, keep, jsonOut string
	sizes                                     []int
	runs, sample, checkMax                    int
	seed                                      uint64
}

// row is one measured command at one size.
type row struct {
	Size    int           `json:"size"`
	Apps    int           `json:"apps"`
	Work    string        `json:"work"`
	Median  time.Duration `json:"medianNs"`
	Min     time.Duration `json:"minNs"`
	Max     time.Duration `json:"maxNs"`
	CPU     time.Duration `json:"medianCpuNs"` // user + system time of the process
	PeakRSS int64         `json:"peakRssBytes"`
	Note    string        `json:"note,omitempty"`
}

func run() error {
	var o options
	var sizes string
	flag.StringVar(&o.lakeport, "lakeport", "bin/lakeport", "the lakeport binary")
	flag.StringVar(&o.helm, "helm", ".tools/bin/helm", "the helm binary (the peer)")
	flag.StringVar(&o.repo, "repo", ".", "the kit repository the fleet is cloned from (its committed HEAD)")
	flag.StringVar(&sizes, "sizes", "600,3000", "fleet sizes, in generated Applications")
	flag.IntVar(&o.runs, "runs", 3, "timed runs of each command (the median is reported)")
	flag.IntVar(&o.sample, "sample", 12, "releases in the helm template sample")
	flag.Uint64Var(&o.seed, "seed", 14, "seed of the helm sample")
	flag.IntVar(&o.checkMax, "check-max", 0, "measure check only on fleets up to this size (0: every size; the issue's check target is at 611 Applications)")
	flag.StringVar(&o.only, "only", "", "measure only the works whose name contains this (e.g. render)")
	flag.StringVar(&o.keep, "keep", "", "build the fleets under this directory and keep them (for profiling)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the rows as JSON to this file")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-sizes: %q is not a positive number", s)
		}
		o.sizes = append(o.sizes, n)
	}
	for _, p := range []*string{&o.lakeport, &o.helm, &o.repo} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%s: %w (run make tools build)", *p, err)
		}
		*p = abs
	}
	var rows []row
	for _, n := range o.sizes {
		r, err := measureSize(o, n)
		rows = append(rows, r...)
		if err != nil {
			return fmt.Errorf("N=%d: %w", n, err)
		}
	}
	printTable(rows, o)
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(o.jsonOut), 0o755); err != nil {
			return err
		}
		return os.WriteFile(o.jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

func measureSize(o options, n int) ([]row, error) {
	ctx := context.Background()
	base := o.keep
	if base == "" {
		tmp, err := os.MkdirTemp("", "lakeport-scale-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		base = tmp
	}
	dir := filepath.Join(base, fmt.Sprintf("fleet-%d", n))
	_ = os.RemoveAll(dir)
	start := time.Now()
	f, err := fleet.Build(ctx, fleet.Options{Src: o.repo, Dir: dir, Apps: n})
	if err != nil {
		return nil, err
	}
	fleetHead, err := fleet.RevParse(ctx, dir, "HEAD")
	if err != nil {
		return nil, err
	}
	w, err := workspace.Open(dir, "")
	if err != nil {
		return nil, err
	}
	apps := len(w.Apps)
	fmt.Fprintf(os.Stderr, "N=%d: fleet of %d environments, %d Applications built in %s (%s)\n", n, len(w.Kit.Environments), apps, time.Since(start).Round(time.Millisecond), dir)

	var rows []row
	add := func(work, note string, args []string, okExit ...int) error {
		if o.only != "" && !strings.Contains(work, o.only) {
			return nil
		}
		if work == "check" && o.checkMax > 0 && n > o.checkMax {
			fmt.Fprintf(os.Stderr, "  %-28s skipped above %d Applications (-check-max)\n", work, o.checkMax)
			return nil
		}
		r, err := timeCommand(ctx, o, args, okExit)
		if err != nil {
			return fmt.Errorf("%s: %w", work, err)
		}
		r.Size, r.Apps, r.Work, r.Note = n, apps, work, note
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "  %-28s %8s  cpu %8s  %4d MB\n", work, r.Median.Round(time.Millisecond), r.CPU.Round(time.Millisecond), r.PeakRSS>>20)
		return nil
	}
	out := filepath.Join(base, fmt.Sprintf("out-%d", n))
	for _, c := range []struct {
		work string
		args []string
		ok   []int
	}{
		{"apps", []string{"apps", "--repo", dir}, nil},
		{"render", []string{"render", "--repo", dir}, nil},
		{"render -o dir", []string{"render", "--repo", dir, "-o", "dir=" + out}, nil},
		{"check", []string{"check", "--repo", dir}, []int{1}},
	} {
		if err := add(c.work, "", c.args, c.ok...); err != nil {
			return rows, err
		}
	}
	_ = os.RemoveAll(out)
	for _, pr := range []struct {
		work, note string
		apply      func() error
	}{
		{"diff: one values file", "1 app changes", f.PRValuesFile},
		{"diff: pin moved everywhere", fmt.Sprintf("trino pin moved in %d environments", len(f.Envs)), func() error { return f.PRMovePin("trino") }},
		{"diff: ApplicationSet changed", "a label on every Application", f.PRApplicationSet},
	} {
		if o.only != "" && !strings.Contains(pr.work, o.only) {
			continue
		}
		if err := pr.apply(); err != nil {
			return rows, err
		}
		if err := fleet.Commit(ctx, dir, "pull request: "+pr.work); err != nil {
			return rows, err
		}
		err := add(pr.work, pr.note, []string{"diff", "--repo", dir, "--base", "HEAD~1", "-o", "markdown", "--exit-code=false"})
		if rerr := fleet.Git(ctx, dir, "reset", "--quiet", "--hard", fleetHead); rerr != nil && err == nil {
			err = rerr
		}
		if err != nil {
			return rows, err
		}
	}
	if o.only == "" || strings.Contains("helm template", o.only) {
		r, err := helmSample(ctx, o, w, f)
		if err != nil {
			return rows, err
		}
		r.Size, r.Apps = n, apps
		rows = append(rows, r)
	}
	return rows, nil
}

// helmSample times `helm template` per release on a sample of the generated Applications chosen
// with a fixed seed, and returns the per-release median with the extrapolation to the fleet.
func helmSample(ctx context.Context, o options, w *workspace.Workspace, f *fleet.Fleet) (row, error) {
	pool := workspace.Filter(w.Apps, f.Envs, nil)
	rng := rand.New(rand.NewPCG(o.seed, 0))
	idx := rng.Perm(len(pool))[:min(o.sample, len(pool))]
	slices.Sort(idx)
	sample := make([]argov1.Application, 0, len(idx))
	for _, i := range idx {
		sample = append(sample, pool[i])
	}
	rels, err := w.Render(ctx, sample)
	if err != nil {
		return row{}, err
	}
	tmp, err := os.MkdirTemp("", "lakeport-scale-helm-")
	if err != nil {
		return row{}, err
	}
	defer os.RemoveAll(tmp)
	invs, err := helmpeer.Prepare(w, rels, tmp)
	if err != nil {
		return row{}, err
	}
	var per, cpu []time.Duration
	var rss int64
	for run := 0; run <= o.runs; run++ {
		for _, inv := range invs {
			cmd := exec.CommandContext(ctx, o.helm, inv.Args...)
			cmd.Env = inv.Env
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				return row{}, fmt.Errorf("helm %s: %w\n%s", strings.Join(inv.Args, " "), err, out)
			}
			if run > 0 { // the first round warms the page cache
				per = append(per, time.Since(start))
				cpu = append(cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
				rss = max(rss, maxRSS(cmd))
			}
		}
	}
	m := stats.Median(per)
	names := make([]string, len(rels))
	for i, r := range rels {
		names[i] = r.App
	}
	fmt.Fprintf(os.Stderr, "  helm template sample (seed %d): %s\n", o.seed, strings.Join(names, " "))
	return row{Work: "helm template per release", Median: m, Min: stats.Min(per), Max: stats.Max(per), CPU: stats.Median(cpu), PeakRSS: rss,
		Note: fmt.Sprintf("median of %d releases × %d runs, seed %d", len(invs), o.runs, o.seed)}, nil
}

// timeCommand runs lakeport with args o.runs times (after one warm-up) in fresh processes.
func timeCommand(ctx context.Context, o options, args []string, okExit []int) (row, error) {
	var ds, cpu []time.Duration
	var rss []time.Duration // peak RSS in bytes, as durations to reuse stats.Median
	for i := 0; i <= o.runs; i++ {
		cmd := exec.CommandContext(ctx, o.lakeport, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		var ee *exec.ExitError
		if errors.As(err, &ee) && slices.Contains(okExit, ee.ExitCode()) {
			err = nil
		}
		if err != nil {
			return row{}, fmt.Errorf("lakeport %s: %w\n%s", strings.Join(args, " "), err, tail(stderr.String()))
		}
		if i == 0 {
			continue // warm-up
		}
		ds = append(ds, d)
		rss = append(rss, time.Duration(maxRSS(cmd)))
		cpu = append(cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	return row{Median: stats.Median(ds), Min: stats.Min(ds), Max: stats.Max(ds), CPU: stats.Median(cpu), PeakRSS: int64(stats.Median(rss))}, nil
}

// maxRSS is the peak resident set of a finished child process, in bytes (Linux reports KiB).
func maxRSS(cmd *exec.Cmd) int64 {
	if cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// targets are the targets (issue 14), by size and work: a time and a peak RSS bound.
func target(size int, work string) (time.Duration, int64, string) {
	switch {
	case size >= 3000 && work == "apps":
		return time.Second, 300 << 20, "< 1 s, < 300 MB"
	case size >= 3000 && work == "diff: one values file":
		return time.Second, 0, "< 1 s"
	case size >= 3000 && work == "diff: pin moved everywhere":
		return 15 * time.Second, 0, "< 15 s"
	case size >= 3000 && work == "render":
		return 0, 1 << 30, "≥ 20× helm (below), < 1 GB"
	case size < 3000 && work == "check":
		return 5 * time.Second, 0, "< 5 s"
	}
	return 0, 0, ""
}

func printTable(rows []row, o options) {
	fmt.Printf("bench-scale: fresh lakeport processes on a generated fleet, median of %d runs (peak RSS: median of the runs' getrusage maxrss), no cache\n", o.runs)
	fmt.Printf("%-6s %-6s %-30s %10s %10s %21s %8s  %-28s %s\n", "N", "apps", "work", "median", "cpu", "min–max", "peak", "target", "")
	helm, helmCPU := map[int]time.Duration{}, map[int]time.Duration{}
	for _, r := range rows {
		if r.Work == "helm template per release" {
			helm[r.Size], helmCPU[r.Size] = r.Median, r.CPU
		}
	}
	for _, r := range rows {
		limit, mem, text := target(r.Size, r.Work)
		verdict := ""
		if text != "" {
			verdict = "met"
			if (limit > 0 && r.Median >= limit) || (mem > 0 && r.PeakRSS >= mem) {
				verdict = "MISSED"
			}
		}
		note := r.Note
		if r.Work == "render" && helm[r.Size] > 0 {
			peer := helm[r.Size] * time.Duration(r.Apps)
			ratio := float64(peer) / float64(r.Median)
			note = fmt.Sprintf("helm template × %d extrapolated from the sample: %s, %.1f× lakeport (CPU: %.1f×)", r.Apps, peer.Round(time.Second), ratio,
				float64(helmCPU[r.Size]*time.Duration(r.Apps))/float64(max(r.CPU, 1)))
			if ratio < 20 {
				verdict = "MISSED"
			}
		}
		fmt.Printf("%-6d %-6d %-30s %10s %10s %21s %6dMB  %-28s %-6s %s\n", r.Size, r.Apps, r.Work, r.Median.Round(time.Millisecond), r.CPU.Round(time.Millisecond),
			r.Min.Round(10*time.Millisecond).String()+"–"+r.Max.Round(10*time.Millisecond).String(), r.PeakRSS>>20, text, verdict, note)
	}
}
