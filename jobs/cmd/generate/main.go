// Command generate writes synthetic, Spark-like Parquet input for the distribution job.
//
// Usage:
//
//	generate --out DIR [--dataset NAME]... --cob-date YYYY-MM-DD [--days N] [--rows N] [--files N]
//	         [--seed N] [--fault KIND]... [--include-partition-column]
//
// Each date lands in DIR/<dataset>/cob_date=YYYY-MM-DD/ as part-NNNNN-*.snappy.parquet files and a
// _SUCCESS marker, as Spark's partitionBy("cob_date") writes them. The same seed and date always
// give the same rows.
//
// Exit codes: 0 written, 2 invalid usage, 1 any other error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/calendar"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
)

type options struct {
	out      string
	datasets []string
	cobDate  string
	days     int
	rows     int
	files    int
	seed     uint64
	faults   []string
	withPart bool

	calendar string
	cal      *calendar.Calendar
	cob      time.Time
	stdout   io.Writer
}

type usageError struct{ error }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &options{stdout: stdout}
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "", "output root folder (required)")
	fs.Func("dataset", "dataset to generate (repeatable; default: all of "+strings.Join(contract.Names(), ", ")+")", func(s string) error {
		o.datasets = append(o.datasets, s)
		return nil
	})
	fs.StringVar(&o.cobDate, "cob-date", "", "first close-of-business date, YYYY-MM-DD (required)")
	fs.IntVar(&o.days, "days", 1, "number of consecutive business days to generate")
	fs.StringVar(&o.calendar, "calendar", calendar.Default, "holiday calendar of business days: "+strings.Join(calendar.Names(), ", "))
	fs.IntVar(&o.rows, "rows", 10000, "rows per dataset and date")
	fs.IntVar(&o.files, "files", 4, "Parquet part files per dataset and date")
	fs.Uint64Var(&o.seed, "seed", 42, "random seed")
	fs.Func("fault", "inject a contract violation (repeatable): "+faultNames(), func(s string) error {
		o.faults = append(o.faults, s)
		return nil
	})
	fs.BoolVar(&o.withPart, "include-partition-column", false, "also write cob_date inside the files")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := o.complete()
	if err == nil {
		err = o.validate()
	}
	if err == nil {
		err = o.run(ctx)
	}
	switch {
	case err == nil:
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintln(stderr, "generate:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "generate:", err)
		return 1
	}
}

func faultNames() string {
	var s []string
	for _, f := range generate.Faults {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}

func (o *options) complete() error {
	if len(o.datasets) == 0 {
		o.datasets = contract.Names()
	}
	if o.cobDate != "" {
		t, err := time.Parse(generate.DateLayout, o.cobDate)
		if err != nil {
			return usageError{fmt.Errorf("--cob-date: %w", err)}
		}
		o.cob = t
	}
	cal, err := calendar.New(o.calendar)
	if err != nil {
		return usageError{fmt.Errorf("--calendar: %w", err)}
	}
	o.cal = cal
	return nil
}

func (o *options) validate() error {
	var errs []error
	if o.out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	if o.cob.IsZero() {
		errs = append(errs, errors.New("--cob-date is required"))
	}
	if o.days < 1 {
		errs = append(errs, errors.New("--days must be >= 1"))
	}
	if o.rows < 0 || o.files < 1 {
		errs = append(errs, errors.New("--rows must be >= 0 and --files >= 1"))
	}
	for _, d := range o.datasets {
		if _, err := contract.Load(d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return nil
}

func (o *options) run(ctx context.Context) error {
	var faults []generate.Fault
	for _, f := range o.faults {
		faults = append(faults, generate.Fault(f))
	}
	for _, name := range o.datasets {
		c, err := contract.Load(name)
		if err != nil {
			return err
		}
		for day := 0; day < o.days; day++ {
			cob := addBusinessDays(o.cal, o.cob, day)
			start := time.Now()
			res, err := generate.WriteDate(ctx, o.out, generate.Options{
				Contract: c, CobDate: cob, Rows: o.rows, Files: o.files, Seed: o.seed,
				Faults: faults, IncludePartitionColumn: o.withPart,
			})
			if err != nil {
				return fmt.Errorf("generate %s %s: %w", name, cob.Format(generate.DateLayout), err)
			}
			fmt.Fprintf(o.stdout, "%-20s %s  %8d rows  %3d files  %7.1f MB  %s  %v\n", name, cob.Format(generate.DateLayout),
				res.Rows, len(res.Files), float64(res.Bytes)/1e6, res.Dir, time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// addBusinessDays steps over weekends and the calendar's holidays, as close-of-business dates do.
func addBusinessDays(cal *calendar.Calendar, t time.Time, n int) time.Time {
	for ; n > 0; n-- {
		t = cal.Next(t)
	}
	return t
}
