// Package validate checks a dataset's input against its contract in one streaming pass and
// returns a report: for each broken rule, how many rows broke it and a few examples. It computes
// the content checksum of the rows on the same pass.
package validate

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/rowhash"
	"github.com/lakeport/lakeport/jobs/internal/source"
)

// Rule names, as they appear in reports.
const (
	RuleSchema    = "schema"
	RuleNotNull   = "not_null"
	RuleRange     = "range"
	RuleFinite    = "finite"
	RuleAllowed   = "allowed_values"
	RulePattern   = "pattern"
	RulePartition = "partition"
	RuleUniqueKey = "unique_key"
	RuleRowCount  = "row_count"
)

// MaxExamples is the number of examples kept per violation.
const MaxExamples = 5

// Example locates one offending row.
type Example struct {
	File  string `json:"file,omitempty"`
	Row   int64  `json:"row"`
	Value string `json:"value"`
}

// Violation is one broken rule.
type Violation struct {
	Rule     string    `json:"rule"`
	Column   string    `json:"column,omitempty"`
	Detail   string    `json:"detail"`
	Count    int64     `json:"count"`
	Examples []Example `json:"examples,omitempty"`
}

// Report is the outcome of a validation.
type Report struct {
	Dataset         string      `json:"dataset"`
	ContractVersion int         `json:"contractVersion"`
	CobDate         string      `json:"cobDate"`
	Rows            int64       `json:"rows"`
	PreviousRows    *int64      `json:"previousRows,omitempty"`
	Checksum        string      `json:"checksum"`
	Violations      []Violation `json:"violations"`
	Duration        string      `json:"duration"`
	// Digest is the content checksum (Checksum) as a value, for merging the shards' digests.
	Digest rowhash.Digest `json:"-"`
	// KeysTracked is the number of keys held in memory for the uniqueness check (all of them,
	// or the shard's share when Options.Shard is set).
	KeysTracked int64 `json:"-"`
}

// Passed reports whether no rule was broken.
func (r *Report) Passed() bool { return len(r.Violations) == 0 }

// ViolatedRows is the sum of the violation counts.
func (r *Report) ViolatedRows() int64 {
	var n int64
	for _, v := range r.Violations {
		n += v.Count
	}
	return n
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person: one line per violation, then its examples.
func (r *Report) WriteText(w io.Writer) error {
	status := "PASSED"
	if !r.Passed() {
		status = "FAILED"
	}
	fmt.Fprintf(w, "contract %s v%d, cob_date %s: %s (%d rows, %d violations)\n", r.Dataset, r.ContractVersion, r.CobDate, status, r.Rows, len(r.Violations))
	if r.Passed() {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tCOLUMN\tCOUNT\tDETAIL\tEXAMPLES")
	for _, v := range r.Violations {
		var ex []string
		for _, e := range v.Examples {
			loc := fmt.Sprintf("row %d", e.Row)
			if e.File != "" {
				loc = fmt.Sprintf("%s row %d", e.File, e.Row)
			}
			ex = append(ex, fmt.Sprintf("%s=%s", loc, e.Value))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", v.Rule, v.Column, v.Count, v.Detail, strings.Join(ex, "; "))
	}
	return tw.Flush()
}

// Options tune a validation.
type Options struct {
	// PreviousRows is the row count of the previous published date, when there is one.
	PreviousRows *int64
	BatchRows    int64
	// Shard, when Count > 1, makes the validation shard Index of Count of a sharded publish.
	Shard Shard
}

// Shard is one worker's share of a sharded validation. Every shard reads every file, and:
//   - checks key uniqueness only for the keys that KeyShard assigns to it, on every file, so
//     that a key repeated in two files owned by different shards is still caught, by exactly
//     one shard, while each shard holds about 1/Count of the keys in memory; of the files it
//     does not own it reads the key columns only (source.Reader.KeysOnly), so that its memory
//     and reads follow its own share, not the whole day;
//   - checks every other rule, counts rows and computes the content checksum only on the rows of
//     the files it Owns (the shards' digests merge into the unsharded one);
//   - leaves the row-count rule (min, max, change) to whoever merges the shards.
type Shard struct {
	Index, Count int
	// Owns says whether a file (its name relative to the date folder) is this shard's.
	Owns func(file string) bool
}

func (s Shard) active() bool { return s.Count > 1 }

// KeyShard is the shard (0..count-1) of each row's key in rec: a hash of the key columns that
// every process computes alike (rowhash; not maphash, whose seeds differ per process).
func KeyShard(c *contract.Contract, rec arrow.RecordBatch, count int) ([]int, error) {
	return keyShard(rec, c.KeyIndexes(), count)
}

// keyShard is KeyShard with the key columns' positions in rec.
func keyShard(rec arrow.RecordBatch, keyIdx []int, count int) ([]int, error) {
	h := make([]uint64, rec.NumRows())
	for i := range h {
		h[i] = rowhash.Start()
	}
	for _, ki := range keyIdx {
		if err := rowhash.ArrowColumn(rec.Column(ki), h); err != nil {
			return nil, err
		}
	}
	out := make([]int, len(h))
	for i, x := range h {
		out[i] = int(rowhash.Finish(x) % uint64(count))
	}
	return out, nil
}

type key struct{ a, b uint64 }

type validator struct {
	c       *contract.Contract
	cob     int32
	viol    map[string]*Violation
	order   []string
	seeds   [2]maphash.Seed
	keys    map[key]int64 // key hash -> global row number of first sighting
	digest  rowhash.Digest
	pattern []map[string]bool // per column: cache of pattern results
	global  int64             // rows checked (this shard's files)
	read    int64             // rows read (every file): the row numbers of examples
	shard   Shard
	keyIdx  []int // the key columns' positions in a full batch
	keyOnly []int // and in a key-only batch: 0..len(key)-1
}

// Validate streams the input once and checks every contract rule.
func Validate(ctx context.Context, c *contract.Contract, in *source.Input, o Options) (*Report, error) {
	start := time.Now()
	rep := &Report{Dataset: c.Name, ContractVersion: c.Version, CobDate: in.CobDate.Format(source.DateLayout), PreviousRows: o.PreviousRows}
	v := &validator{
		c: c, cob: int32(arrow.Date32FromTime(in.CobDate)), viol: map[string]*Violation{},
		seeds:   [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		pattern: make([]map[string]bool, len(c.Columns)),
		shard:   o.Shard, keyIdx: c.KeyIndexes(), keyOnly: make([]int, len(c.Key)),
	}
	for i := range v.keyOnly {
		v.keyOnly[i] = i
	}
	if o.Shard.active() {
		if o.Shard.Index < 0 || o.Shard.Index >= o.Shard.Count || o.Shard.Owns == nil {
			return nil, fmt.Errorf("shard %d of %d: want 0 <= index < count and the files it owns", o.Shard.Index, o.Shard.Count)
		}
	}
	// Sized for the keys this validation holds: a shard's share, not the day's (the map is the
	// largest thing a validation keeps: ~30 bytes a key).
	expect := in.Rows()
	if o.Shard.active() {
		expect = expect/int64(o.Shard.Count) + 1
	}
	v.keys = make(map[key]int64, expect)
	problems, err := in.CheckSchema(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		v.add(RuleSchema, p.Column, "file schema differs from the contract", Example{File: p.File, Row: -1, Value: p.Problem})
	}
	if len(problems) == 0 {
		rdr := in.Records(ctx, c, o.BatchRows)
		defer rdr.Release()
		if o.Shard.active() {
			rdr.KeysOnly(func(file string) bool { return !o.Shard.Owns(file) })
		}
		for rdr.Next() {
			file, off := rdr.Position()
			if err := v.batch(rdr.RecordBatch(), rdr.KeysOnlyBatch(), file, off); err != nil {
				return nil, err
			}
		}
		if err := rdr.Err(); err != nil {
			return nil, err
		}
	}
	rep.Rows = v.global
	if !o.Shard.active() {
		v.rowCount(o.PreviousRows)
	}
	rep.Checksum, rep.Digest, rep.KeysTracked = v.digest.String(), v.digest, int64(len(v.keys))
	for _, id := range v.order {
		rep.Violations = append(rep.Violations, *v.viol[id])
	}
	sort.SliceStable(rep.Violations, func(i, j int) bool { return rep.Violations[i].Rule < rep.Violations[j].Rule })
	rep.Duration = time.Since(start).Round(time.Millisecond).String()
	return rep, nil
}

func (v *validator) add(rule, column, detail string, ex Example) {
	id := rule + "\x00" + column
	x, ok := v.viol[id]
	if !ok {
		x = &Violation{Rule: rule, Column: column, Detail: detail}
		v.viol[id] = x
		v.order = append(v.order, id)
	}
	x.Count++
	if len(x.Examples) < MaxExamples {
		x.Examples = append(x.Examples, ex)
	}
}

// CheckRowCount applies the contract's row-count rule (min, max, change against the previous
// date) to a total: a sharded publication's, whose shards leave the rule to the merge.
func CheckRowCount(c *contract.Contract, rows int64, prev *int64) []Violation {
	v := &validator{c: c, viol: map[string]*Violation{}, global: rows}
	v.rowCount(prev)
	out := make([]Violation, 0, len(v.order))
	for _, id := range v.order {
		out = append(out, *v.viol[id])
	}
	return out
}

func (v *validator) rowCount(prev *int64) {
	rc := v.c.RowCount
	n := v.global
	if n < rc.Min {
		v.add(RuleRowCount, "", fmt.Sprintf("at least %d rows expected", rc.Min), Example{Row: -1, Value: fmt.Sprint(n)})
	}
	if rc.Max > 0 && n > rc.Max {
		v.add(RuleRowCount, "", fmt.Sprintf("at most %d rows expected", rc.Max), Example{Row: -1, Value: fmt.Sprint(n)})
	}
	if prev != nil && *prev > 0 && rc.MaxChangePercent > 0 {
		change := math.Abs(float64(n-*prev)) / float64(*prev) * 100
		if change > rc.MaxChangePercent {
			v.add(RuleRowCount, "", fmt.Sprintf("changed %.1f%% against the previous date (%d rows), limit %.0f%%", change, *prev, rc.MaxChangePercent),
				Example{Row: -1, Value: fmt.Sprint(n)})
		}
	}
}

// batch checks one record batch; keysOnly says it holds the key columns only (a file of another
// shard, read for its keys).
func (v *validator) batch(rec arrow.RecordBatch, keysOnly bool, file string, off int64) error {
	n := int(rec.NumRows())
	ex := func(i int, val string) Example { return Example{File: file, Row: off + int64(i), Value: val} }
	own := !v.shard.active() || v.shard.Owns(file)
	keyIdx := v.keyIdx
	if keysOnly {
		if own {
			return fmt.Errorf("%s: a key-only batch of a file this shard owns", file)
		}
		keyIdx = v.keyOnly
	}
	// Per-column rules (a shard: on its own files only).
	for ci := range v.c.Columns {
		if !own {
			break
		}
		col := &v.c.Columns[ci]
		a := rec.Column(ci)
		if !col.Nullable && a.NullN() > 0 {
			for i := 0; i < n; i++ {
				if a.IsNull(i) {
					v.add(RuleNotNull, col.Name, "value is null", ex(i, "null"))
				}
			}
		}
		switch arr := a.(type) {
		case *array.String:
			if !col.HasAllowed() && !col.HasPattern() {
				continue
			}
			cache := v.pattern[ci]
			if cache == nil && col.HasPattern() {
				cache = map[string]bool{}
				v.pattern[ci] = cache
			}
			for i := 0; i < n; i++ {
				if arr.IsNull(i) {
					continue
				}
				s := arr.Value(i)
				if col.HasAllowed() && !col.AllowsString(s) {
					v.add(RuleAllowed, col.Name, "value not in the allowed list", ex(i, quote(s)))
				}
				if col.HasPattern() {
					ok, seen := cache[s]
					if !seen {
						ok = col.MatchesPattern(s)
						if len(cache) < 100000 {
							cache[strings.Clone(s)] = ok
						}
					}
					if !ok {
						v.add(RulePattern, col.Name, "value does not match "+col.Pattern, ex(i, quote(s)))
					}
				}
			}
		case *array.Float64:
			for i := 0; i < n; i++ {
				if arr.IsNull(i) {
					continue
				}
				x := arr.Value(i)
				if math.IsNaN(x) || math.IsInf(x, 0) {
					v.add(RuleFinite, col.Name, "value is NaN or infinite", ex(i, fmt.Sprint(x)))
					continue
				}
				v.numeric(col, x, func() Example { return ex(i, fmt.Sprint(x)) })
			}
		case *array.Int32:
			for i := 0; i < n; i++ {
				if !arr.IsNull(i) {
					x := arr.Value(i)
					v.numeric(col, float64(x), func() Example { return ex(i, fmt.Sprint(x)) })
				}
			}
		case *array.Int64:
			for i := 0; i < n; i++ {
				if !arr.IsNull(i) {
					x := arr.Value(i)
					v.numeric(col, float64(x), func() Example { return ex(i, fmt.Sprint(x)) })
				}
			}
		case *array.Date32:
			if col.Name != v.c.PartitionBy {
				continue
			}
			for i := 0; i < n; i++ {
				if !arr.IsNull(i) && int32(arr.Value(i)) != v.cob {
					v.add(RulePartition, col.Name, "row belongs to another date than the folder's", ex(i, arr.Value(i).FormattedString()))
				}
			}
		}
	}
	// Key uniqueness, column-major: two independent 64-bit hashes per key, computed only for
	// the rows whose key is this shard's.
	var shards []int
	if v.shard.active() {
		var err error
		if shards, err = keyShard(rec, keyIdx, v.shard.Count); err != nil {
			return err
		}
	}
	ka, kb := make([]uint64, n), make([]uint64, n)
	var h maphash.Hash
	for _, ki := range keyIdx {
		a := rec.Column(ki)
		for s, dst := range [][]uint64{ka, kb} {
			h.SetSeed(v.seeds[s])
			for i := 0; i < n; i++ {
				if shards != nil && shards[i] != v.shard.Index {
					continue
				}
				h.Reset()
				writeValue(&h, a, i)
				dst[i] = rowhash.Combine(dst[i], h.Sum64())
			}
		}
	}
	for i := 0; i < n; i++ {
		if shards != nil && shards[i] != v.shard.Index {
			continue // another shard's key: checked there
		}
		k := key{ka[i], kb[i]}
		if first, dup := v.keys[k]; dup {
			v.add(RuleUniqueKey, strings.Join(v.c.Key, ","), "key repeats an earlier row", ex(i, fmt.Sprintf("%s (first at input row %d)", keyString(rec, keyIdx, i), first)))
			continue
		}
		v.keys[k] = v.read + int64(i)
	}
	v.read += int64(n)
	if !own {
		return nil
	}
	v.global += int64(n)
	return rowhash.ArrowRecord(rec, &v.digest)
}

func (v *validator) numeric(col *contract.Column, x float64, ex func() Example) {
	if !col.InRange(x) {
		v.add(RuleRange, col.Name, rangeText(col), ex())
	}
	if col.HasAllowed() && !col.AllowsNumber(x) {
		v.add(RuleAllowed, col.Name, "value not in the allowed list", ex())
	}
}

func rangeText(col *contract.Column) string {
	lo, hi := "-inf", "+inf"
	if col.Min != nil {
		lo = fmt.Sprint(*col.Min)
	}
	if col.Max != nil {
		hi = fmt.Sprint(*col.Max)
	}
	return fmt.Sprintf("value outside [%s, %s]", lo, hi)
}

func quote(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func writeValue(h *maphash.Hash, a arrow.Array, i int) {
	if a.IsNull(i) {
		_ = h.WriteByte(0)
		return
	}
	_ = h.WriteByte(1)
	var b [8]byte
	switch arr := a.(type) {
	case *array.String:
		_, _ = h.WriteString(arr.Value(i))
		_ = h.WriteByte(0xff)
	case *array.Int32:
		binary.LittleEndian.PutUint64(b[:], uint64(arr.Value(i)))
		_, _ = h.Write(b[:])
	case *array.Int64:
		binary.LittleEndian.PutUint64(b[:], uint64(arr.Value(i)))
		_, _ = h.Write(b[:])
	case *array.Date32:
		binary.LittleEndian.PutUint64(b[:], uint64(arr.Value(i)))
		_, _ = h.Write(b[:])
	case *array.Float64:
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(arr.Value(i)))
		_, _ = h.Write(b[:])
	default:
		_, _ = h.WriteString(a.ValueStr(i))
		_ = h.WriteByte(0xff)
	}
}

func keyString(rec arrow.RecordBatch, idx []int, i int) string {
	parts := make([]string, len(idx))
	for j, c := range idx {
		parts[j] = rec.Column(c).ValueStr(i)
	}
	return strings.Join(parts, "|")
}
