// Package generate writes synthetic, Spark-like Parquet input for the published datasets: one
// folder per close-of-business date (<dataset>/cob_date=YYYY-MM-DD/part-NNNNN-<job>-c000.snappy.parquet
// and a _SUCCESS marker), deterministic for a seed and a date, of any size. The demo, the tests and
// the benchmarks use it.
package generate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// DateLayout is the layout of a cob_date in paths and flags.
const DateLayout = "2006-01-02"

// SuccessMarker is the file Spark writes when an output folder is complete.
const SuccessMarker = "_SUCCESS"

// Fault names a defect to inject into generated data, so that tests and demos can show the
// contract checks at work.
type Fault string

// The faults the generator can inject. Each touches a few rows.
const (
	FaultNullKey      Fault = "null-key"      // a null in a key column
	FaultOutOfRange   Fault = "out-of-range"  // a value outside its column's [min, max]
	FaultNotAllowed   Fault = "not-allowed"   // a value outside its column's allowed list
	FaultDuplicateKey Fault = "duplicate-key" // two rows with the same key
	FaultBadPattern   Fault = "bad-pattern"   // a string that does not match its column's pattern
)

// Faults lists every fault the generator knows.
var Faults = []Fault{FaultNullKey, FaultOutOfRange, FaultNotAllowed, FaultDuplicateKey, FaultBadPattern}

// Options say what to generate.
type Options struct {
	Contract *contract.Contract
	CobDate  time.Time
	Rows     int
	Files    int
	Seed     uint64
	// BatchRows is the size of the record batches (default 65536).
	BatchRows int
	// IncludePartitionColumn writes cob_date inside the files too. Spark's partitionBy leaves it
	// out (the folder name carries it), which is the default here.
	IncludePartitionColumn bool
	// Faults are injected into the data.
	Faults []Fault
	// Compression of the Parquet files (default snappy, as Spark).
	Compression compress.Compression
	// ComputedAt is stamped on every row (default: the cob date at 22:00 UTC).
	ComputedAt time.Time
}

func (o *Options) defaults() error {
	if o.Contract == nil {
		return errors.New("no contract")
	}
	if o.Rows < 0 {
		return fmt.Errorf("rows %d < 0", o.Rows)
	}
	if o.Files <= 0 {
		o.Files = 1
	}
	if o.BatchRows <= 0 {
		o.BatchRows = 64 * 1024
	}
	if o.Compression == 0 {
		o.Compression = compress.Codecs.Snappy
	}
	if o.CobDate.IsZero() {
		return errors.New("no cob date")
	}
	if o.ComputedAt.IsZero() {
		o.ComputedAt = o.CobDate.UTC().Truncate(24 * time.Hour).Add(22 * time.Hour)
	}
	for _, f := range o.Faults {
		if !faultKnown(f) {
			return fmt.Errorf("unknown fault %q", f)
		}
	}
	return nil
}

func faultKnown(f Fault) bool {
	for _, k := range Faults {
		if k == f {
			return true
		}
	}
	return false
}

// DateDir is the folder of one date's input for a dataset under root.
func DateDir(root, dataset string, cob time.Time) string {
	return filepath.Join(root, dataset, "cob_date="+cob.Format(DateLayout))
}

// Result lists what was written.
type Result struct {
	Dir   string
	Files []string
	Rows  int64
	Bytes int64
}

// WriteDate writes one date of a dataset under root, replacing what was there.
func WriteDate(ctx context.Context, root string, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	dir := DateDir(root, o.Contract.Name, o.CobDate)
	if err := os.RemoveAll(dir); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, err
	}
	res := Result{Dir: dir}
	job := jobID(o)
	gen := NewRows(o)
	sc := gen.Schema()
	props := parquet.NewWriterProperties(
		parquet.WithCompression(o.Compression),
		parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(1<<20),
		parquet.WithCreatedBy("lakeport-generate (spark-like)"),
	)
	perFile := (o.Rows + o.Files - 1) / max(o.Files, 1)
	row := 0
	for f := 0; f < o.Files; f++ {
		n := min(perFile, o.Rows-row)
		if n < 0 {
			n = 0
		}
		name := filepath.Join(dir, fmt.Sprintf("part-%05d-%s-c000.snappy.parquet", f, job))
		size, err := writeFile(ctx, name, sc, props, gen, row, n, o.BatchRows)
		if err != nil {
			return res, err
		}
		res.Files = append(res.Files, name)
		res.Rows += int64(n)
		res.Bytes += size
		row += n
	}
	if err := os.WriteFile(filepath.Join(dir, SuccessMarker), nil, 0o644); err != nil {
		return res, err
	}
	return res, nil
}

func writeFile(ctx context.Context, name string, sc *arrow.Schema, props *parquet.WriterProperties, gen *Rows, from, n, batch int) (int64, error) {
	f, err := os.Create(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w, err := pqarrow.NewFileWriter(sc, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return 0, fmt.Errorf("parquet writer %s: %w", name, err)
	}
	for off := 0; off < n; off += batch {
		if err := ctx.Err(); err != nil {
			_ = w.Close()
			return 0, err
		}
		rec := gen.Batch(from+off, min(batch, n-off))
		err := w.WriteBuffered(rec)
		rec.Release()
		if err != nil {
			_ = w.Close()
			return 0, fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("close %s: %w", name, err)
	}
	st, err := os.Stat(name)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func jobID(o Options) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%d", o.Contract.Name, o.CobDate.Format(DateLayout), o.Seed)
	s := fmt.Sprintf("%016x", h.Sum64())
	return s[:8] + "-" + s[8:12] + "-" + s[12:16]
}

// Rows builds the record batches of one date. It is deterministic: row i is a function of the
// seed, the date and i only, so any slice of rows can be built independently.
type Rows struct {
	o      Options
	sc     *arrow.Schema
	cols   []contract.Column
	mem    memory.Allocator
	epoch  int32
	faults map[Fault]bool
}

// NewRows prepares a row builder; Options must have passed WriteDate's defaults (or be complete).
func NewRows(o Options) *Rows {
	_ = o.defaults()
	r := &Rows{o: o, mem: memory.DefaultAllocator, faults: map[Fault]bool{}}
	for _, f := range o.Faults {
		r.faults[f] = true
	}
	for _, col := range o.Contract.Columns {
		if col.Name == o.Contract.PartitionBy && !o.IncludePartitionColumn {
			continue
		}
		r.cols = append(r.cols, col)
	}
	fields := make([]arrow.Field, len(r.cols))
	for i, col := range r.cols {
		fields[i] = arrow.Field{Name: col.Name, Type: contract.ArrowType(col.Type), Nullable: col.Nullable || r.faults[FaultNullKey]}
	}
	r.sc = arrow.NewSchema(fields, nil)
	r.epoch = int32(o.CobDate.UTC().Unix() / 86400)
	return r
}

// Schema is the schema of the generated batches.
func (r *Rows) Schema() *arrow.Schema { return r.sc }

// faultRows are the rows a fault touches, when the batch contains them.
func faultRow(i int) bool { return i == 7 || i == 1007 || i == 50007 }

// Batch builds rows [from, from+n).
func (r *Rows) Batch(from, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(r.mem, r.sc)
	defer b.Release()
	for _, fb := range b.Fields() {
		fb.Reserve(n)
	}
	for i := from; i < from+n; i++ {
		rng := rand.New(rand.NewPCG(r.o.Seed^uint64(i)*0x9e3779b97f4a7c15, uint64(r.epoch)))
		v := r.row(i, rng)
		for c, col := range r.cols {
			appendValue(b.Field(c), col.Type, v[col.Name])
		}
	}
	return b.NewRecordBatch()
}

// static universe: stable across dates so that keys repeat day after day, as real books do.
var (
	entities   = []string{"LPB-UK", "LPB-DE", "LPB-US", "LPB-SG"}
	deskPrefix = []string{"RATES", "CREDIT", "FX", "EQD", "COMM", "XVA", "TSY"}
	deskSuffix = []string{"EUR", "USD", "GBP", "EM", "FLOW", "EXOTIC", "G10", "ASIA"}
	ccyOf      = map[string]string{"LPB-UK": "GBP", "LPB-DE": "EUR", "LPB-US": "USD", "LPB-SG": "SGD"}
	issuers    = []string{"Acme Holdings", "Borealis Energy", "Cobalt Mining", "Delta Telecom", "Eiger Bank", "Fjord Shipping", "Granite REIT", "Helios Utilities"}
	tenors     = []string{"3M", "6M", "1Y", "2Y", "3Y", "5Y", "10Y", "15Y", "20Y", "30Y"}
)

func desk(i int) string {
	return deskPrefix[i%len(deskPrefix)] + "-" + deskSuffix[(i/len(deskPrefix))%len(deskSuffix)]
}

func (r *Rows) row(i int, rng *rand.Rand) map[string]any {
	cob := r.o.CobDate.UTC()
	v := map[string]any{
		"cob_date":     r.epoch,
		"legal_entity": entities[i%len(entities)],
		"desk":         desk(i / len(entities)),
		"computed_at":  r.o.ComputedAt.UTC().UnixMicro() + int64(i%3600)*1_000_000,
	}
	v["currency"] = ccyOf[v["legal_entity"].(string)]
	switch r.o.Contract.Name {
	case "var_es":
		measures := []string{"VAR", "SVAR", "ES", "SES"}
		v["measure"] = measures[i%4]
		v["confidence_level"] = []float64{0.99, 0.99, 0.975, 0.975}[i%4]
		v["horizon_days"] = int32([]int{1, 10}[(i/4)%2])
		v["portfolio"] = fmt.Sprintf("PF-%07d", i/8)
		v["legal_entity"] = entities[(i/8)%len(entities)]
		v["currency"] = ccyOf[v["legal_entity"].(string)]
		v["desk"] = desk(i / 32)
		base := math.Exp(11+rng.NormFloat64()*1.2) * (1 + float64((i/4)%2)*2.16)
		if v["measure"] == "SVAR" || v["measure"] == "SES" {
			base *= 1.8
		}
		v["value"] = math.Round(base*100) / 100
		v["scenario_count"] = int32(500)
		v["calc_run_id"] = "spark-" + cob.Format("20060102") + "-var"
	case "frtb_sensitivities":
		classes := []string{"GIRR", "CSR_NS", "CSR_SEC_NCTP", "CSR_SEC_CTP", "EQ", "COMM", "FX"}
		types := []string{"DELTA", "VEGA", "CURVATURE_UP", "CURVATURE_DOWN"}
		rc := classes[i%len(classes)]
		st := types[(i/len(classes))%len(types)]
		v["risk_class"] = rc
		v["sensitivity_type"] = st
		v["bucket"] = fmt.Sprintf("%d", 1+(i/28)%13)
		v["risk_factor"] = fmt.Sprintf("%s-RF%06d", rc, i/28)
		v["tenor"] = "NA"
		if rc == "GIRR" || rc == "CSR_NS" || st == "VEGA" {
			v["tenor"] = tenors[(i/28)%len(tenors)]
		}
		v["currency"] = []string{"EUR", "USD", "GBP", "JPY", "CHF", "SGD"}[(i/28)%6]
		v["sensitivity"] = math.Round(rng.NormFloat64()*1e5*100) / 100
		if st == "DELTA" {
			v["risk_weight"] = math.Round(rng.Float64()*0.5*1e4) / 1e4
		} else {
			v["risk_weight"] = nil
		}
		v["trade_count"] = int32(1 + rng.IntN(400))
	case "drc":
		seniorities := []string{"SENIOR", "NON_SENIOR", "EQUITY", "COVERED"}
		quality := []string{"AAA", "AA", "A", "BBB", "BB", "B", "CCC", "UNRATED"}
		rw := []float64{0.005, 0.02, 0.03, 0.06, 0.15, 0.30, 0.50, 0.15}
		lgd := map[string]float64{"SENIOR": 0.75, "NON_SENIOR": 1, "EQUITY": 1, "COVERED": 0.25}
		sen := seniorities[i%4]
		q := (i / 4) % len(quality)
		v["issuer_id"] = fmt.Sprintf("LEI%08d", i/4)
		v["issuer_name"] = fmt.Sprintf("%s %d", issuers[(i/4)%len(issuers)], i/32)
		if i%97 == 0 {
			v["issuer_name"] = nil
		}
		v["seniority"] = sen
		v["credit_quality"] = quality[q]
		long := math.Round(math.Exp(13+rng.NormFloat64())*100) / 100
		short := -math.Round(math.Exp(12+rng.NormFloat64())*100) / 100
		v["jtd_long"] = long
		v["jtd_short"] = short
		v["lgd"] = lgd[sen]
		v["risk_weight"] = rw[q]
		v["maturity_years"] = math.Round(rng.Float64()*30*100) / 100
		v["drc_charge"] = math.Round(math.Max(0, long+short)*rw[q]*100) / 100
	}
	r.inject(i, v)
	return v
}

func (r *Rows) inject(i int, v map[string]any) {
	if !faultRow(i) {
		return
	}
	c := r.o.Contract
	for _, f := range r.o.Faults {
		switch f {
		case FaultNullKey:
			for _, k := range c.Key {
				if k != c.PartitionBy {
					v[k] = nil
					break
				}
			}
		case FaultOutOfRange:
			for _, col := range c.Columns {
				if col.Type == contract.Float64 && col.Max != nil {
					v[col.Name] = *col.Max * 10
					break
				}
			}
		case FaultNotAllowed:
			v["currency"] = "XXX"
		case FaultBadPattern:
			v["desk"] = strings.ToLower(v["desk"].(string))
		case FaultDuplicateKey:
			// row i repeats the key of row i-1.
			prev := r.row(i-1, rand.New(rand.NewPCG(0, 0)))
			for _, k := range c.Key {
				v[k] = prev[k]
			}
		}
	}
}

func appendValue(b array.Builder, t contract.Type, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch t {
	case contract.String:
		b.(*array.StringBuilder).Append(v.(string))
	case contract.Int32:
		b.(*array.Int32Builder).Append(v.(int32))
	case contract.Int64:
		b.(*array.Int64Builder).Append(v.(int64))
	case contract.Float64:
		b.(*array.Float64Builder).Append(v.(float64))
	case contract.Bool:
		b.(*array.BooleanBuilder).Append(v.(bool))
	case contract.Date:
		b.(*array.Date32Builder).Append(arrow.Date32(v.(int32)))
	case contract.Timestamp:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.(int64)))
	}
}
