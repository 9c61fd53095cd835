package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeport/lakeport/jobs/contracts"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/relational"
)

type inspectOptions struct {
	common
	output string
	stdout io.Writer
}

// DatasetView is what a consumer sees of one dataset and date, in each store.
type DatasetView struct {
	Dataset     string `json:"dataset"`
	CobDate     string `json:"cobDate"`
	IcebergRows int64  `json:"icebergRows"`
	DataFiles   int    `json:"dataFiles"`
	DBRows      *int64 `json:"dbRows,omitempty"`
	// SnapshotID and RunID: the date's last publication in Iceberg's history (what Trino serves).
	SnapshotID int64  `json:"snapshotId"`
	RunID      string `json:"runId,omitempty"`
	Checksum   string `json:"contentChecksum,omitempty"`
	// DBSnapshotID and DBRunID: the publication the database serves (risk.publications).
	DBSnapshotID int64  `json:"dbSnapshotId,omitempty"`
	DBRunID      string `json:"dbRunId,omitempty"`
	// State is the recorded publication state (pending, iceberg-committed, published).
	State string `json:"state,omitempty"`
	// Divergence says how the two stores differ; empty when they serve the same publication.
	Divergence string `json:"divergence,omitempty"`
	// Tags are the date's publication tags (run-<cob_date>-<run id>), oldest first: the snapshots
	// kept for the regulatory retention, from which any reported figure can be read again.
	Tags []string `json:"tags,omitempty"`
}

// Inspection is the output of inspect.
type Inspection struct {
	Datasets []DatasetView `json:"datasets"`
	Sample   *Sample       `json:"sample,omitempty"`
	// IcebergSample is the same question answered from the Iceberg table (iceberg-go scan).
	IcebergSample *Sample `json:"icebergSample,omitempty"`
}

// Sample is the result of a sample consumer query.
type Sample struct {
	Title   string     `json:"title"`
	SQL     string     `json:"sql"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &inspectOptions{common: common{stderr: stderr}, stdout: stdout}
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: distribution inspect [--config FILE | --data-dir DIR] [-o table|json]\n\nShows, per dataset and date, the rows in Iceberg (from the manifests) and in the database, the\nsnapshot and run that published them, and a sample consumer query.\nExit codes: 0 done, 1 error, 2 invalid usage.\n\nFlags:")
		fs.PrintDefaults()
	}
	o.bind(fs)
	fs.StringVar(&o.output, "o", "table", "output format: table or json")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := o.complete(); err != nil {
		return err
	}
	if o.output != "table" && o.output != "json" {
		return usageError{fmt.Errorf("-o %q: want table or json", o.output)}
	}
	return o.run(ctx)
}

func (o *inspectOptions) run(ctx context.Context) error {
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
	var out Inspection
	var latest time.Time
	for _, name := range contract.Names() {
		c, err := contract.Load(name)
		if err != nil {
			return err
		}
		tbl, err := l.Catalog().LoadTable(l.Context(ctx), l.Ident(c))
		if errors.Is(err, catalog.ErrNoSuchTable) {
			out.Datasets = append(out.Datasets, DatasetView{Dataset: name, CobDate: "-"})
			continue
		}
		if err != nil {
			return fmt.Errorf("load %s: %w", name, err)
		}
		stats, err := l.Partitions(ctx, tbl, c, nil)
		if err != nil {
			return err
		}
		store, _ := loader.(relational.StateStore)
		for _, s := range stats {
			v := DatasetView{Dataset: name, CobDate: s.CobDate.Format(time.DateOnly), IcebergRows: s.Rows, DataFiles: s.Files}
			ice := lake.LastPublished(tbl, s.CobDate)
			if ice != nil {
				v.SnapshotID, v.RunID, v.Checksum = ice.SnapshotID, ice.RunID(), ice.ContentChecksum()
			}
			for _, tag := range lake.Tags(tbl, s.CobDate) {
				v.Tags = append(v.Tags, tag.Name)
			}
			if loader != nil {
				n, err := loader.Count(ctx, c, s.CobDate)
				if err != nil {
					return fmt.Errorf("count %s: %w", name, err)
				}
				v.DBRows = &n
				pub, err := loader.Publication(ctx, name, s.CobDate)
				if err != nil {
					return fmt.Errorf("publication of %s %s: %w", name, v.CobDate, err)
				}
				var rec *relational.PublicationState
				if store != nil {
					if rec, err = store.State(ctx, name, s.CobDate); err != nil {
						return err
					}
					if rec != nil {
						v.State = string(rec.State)
					}
				}
				if pub != nil {
					v.DBSnapshotID, v.DBRunID = pub.SnapshotID, pub.RunID
				}
				v.Divergence = divergence(ice, pub, rec, s.Rows, n)
			}
			if s.CobDate.After(latest) {
				latest = s.CobDate
			}
			out.Datasets = append(out.Datasets, v)
		}
	}
	if loader != nil && !latest.IsZero() {
		s, err := o.sample(ctx, latest)
		if err != nil {
			return err
		}
		out.Sample = s
	}
	if !latest.IsZero() {
		s, err := icebergSample(ctx, l, latest)
		if err != nil {
			return err
		}
		out.IcebergSample = s
	}
	if o.output == "json" {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return writeInspection(o.stdout, out)
}

func (o *inspectOptions) sample(ctx context.Context, cob time.Time) (*Sample, error) {
	db, err := openSQL(o.cfg.Database)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ph := "?"
	if o.cfg.Database.Driver == "postgres" {
		ph = "$1"
	} else if o.cfg.Database.Driver == "oracle" {
		ph = ":1"
	}
	date := any(cob.Format(time.DateOnly))
	if o.cfg.Database.Driver != "sqlite" {
		date = cob
	}
	q := fmt.Sprintf(`SELECT desk, COUNT(*) AS portfolios, CAST(ROUND(SUM(value)) AS BIGINT) AS var_99_10d
FROM %s WHERE cob_date = %s AND measure = 'VAR' AND horizon_days = 10
GROUP BY desk ORDER BY var_99_10d DESC, desk FETCH FIRST 5 ROWS ONLY`, tableName(o.cfg.Database.Driver, "var_es"), ph)
	switch o.cfg.Database.Driver {
	case "sqlite":
		q = strings.Replace(q, "FETCH FIRST 5 ROWS ONLY", "LIMIT 5", 1)
	case "oracle":
		q = strings.Replace(q, "CAST(ROUND(SUM(value)) AS BIGINT)", "ROUND(SUM(value))", 1)
	}
	rows, err := db.QueryContext(ctx, q, date)
	if err != nil {
		return nil, fmt.Errorf("sample query: %w", err)
	}
	defer rows.Close()
	s := &Sample{Title: "top 5 desks by 99% 10-day VaR on " + cob.Format(time.DateOnly), SQL: q}
	if s.Columns, err = rows.Columns(); err != nil {
		return nil, err
	}
	for rows.Next() {
		vals := make([]sql.NullString, len(s.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = v.String
		}
		s.Rows = append(s.Rows, row)
	}
	return s, rows.Err()
}

// icebergSample answers the sample question from the Iceberg table with an iceberg-go scan
// (partition-pruned to the date, two columns read), as a Go or Python consumer of the lake would.
func icebergSample(ctx context.Context, l *lake.Lake, cob time.Time) (*Sample, error) {
	c, err := contract.Load("var_es")
	if err != nil {
		return nil, err
	}
	tbl, err := l.Catalog().LoadTable(l.Context(ctx), l.Ident(c))
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	filter := iceberg.NewAnd(iceberg.EqualTo(iceberg.Reference("cob_date"), iceberg.Date(cob.Unix()/86400)),
		iceberg.EqualTo(iceberg.Reference("measure"), "VAR"), iceberg.EqualTo(iceberg.Reference("horizon_days"), int32(10)))
	_, recs, err := tbl.Scan(table.WithRowFilter(filter), table.WithSelectedFields("desk", "value")).ToArrowRecords(l.Context(ctx))
	if err != nil {
		return nil, fmt.Errorf("scan var_es: %w", err)
	}
	type agg struct {
		n   int64
		sum float64
	}
	by := map[string]*agg{}
	for rec, err := range recs {
		if err != nil {
			return nil, fmt.Errorf("scan var_es: %w", err)
		}
		desk := rec.Column(int(rec.Schema().FieldIndices("desk")[0])).(*array.String)
		val := rec.Column(int(rec.Schema().FieldIndices("value")[0])).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			a := by[desk.Value(i)]
			if a == nil {
				a = &agg{}
				by[strings.Clone(desk.Value(i))] = a
			}
			a.n++
			a.sum += val.Value(i)
		}
		rec.Release()
	}
	desks := make([]string, 0, len(by))
	for d := range by {
		desks = append(desks, d)
	}
	sort.Slice(desks, func(i, j int) bool {
		ri, rj := math.Round(by[desks[i]].sum), math.Round(by[desks[j]].sum)
		if ri != rj {
			return ri > rj
		}
		return desks[i] < desks[j]
	})
	s := &Sample{Title: "the same from the Iceberg table (iceberg-go scan, cob_date partition pruned)",
		SQL: "scan risk.var_es where cob_date = date and measure = 'VAR' and horizon_days = 10 select desk, value", Columns: []string{"desk", "portfolios", "var_99_10d"}}
	for _, d := range desks[:min(5, len(desks))] {
		s.Rows = append(s.Rows, []string{d, fmt.Sprint(by[d].n), fmt.Sprintf("%.0f", math.Round(by[d].sum))})
	}
	return s, nil
}

// divergence compares what Iceberg serves for a date (its last publication) with what the
// database serves and records; "" when both serve the same publication.
func divergence(ice *lake.Published, pub *relational.Publication, rec *relational.PublicationState, iceRows, dbRows int64) string {
	var out []string
	switch {
	case ice == nil && pub == nil:
	case ice == nil:
		out = append(out, fmt.Sprintf("database serves snapshot %d, unknown to iceberg's history", pub.SnapshotID))
	case pub == nil:
		out = append(out, fmt.Sprintf("iceberg serves run %s (snapshot %d), the database has no publication", ice.RunID(), ice.SnapshotID))
	case pub.SnapshotID != ice.SnapshotID:
		out = append(out, fmt.Sprintf("iceberg serves run %s (snapshot %d), the database run %s (snapshot %d)", ice.RunID(), ice.SnapshotID, pub.RunID, pub.SnapshotID))
	}
	if iceRows != dbRows {
		out = append(out, fmt.Sprintf("%d rows in iceberg, %d in the database", iceRows, dbRows))
	}
	if rec != nil && rec.State != relational.StatePublished {
		out = append(out, fmt.Sprintf("publication of run %s stopped at %s: run it again to converge", rec.RunID, rec.State))
	}
	return strings.Join(out, "; ")
}

func writeInspection(w io.Writer, in Inspection) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tCOB_DATE\tICEBERG_ROWS\tFILES\tDB_ROWS\tSNAPSHOT\tRUN\tDB_SNAPSHOT\tSTATE\tDIVERGENCE")
	for _, d := range in.Datasets {
		db, dbSnap, state, div := "-", "-", "-", "-"
		if d.DBRows != nil {
			db = fmt.Sprint(*d.DBRows)
		}
		if d.DBSnapshotID != 0 {
			dbSnap = fmt.Sprint(d.DBSnapshotID)
		}
		if d.State != "" {
			state = d.State
		}
		if d.Divergence != "" {
			div = d.Divergence
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n", d.Dataset, d.CobDate, d.IcebergRows, d.DataFiles, db, d.SnapshotID, d.RunID, dbSnap, state, div)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range []*Sample{in.Sample, in.IcebergSample} {
		if s == nil {
			continue
		}
		fmt.Fprintf(w, "\nsample query — %s:\n", s.Title)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.ToUpper(strings.Join(s.Columns, "\t")))
		for _, r := range s.Rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func runContracts(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("contracts", flag.ContinueOnError)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	for i, name := range contract.Names() {
		data, err := contracts.FS.ReadFile(name + ".yaml")
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(stdout, "---")
		}
		fmt.Fprint(stdout, string(data))
	}
	return nil
}
