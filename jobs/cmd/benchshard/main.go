// Command benchshard measures the sharded publication (make bench-jobs): the same day published by
// one worker and by K workers, each worker a separate `distribution publish --shards K
// --shard-index i` process as the pods of an Indexed Job would be, against a throwaway PostgreSQL
// (Iceberg SQL catalog and relational target, hack/testenv) and a local warehouse. It reports the
// wall clock of the whole publication (first worker started to last worker exited) and the peak
// RSS of every worker (getrusage of the child), medians of --runs runs, and the K vs 1 ratio.
//
// Exit codes: 0 done, 1 error, 2 invalid usage.
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
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/lakeport/lakeport/hack/testenv"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
	"github.com/lakeport/lakeport/jobs/internal/migrate"
)

type options struct {
	dataset      string
	distribution string
	out          string
	runs         int
	files        int
	cases        []benchCase
}

// benchCase is one measured configuration: rows of input published by shards workers.
type benchCase struct {
	Rows   int `json:"rows"`
	Shards int `json:"shards"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := options{}
	fs := flag.NewFlagSet("benchshard", flag.ContinueOnError)
	fs.StringVar(&o.dataset, "dataset", "frtb_sensitivities", "dataset to publish")
	fs.StringVar(&o.distribution, "distribution", "bin/distribution", "the distribution binary the workers run")
	fs.StringVar(&o.out, "out", "out/bench-shards", "folder for the inputs, the warehouse and results.json")
	fs.IntVar(&o.runs, "runs", 3, "runs of each case; medians are reported")
	fs.IntVar(&o.files, "files", 8, "input files per day")
	cases := fs.String("cases", "4000000x1,4000000x2", "cases ROWSxSHARDS, comma-separated (the first two give the ratio)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	for _, s := range strings.Split(*cases, ",") {
		r, k, ok := strings.Cut(strings.TrimSpace(s), "x")
		rows, err1 := strconv.Atoi(r)
		shards, err2 := strconv.Atoi(k)
		if !ok || err1 != nil || err2 != nil || rows < 1 || shards < 1 {
			fmt.Fprintf(os.Stderr, "benchshard: --cases %q: want ROWSxSHARDS, e.g. 4000000x2\n", s)
			os.Exit(2)
		}
		o.cases = append(o.cases, benchCase{Rows: rows, Shards: shards})
	}
	if o.runs < 1 {
		fmt.Fprintln(os.Stderr, "benchshard: --runs must be >= 1")
		os.Exit(2)
	}
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchshard:", err)
		os.Exit(1)
	}
}

// result is one case's measurements.
type result struct {
	benchCase
	Walls      []time.Duration `json:"walls"`
	Wall       time.Duration   `json:"medianWall"`
	PeakRSSMiB [][]float64     `json:"peakRssMiBPerWorker"` // per run, per worker
	RSSMiB     float64         `json:"medianPeakRssMiB"`    // median over runs of the largest worker
}

func run(ctx context.Context, o options, w io.Writer) error {
	c, err := contract.Load(o.dataset)
	if err != nil {
		return err
	}
	bin, err := filepath.Abs(o.distribution)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("distribution binary: %w (make jobs-build)", err)
	}
	if err := os.RemoveAll(o.out); err != nil {
		return err
	}
	pg, err := testenv.StartPostgres()
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	defer pg.Stop()
	db := stdlib.OpenDB(*mustConfig(pg.DSN))
	if _, err := migrate.Run(ctx, db, migrate.Postgres); err != nil {
		return err
	}
	_ = db.Close()
	var results []*result
	inputs := map[int]string{}
	for ci, bc := range o.cases {
		root, ok := inputs[bc.Rows]
		if !ok {
			root = filepath.Join(o.out, fmt.Sprintf("input-%d", bc.Rows))
			fmt.Fprintf(w, "generating %d rows of %s in %d files...\n", bc.Rows, c.Name, o.files)
			if _, err := generate.WriteDate(ctx, root, generate.Options{Contract: c, CobDate: day, Rows: bc.Rows, Files: o.files, Seed: uint64(bc.Rows)}); err != nil {
				return err
			}
			inputs[bc.Rows] = root
		}
		r := &result{benchCase: bc}
		for i := 0; i < o.runs; i++ {
			// Each run publishes into a catalog and warehouse of its own, so that none resumes from
			// another (the database's date partition is replaced by each run's swap).
			cfg, err := writeConfig(o.out, root, pg.DSN, fmt.Sprintf("bench_%d_%d", ci, i))
			if err != nil {
				return err
			}
			wall, rss, err := publish(ctx, bin, cfg, c.Name, day, bc.Shards, fmt.Sprintf("bench-%d-%d", ci, i))
			if err != nil {
				return fmt.Errorf("%d rows x %d shards, run %d: %w", bc.Rows, bc.Shards, i+1, err)
			}
			fmt.Fprintf(w, "  %d rows, %d worker(s), run %d: %v, peak RSS per worker %v MiB\n", bc.Rows, bc.Shards, i+1, wall.Round(time.Millisecond), rss)
			r.Walls = append(r.Walls, wall)
			r.PeakRSSMiB = append(r.PeakRSSMiB, rss)
		}
		r.Wall = medianDuration(r.Walls)
		var maxes []float64
		for _, rs := range r.PeakRSSMiB {
			m := 0.0
			for _, x := range rs {
				m = max(m, x)
			}
			maxes = append(maxes, m)
		}
		sort.Float64s(maxes)
		r.RSSMiB = maxes[len(maxes)/2]
		results = append(results, r)
	}
	fmt.Fprintf(w, "\n%s, medians of %d runs, %d input files, PostgreSQL fsync=off, local warehouse\n", c.Name, o.runs, o.files)
	fmt.Fprintln(w, "rows      workers  wall        peak RSS of the largest worker")
	for _, r := range results {
		fmt.Fprintf(w, "%-9d %-8d %-11v %.0f MiB\n", r.Rows, r.Shards, r.Wall.Round(time.Millisecond), r.RSSMiB)
	}
	if len(results) >= 2 {
		fmt.Fprintf(w, "wall clock %d workers / %d worker(s) on %d rows = %.2f\n", results[1].Shards, results[0].Shards, results[0].Rows,
			results[1].Wall.Seconds()/results[0].Wall.Seconds())
	}
	data, _ := json.MarshalIndent(map[string]any{"dataset": c.Name, "runs": o.runs, "results": results}, "", "  ")
	return os.WriteFile(filepath.Join(o.out, "results.json"), data, 0o644)
}

// day is the close-of-business date every run publishes.
var day = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func mustConfig(dsn string) *pgx.ConnConfig {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		panic(err)
	}
	return cfg
}

func writeConfig(out, input, dsn, catalog string) (string, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	in, err := filepath.Abs(input)
	if err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`input: {uri: %q, allowIncomplete: true}
iceberg:
  catalog: {type: sql, name: %s, uri: %q}
  warehouse: %q
database: {driver: postgres, dsn: %q}
workDir: %q
`, in, catalog, dsn, filepath.Join(abs, "warehouse-"+catalog), dsn, filepath.Join(abs, "work"))
	path := filepath.Join(abs, catalog+".yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// publish runs the k workers of one publication as processes and returns the wall clock and the
// peak RSS (MiB) of each worker.
func publish(ctx context.Context, bin, cfg, dataset string, day time.Time, k int, runID string) (time.Duration, []float64, error) {
	start := time.Now()
	cmds := make([]*exec.Cmd, k)
	logs := make([]*strings.Builder, k)
	for i := range cmds {
		args := []string{"publish", "--config", cfg, "--dataset", dataset, "--cob-date", day.Format(time.DateOnly), "--run-id", runID, "--log-format", "text", "--log-level", "warn"}
		if k > 1 {
			args = append(args, "--shards", strconv.Itoa(k), "--shard-index", strconv.Itoa(i), "--shard-wait", "30m")
		}
		cmds[i] = exec.CommandContext(ctx, bin, args...)
		logs[i] = &strings.Builder{}
		cmds[i].Stdout, cmds[i].Stderr = io.Discard, logs[i]
		if err := cmds[i].Start(); err != nil {
			return 0, nil, err
		}
	}
	rss := make([]float64, k)
	var errs []error
	for i, cmd := range cmds {
		err := cmd.Wait()
		if err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w\n%s", i, err, logs[i].String()))
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss[i] = float64(ru.Maxrss) / 1024 // Linux: KiB
		}
	}
	return time.Since(start), rss, errors.Join(errs...)
}

func medianDuration(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
