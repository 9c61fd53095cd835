package app

// The steps of the nightly pipeline (charts/distribution/templates/workflowtemplate.yaml) that
// are not a publication: calendar, wait-input, verify and report.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go/catalog"

	"github.com/lakeport/lakeport/jobs/internal/calendar"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/publish"
	"github.com/lakeport/lakeport/jobs/internal/relational"
	"github.com/lakeport/lakeport/jobs/internal/source"
)

// Day is the calendar's answer for one run.
type Day struct {
	// CobDate is the close-of-business date the run publishes (YYYY-MM-DD).
	CobDate string `json:"cobDate"`
	// BusinessDay is false on a weekend or a holiday: the run publishes nothing.
	BusinessDay bool `json:"businessDay"`
	// Reason says why a day is not a business day ("weekend", or the holiday's name).
	Reason   string `json:"reason,omitempty"`
	Calendar string `json:"calendar"`
}

// runDay decides the run's cob date: cobDate when it is a YYYY-MM-DD, else ("auto", "") the day
// daysBefore days before at's date in loc. The scheduler's time zone matters: 00:30 in London is
// still the day before in UTC for half the year.
func runDay(cal *calendar.Calendar, at time.Time, loc *time.Location, daysBefore int, cobDate string) (Day, error) {
	var d time.Time
	switch strings.ToLower(cobDate) {
	case "", "auto":
		if at.IsZero() {
			return Day{}, errors.New("--at is required unless --cob-date is a date")
		}
		y, m, dd := at.In(loc).Date()
		d = time.Date(y, m, dd, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -daysBefore)
	default:
		t, err := time.Parse(time.DateOnly, cobDate)
		if err != nil {
			return Day{}, fmt.Errorf("--cob-date %q: want YYYY-MM-DD or auto", cobDate)
		}
		d = t
	}
	out := Day{CobDate: d.Format(time.DateOnly), BusinessDay: cal.IsBusinessDay(d), Calendar: cal.Name()}
	if !out.BusinessDay {
		out.Reason = cal.Holiday(d)
		if out.Reason == "" {
			out.Reason = "weekend"
		}
	}
	return out, nil
}

// dayFlags are the calendar's flags, shared by calendar and report.
type dayFlags struct {
	at         string
	timeZone   string
	daysBefore int
	cobDate    string
}

func (f *dayFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.at, "at", "", "the run's scheduled time, RFC 3339 (Argo's {{workflow.scheduledTime}})")
	fs.StringVar(&f.timeZone, "time-zone", "UTC", "the schedule's time zone: the scheduled date is taken there")
	fs.IntVar(&f.daysBefore, "days-before", 1, "the cob date is this many days before the scheduled date")
	fs.StringVar(&f.cobDate, "cob-date", "auto", "YYYY-MM-DD to publish that date, or auto")
}

func (f *dayFlags) day(cfgCalendar string) (Day, error) {
	var errs []error
	cal, err := calendar.New(cfgCalendar)
	if err != nil {
		errs = append(errs, fmt.Errorf("config calendar: %w", err))
	}
	loc, err := time.LoadLocation(f.timeZone)
	if err != nil {
		errs = append(errs, fmt.Errorf("--time-zone %q: %w", f.timeZone, err))
	}
	var at time.Time
	if f.at != "" {
		if at, err = time.Parse(time.RFC3339, f.at); err != nil {
			errs = append(errs, fmt.Errorf("--at %q: want an RFC 3339 time", f.at))
		}
	}
	if f.daysBefore < 0 {
		errs = append(errs, fmt.Errorf("--days-before %d: want 0 or more", f.daysBefore))
	}
	if err := errors.Join(errs...); err != nil {
		return Day{}, usageError{err}
	}
	d, err := runDay(cal, at, loc, f.daysBefore, f.cobDate)
	if err != nil {
		return Day{}, usageError{err}
	}
	return d, nil
}

// runCalendar: `distribution calendar` prints the run's Day as JSON and writes its fields as
// files under --out-dir (business-day, cob-date, reason), Argo's output parameters. Not a
// business day is an answer, not an error: exit 0 either way.
func runCalendar(_ context.Context, args []string, stdout, stderr io.Writer) error {
	o := &common{stderr: stderr}
	var f dayFlags
	var outDir string
	fs := flag.NewFlagSet("calendar", flag.ContinueOnError)
	o.bind(fs)
	f.bind(fs)
	fs.StringVar(&outDir, "out-dir", "", "also write business-day, cob-date and reason as files in this folder")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: distribution calendar --at RFC3339 [--time-zone TZ] [--days-before N] [--cob-date auto|YYYY-MM-DD] [--out-dir DIR]

Says which close-of-business date a pipeline run publishes and whether it is a business day of
the configured holiday calendar (config calendar, TARGET2 by default): the date --days-before
days before the run's scheduled date in --time-zone. Prints {"cobDate","businessDay","reason",
"calendar"} as JSON. Exit codes: 0 answered (a holiday too), 2 invalid usage.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := o.complete(); err != nil {
		return err
	}
	d, err := f.day(o.cfg.Calendar)
	if err != nil {
		return err
	}
	if outDir != "" {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return fmt.Errorf("--out-dir: %w", err)
		}
		for name, v := range map[string]string{"business-day": strconv.FormatBool(d.BusinessDay), "cob-date": d.CobDate, "reason": d.Reason} {
			if err := writeFileAtomic(filepath.Join(outDir, name), func(w io.Writer) error {
				_, err := io.WriteString(w, v)
				return err
			}); err != nil {
				return fmt.Errorf("--out-dir: %w", err)
			}
		}
	}
	if d.BusinessDay {
		o.log.Info("business day", "cob_date", d.CobDate, "calendar", d.Calendar)
	} else {
		o.log.Info("not a business day: the run publishes nothing", "cob_date", d.CobDate, "reason", d.Reason, "calendar", d.Calendar)
	}
	return json.NewEncoder(stdout).Encode(d)
}

// sleep waits for d or until ctx ends; tests replace it.
var sleep = func(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// runWaitInput: `distribution wait-input` waits until every --dataset's input for --cob-date has
// its _SUCCESS marker, polling every --poll, for at most --timeout (then exit 4).
func runWaitInput(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &common{stderr: stderr}
	var datasets []string
	var cobStr string
	var timeout, poll time.Duration
	fs := flag.NewFlagSet("wait-input", flag.ContinueOnError)
	o.bind(fs)
	fs.Func("dataset", "dataset whose input to wait for (repeatable, or \"all\")", func(s string) error {
		datasets = append(datasets, s)
		return nil
	})
	fs.StringVar(&cobStr, "cob-date", "", "close-of-business date, YYYY-MM-DD (required)")
	fs.DurationVar(&timeout, "timeout", 2*time.Hour, "how long to wait before giving up with exit 4")
	fs.DurationVar(&poll, "poll", time.Minute, "how often to look")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: distribution wait-input --dataset NAME --cob-date YYYY-MM-DD [--timeout 2h] [--poll 1m]

Waits until the input of each dataset for the date is complete (Spark's _SUCCESS marker in
<input>/<dataset>/cob_date=<date>/). Exit codes: 0 ready, 1 error, 2 invalid usage, 4 still not
ready after --timeout.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := o.complete(); err != nil {
		return err
	}
	if len(datasets) == 1 && datasets[0] == "all" {
		datasets = contract.Names()
	}
	var errs []error
	_, cerrs := loadContracts(datasets)
	errs = append(errs, cerrs...)
	cob, err := time.Parse(time.DateOnly, cobStr)
	if err != nil {
		errs = append(errs, fmt.Errorf("--cob-date %q: want YYYY-MM-DD", cobStr))
	}
	if timeout <= 0 || poll <= 0 {
		errs = append(errs, errors.New("--timeout and --poll must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	in := source.Options{URI: o.cfg.Input.URI, S3: o.cfg.Input.S3}
	deadline := now().Add(timeout)
	pending := datasets
	for {
		var still []string
		for _, ds := range pending {
			ok, err := source.Ready(ctx, in, ds, cob)
			if err != nil {
				// The store not answering is worth a retry of the step: exit 1.
				return fmt.Errorf("input of %s for %s: %w", ds, cobStr, err)
			}
			if ok {
				o.log.Info("input ready", "dataset", ds, "cob_date", cobStr)
			} else {
				still = append(still, ds)
			}
		}
		pending = still
		if len(pending) == 0 {
			fmt.Fprintf(stdout, "input ready: %s for %s\n", strings.Join(datasets, ", "), cobStr)
			return nil
		}
		left := deadline.Sub(now())
		if left <= 0 {
			return &publish.InputNotReadyError{Err: fmt.Errorf("%w for %s after %s: %s", source.ErrIncomplete, cobStr, timeout, strings.Join(pending, ", "))}
		}
		o.log.Info("waiting for input", "datasets", strings.Join(pending, ","), "cob_date", cobStr, "left", left.Round(time.Second).String())
		if err := sleep(ctx, min(poll, left)); err != nil {
			return err
		}
	}
}

// runVerify: `distribution verify` checks, after a run's publications, that each --dataset's
// --cob-date is published in Iceberg and, with a database, that the database serves the same
// publication (snapshot, rows) and recorded it as published. Exit 5 names every difference.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &common{stderr: stderr}
	var datasets []string
	var cobStr string
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	o.bind(fs)
	fs.Func("dataset", "dataset to verify (repeatable, or \"all\")", func(s string) error {
		datasets = append(datasets, s)
		return nil
	})
	fs.StringVar(&cobStr, "cob-date", "", "close-of-business date, YYYY-MM-DD (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: distribution verify --dataset NAME --cob-date YYYY-MM-DD

Checks that the date is published in Iceberg and that the database serves the same publication
(snapshot id, row count, state "published"). Exit codes: 0 verified, 1 error, 2 invalid usage,
5 not published or the stores differ.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := o.complete(); err != nil {
		return err
	}
	if len(datasets) == 1 && datasets[0] == "all" {
		datasets = contract.Names()
	}
	contracts, errs := loadContracts(datasets)
	cob, err := time.Parse(time.DateOnly, cobStr)
	if err != nil {
		errs = append(errs, fmt.Errorf("--cob-date %q: want YYYY-MM-DD", cobStr))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	if err := o.waitForServices(ctx, true, false); err != nil {
		return err
	}
	l, err := lake.Open(ctx, o.cfg.Iceberg)
	if err != nil {
		return fmt.Errorf("open iceberg catalog: %w", err)
	}
	defer l.Close()
	var loader relational.Loader
	if o.cfg.Database.Driver != "none" {
		if loader, err = openLoader(ctx, o.cfg.Database); err != nil {
			return err
		}
		defer loader.Close()
	}
	var problems []string
	for _, c := range contracts {
		p, err := verifyDataset(ctx, l, loader, c, cob)
		if err != nil {
			return err
		}
		if p != "" {
			problems = append(problems, c.Name+": "+p)
			continue
		}
		fmt.Fprintf(stdout, "%s %s: verified\n", c.Name, cobStr)
	}
	if len(problems) > 0 {
		return &publish.VerificationError{Err: errors.New(strings.Join(problems, "; "))}
	}
	return nil
}

// verifyDataset returns what is wrong with the publication of c for cob ("" when nothing).
func verifyDataset(ctx context.Context, l *lake.Lake, loader relational.Loader, c *contract.Contract, cob time.Time) (string, error) {
	tbl, err := l.Catalog().LoadTable(l.Context(ctx), l.Ident(c))
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return "no iceberg table", nil
	}
	if err != nil {
		return "", fmt.Errorf("load %s: %w", c.Name, err)
	}
	ice := lake.LastPublished(tbl, cob)
	if ice == nil {
		return "not published in iceberg", nil
	}
	if loader == nil {
		return "", nil
	}
	stats, err := l.Partitions(ctx, tbl, c, nil)
	if err != nil {
		return "", err
	}
	var iceRows int64
	for _, s := range stats {
		if s.CobDate.Equal(cob) {
			iceRows = s.Rows
		}
	}
	n, err := loader.Count(ctx, c, cob)
	if err != nil {
		return "", fmt.Errorf("count %s: %w", c.Name, err)
	}
	pub, err := loader.Publication(ctx, c.Name, cob)
	if err != nil {
		return "", fmt.Errorf("publication of %s: %w", c.Name, err)
	}
	var rec *relational.PublicationState
	if store, ok := loader.(relational.StateStore); ok {
		if rec, err = store.State(ctx, c.Name, cob); err != nil {
			return "", err
		}
	}
	return divergence(ice, pub, rec, iceRows, n), nil
}
