// Command diff (go run ./cli/internal/benchmarks/diff) measures the pull request preview, `lakeport diff --base HEAD~1`, over the whole
// kit against the way it is scripted without lakeport: the real helm binary run twice per release
// (base and head, with the arguments Argo CD's repo server uses) and the real dyff binary comparing
// each pair. Both are timed as whole processes, interleaved in the same run, and the medians of
// several runs are compared.
//
// The kit repository is cloned (with its history, so that pinned chart revisions resolve) and a
// pull request is committed on top; HEAD~1 is its base. Three pull requests are measured:
//
//   - worst case: every environment's pins first float to HEAD (a base commit), then every chart
//     gets a new template and a version bump, so every release of every environment renders
//     differently: lakeport renders everything on both sides (the version bump also changes the
//     helm.sh/chart label of every object, which lakeport compares and ignores);
//   - every chart, pins as they are: the same chart change; environments pinned to a commit do not
//     move, so lakeport renders only the environments that follow the branch;
//   - one values file: one environment's values for one component change (lakeport renders that
//     application only).
//
// The script renders every release at both revisions whatever changed, as it does not know.
// Its charts and value files are laid out before timing (helmpeer.Prepare), which favours it: a
// real script would also check the base revision and each pinned chart revision out.
//
//	go run ./cli/internal/benchmarks/diff -lakeport bin/lakeport -helm .tools/bin/helm -dyff .tools/bin/dyff -runs 5
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/lakeport/lakeport/cli/internal/benchmarks/kitedit"
	"github.com/lakeport/lakeport/cli/internal/benchmarks/stats"
	"github.com/lakeport/lakeport/cli/internal/helmpeer"
	"github.com/lakeport/lakeport/cli/pkg/diff"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench diff:", err)
		os.Exit(2)
	}
}

type options struct {
	lakeport, helm, dyff, repo string
	runs                       int
}

func run() error {
	var o options
	flag.StringVar(&o.lakeport, "lakeport", "bin/lakeport", "the lakeport binary")
	flag.StringVar(&o.helm, "helm", ".tools/bin/helm", "the helm binary")
	flag.StringVar(&o.dyff, "dyff", ".tools/bin/dyff", "the dyff binary")
	flag.StringVar(&o.repo, "repo", ".", "the kit repository to clone (its committed HEAD)")
	flag.IntVar(&o.runs, "runs", 5, "timed runs of each (the median is reported; at least 5)")
	flag.Parse()
	o.runs = max(o.runs, 5)
	for _, p := range []*string{&o.lakeport, &o.helm, &o.dyff} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%s: %w (run make tools build)", *p, err)
		}
		*p = abs
	}
	fmt.Printf("diff: lakeport diff --base HEAD~1 -o markdown vs helm template ×2 per release + dyff between, median of %d runs\n", o.runs)
	var results []result
	for _, pr := range []struct {
		name      string
		floatPins bool
		apply     func(dir string) error
	}{
		{"worst case: every release changes (pins floated to HEAD)", true, kitedit.EveryChart},
		{"every chart changes, pins as committed", false, kitedit.EveryChart},
		{"one values file changes", false, oneValuesFile},
	} {
		r, err := measure(o, pr.name, pr.floatPins, pr.apply)
		if err != nil {
			return fmt.Errorf("%s: %w", pr.name, err)
		}
		results = append(results, r)
	}
	fmt.Println("\ntarget: ≥ 20x faster than the script and < 1s")
	for _, r := range results {
		ratio := float64(r.peer) / float64(r.lakeport)
		verdict := "met"
		if ratio < 20 || r.lakeport >= time.Second {
			verdict = "MISSED"
		}
		fmt.Printf("  %-60s %6.1fx %8s  %s\n", r.name, ratio, r.lakeport.Round(time.Millisecond), verdict)
	}
	return nil
}

type result struct {
	name           string
	lakeport, peer time.Duration
}

func measure(o options, name string, floatPins bool, apply func(dir string) error) (result, error) {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "lakeport-diff-bench-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(tmp)
	repoDir := filepath.Join(tmp, "kit")
	if err := kitedit.Git(ctx, "", "clone", "--quiet", "--local", o.repo, repoDir); err != nil {
		return result{}, err
	}
	if floatPins {
		if err := kitedit.FloatPins(repoDir); err != nil {
			return result{}, err
		}
		if err := kitedit.Commit(ctx, repoDir, "bench: every pin follows the branch", "environments", "charts"); err != nil {
			return result{}, err
		}
	}
	if err := apply(repoDir); err != nil {
		return result{}, err
	}
	if err := kitedit.Commit(ctx, repoDir, "pull request: "+name, "environments", "charts"); err != nil {
		return result{}, err
	}

	// The peer: helm invocations for every release at base and head, laid out before timing.
	var jobs []struct {
		app        string
		base, head helmpeer.Invocation
	}
	sides := map[string][]helmpeer.Invocation{}
	nRels := 0
	for _, rev := range []string{"HEAD~1", ""} {
		w, err := workspace.Open(repoDir, rev)
		if err != nil {
			return result{}, err
		}
		rels, err := w.Render(ctx, w.Apps)
		if err != nil {
			return result{}, err
		}
		invs, err := helmpeer.Prepare(w, rels, filepath.Join(tmp, "peer", "side"+fmt.Sprint(len(sides))))
		if err != nil {
			return result{}, err
		}
		sides[rev] = invs
		nRels = max(nRels, len(rels))
	}
	byApp := map[string]helmpeer.Invocation{}
	for _, inv := range sides["HEAD~1"] {
		byApp[inv.App] = inv
	}
	for _, inv := range sides[""] {
		if b, ok := byApp[inv.App]; ok {
			jobs = append(jobs, struct {
				app        string
				base, head helmpeer.Invocation
			}{inv.App, b, inv})
		}
	}
	outDir := filepath.Join(tmp, "peer", "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return result{}, err
	}
	peerChanged := 0
	peer := func(count bool) error {
		for _, j := range jobs {
			files := [2]string{filepath.Join(outDir, j.app+".base.yaml"), filepath.Join(outDir, j.app+".head.yaml")}
			for i, inv := range []helmpeer.Invocation{j.base, j.head} {
				out, err := helmpeer.Run(ctx, o.helm, inv)
				if err != nil {
					return err
				}
				if err := os.WriteFile(files[i], []byte(out), 0o644); err != nil {
					return err
				}
			}
			args := []string{"between", "--omit-header", "--output", "github", "--color", "off", "--detect-renames=false"}
			for _, e := range dyffExcludes {
				args = append(args, "--exclude-regexp", e)
			}
			cmd := exec.CommandContext(ctx, o.dyff, append(args, files[0], files[1])...)
			out, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("dyff between %s: %w", j.app, err)
			}
			if count {
				peerChanged += countDyff(string(out))
			}
		}
		return nil
	}
	var lakeportOut []byte
	lakeport := func() error {
		cmd := exec.CommandContext(ctx, o.lakeport, "diff", "--repo", repoDir, "--base", "HEAD~1", "-o", "markdown", "--exit-code=false")
		var err error
		lakeportOut, err = cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("lakeport diff: %w\n%s", err, ee.Stderr)
			}
			return fmt.Errorf("lakeport diff: %w", err)
		}
		return nil
	}

	// Warm-up (page cache, binaries), then interleaved timed runs.
	if err := lakeport(); err != nil {
		return result{}, err
	}
	if err := peer(true); err != nil {
		return result{}, err
	}
	// The floor of any lakeport command: process start and package initialisation, no work.
	startOnly := func() error { return exec.CommandContext(ctx, o.lakeport, "version").Run() }
	var lt, pt, lc, pc, st []time.Duration
	for i := 0; i < o.runs; i++ {
		d, _, err := timeIt(startOnly)
		if err != nil {
			return result{}, err
		}
		st = append(st, d)
		d, c, err := timeIt(lakeport)
		if err != nil {
			return result{}, err
		}
		lt, lc = append(lt, d), append(lc, c)
		if d, c, err = timeIt(func() error { return peer(false) }); err != nil {
			return result{}, err
		}
		pt, pc = append(pt, d), append(pc, c)
	}
	ours, err := lakeportChanged(ctx, o.lakeport, repoDir)
	if err != nil {
		return result{}, err
	}
	lm, pm := stats.Median(lt), stats.Median(pt)
	fmt.Printf("\npull request: %s (%d applications)\n", name, nRels)
	fmt.Printf("  lakeport diff (one process)            %8s   (min %s, max %s; markdown %d bytes)\n", lm.Round(time.Millisecond), stats.Min(lt).Round(time.Millisecond), stats.Max(lt).Round(time.Millisecond), len(lakeportOut))
	fmt.Printf("  helm template ×%d + dyff between ×%d   %8s   (min %s, max %s)\n", 2*len(jobs), len(jobs), pm.Round(time.Millisecond), stats.Min(pt).Round(time.Millisecond), stats.Max(pt).Round(time.Millisecond))
	fmt.Printf("  ratio script/lakeport                  %8.1fx   (CPU time: lakeport %s, script %s, %.1fx)\n", float64(pm)/float64(lm),
		stats.Median(lc).Round(time.Millisecond), stats.Median(pc).Round(time.Millisecond), float64(stats.Median(pc))/float64(stats.Median(lc)))
	fmt.Printf("  lakeport version (start, no work)      %8s   ceiling script/start %.1fx\n", stats.Median(st).Round(time.Millisecond), float64(pm)/float64(stats.Median(st)))
	fmt.Printf("  changed resources: lakeport %d, dyff %d (same ignores)\n", ours, peerChanged)
	if ours != peerChanged {
		return result{}, fmt.Errorf("lakeport and dyff disagree on the changed resources (%d vs %d)", ours, peerChanged)
	}
	return result{name: name, lakeport: lm, peer: pm}, nil
}

// dyffExcludes are lakeport's default ignores as dyff --exclude-regexp (go-patch style paths).
var dyffExcludes = []string{`/labels/helm\.sh/chart$`, `/labels/app\.kubernetes\.io/version$`, `/annotations/checksum/`, `^/metadata/managedFields`, `^/status`}

// countDyff counts the resources dyff's GitHub output names.
func countDyff(out string) int {
	set := map[string]bool{}
	lines := strings.Split(out, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "@@ ") {
			continue
		}
		if lines[i] == "@@ (file level) @@" {
			// The documents' order changed (a renamed Job sorts elsewhere): no resource changed,
			// and lakeport pairs objects by identity, not position.
			continue
		}
		if strings.HasPrefix(lines[i+1], "# ") {
			set[lines[i+1]] = true
		} else {
			// dyff names no resource when a side holds a single document.
			set["(the single document)"] = true
		}
	}
	return len(set)
}

func lakeportChanged(ctx context.Context, bin, repo string) (int, error) {
	out, err := exec.CommandContext(ctx, bin, "diff", "--repo", repo, "--base", "HEAD~1", "-o", "json", "--exit-code=false").Output()
	if err != nil {
		return 0, fmt.Errorf("lakeport diff -o json: %w", err)
	}
	var doc diff.Document
	if err := json.Unmarshal(out, &doc); err != nil {
		return 0, err
	}
	t := doc.Summary.Resources
	return t.Added + t.Changed + t.Removed, nil
}

// oneValuesFile appends a comment and changes one scalar of the first environment's first
// component values file, keeping it valid against the chart's schema: it rewrites the first
// image tag it finds.
func oneValuesFile(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "environments", "*", "*.yaml"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	tagRE := regexp.MustCompile(`(?m)^(\s*tag:\s*)"?([^"\s#]+)"?`)
	for _, f := range files {
		if filepath.Base(f) == "env.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if loc := tagRE.FindSubmatchIndex(b); loc != nil {
			out := string(b[:loc[0]]) + string(b[loc[2]:loc[3]]) + `"bench-1"` + string(b[loc[1]:])
			return os.WriteFile(f, []byte(out), 0o644)
		}
	}
	return errors.New("no values file with an image tag to change")
}

// timeIt returns the wall time of f and the CPU time (user + system) of the processes it ran,
// which a machine shared with other work inflates far less than wall time.
func timeIt(f func() error) (time.Duration, time.Duration, error) {
	c0 := childCPU()
	start := time.Now()
	err := f()
	return time.Since(start), childCPU() - c0, err
}

func childCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
