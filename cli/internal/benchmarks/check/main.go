// Command check (go run ./cli/internal/benchmarks/check) measures `lakeport check` over every environment of the kit against
// conftest on the same rendered manifests, with the same policies and data, in one run: the
// runs alternate (lakeport, conftest, lakeport...) so that both see the same machine load, and
// each side's median of -n runs is reported with their ratio.
//
// lakeport's time is the whole command: open the kit, render every Application, validate every
// object's schema, check API versions and evaluate the policies. conftest's is the sum of one
// `conftest test` per environment over files rendered beforehand (conftest cannot render), so
// the comparison is generous to conftest.
//
//	go run ./cli/internal/benchmarks/check -lakeport bin/lakeport -conftest .tools/bin/conftest
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/lakeport/lakeport/cli/internal/benchmarks/stats"
	"github.com/lakeport/lakeport/cli/internal/conftestpeer"
	"github.com/lakeport/lakeport/cli/pkg/check/policy"
	"github.com/lakeport/lakeport/cli/pkg/workspace"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "checkbench:", err)
		os.Exit(1)
	}
}

// Result is the JSON shape of -json.
type Result struct {
	Runs               int     `json:"runs"`
	Applications       int     `json:"applications"`
	Objects            int     `json:"objects"`
	Environments       int     `json:"environments"`
	LakeportMedianMS   float64 `json:"lakeportMedianMs"`
	ConftestMedianMS   float64 `json:"conftestMedianMs"`
	LakeportMinMS      float64 `json:"lakeportMinMs"`
	ConftestMinMS      float64 `json:"conftestMinMs"`
	Speedup            float64 `json:"speedup"`
	LakeportOverPeer   float64 `json:"lakeportOverConftest"`
	FasterThanConftest bool    `json:"fasterThanConftest"`
}

func run() error {
	repo := flag.String("repo", ".", "the kit repository")
	lakeport := flag.String("lakeport", "bin/lakeport", "the lakeport binary")
	conftest := flag.String("conftest", ".tools/bin/conftest", "the conftest binary")
	n := flag.Int("n", 7, "measured runs per side (the median is reported)")
	jsonOut := flag.String("json", "", "also write the result as JSON to this file")
	flag.Parse()
	if *n < 5 {
		return errors.New("-n must be at least 5")
	}
	for _, bin := range []*string{lakeport, conftest} {
		abs, err := filepath.Abs(*bin)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%s: %w (make build; hack/ensure.sh conftest)", *bin, err)
		}
		*bin = abs
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}

	// conftest's inputs: every Application rendered once, the data of each environment.
	w, err := workspace.Open(root, "")
	if err != nil {
		return err
	}
	rels, err := w.Render(context.Background(), w.Apps)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "checkbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	runs, err := conftestpeer.Inputs(tmp, w.Kit, rels)
	if err != nil {
		return err
	}
	objects := 0
	for _, r := range rels {
		objects += len(r.Objects)
	}
	policies := filepath.Join(root, policy.Dir)

	lakeportOnce := func() (time.Duration, error) {
		return timed(*lakeport, []string{"--repo", root, "check", "-o", "json"}, root)
	}
	conftestOnce := func() (time.Duration, error) {
		var total time.Duration
		for _, r := range runs {
			d, err := timed(*conftest, r.Args(policies), root)
			if err != nil {
				return 0, fmt.Errorf("conftest %s: %w", r.Environment, err)
			}
			total += d
		}
		return total, nil
	}

	fmt.Fprintf(os.Stderr, "checkbench: %d applications, %d objects, %d environments; 1 warm-up + %d runs per side\n", len(rels), objects, len(runs), *n)
	if _, err := lakeportOnce(); err != nil {
		return err
	}
	if _, err := conftestOnce(); err != nil {
		return err
	}
	var lp, cf []time.Duration
	for i := 0; i < *n; i++ {
		first, second := lakeportOnce, conftestOnce
		if i%2 == 1 {
			first, second = conftestOnce, lakeportOnce
		}
		a, err := first()
		if err != nil {
			return err
		}
		b, err := second()
		if err != nil {
			return err
		}
		if i%2 == 1 {
			a, b = b, a
		}
		lp, cf = append(lp, a), append(cf, b)
		fmt.Fprintf(os.Stderr, "  run %d: lakeport check %v, conftest %v\n", i+1, a.Round(time.Millisecond), b.Round(time.Millisecond))
	}
	res := Result{
		Runs: *n, Applications: len(rels), Objects: objects, Environments: len(runs),
		LakeportMedianMS: ms(stats.Median(lp)), ConftestMedianMS: ms(stats.Median(cf)),
		LakeportMinMS: ms(slices.Min(lp)), ConftestMinMS: ms(slices.Min(cf)),
	}
	res.Speedup = res.ConftestMedianMS / res.LakeportMedianMS
	res.LakeportOverPeer = res.LakeportMedianMS / res.ConftestMedianMS
	res.FasterThanConftest = res.LakeportMedianMS < res.ConftestMedianMS
	fmt.Printf("lakeport check vs conftest: %d environments, %d applications, %d objects, median of %d runs\n", res.Environments, res.Applications, res.Objects, res.Runs)
	fmt.Printf("  lakeport check (render + schema + APIs + policies)  median %8.0f ms   min %8.0f ms\n", res.LakeportMedianMS, res.LakeportMinMS)
	fmt.Printf("  conftest test (policies on pre-rendered files)      median %8.0f ms   min %8.0f ms\n", res.ConftestMedianMS, res.ConftestMinMS)
	fmt.Printf("  ratio lakeport/conftest %.3f (lakeport is %.1fx faster)\n", res.LakeportOverPeer, res.Speedup)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if !res.FasterThanConftest {
		return errors.New("lakeport check is not faster than conftest")
	}
	return nil
}

// timed runs a command and returns its wall time; exit 1 (findings) is not an error.
func timed(bin string, args []string, dir string) (time.Duration, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = io.Discard
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return 0, fmt.Errorf("%s %v: %w\n%s", filepath.Base(bin), args, err, stderr.b)
	}
	return d, nil
}

type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b) < 64<<10 {
		l.b = append(l.b, p...)
	}
	return len(p), nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
