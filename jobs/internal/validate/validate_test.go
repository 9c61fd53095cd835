package validate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
	"github.com/lakeport/lakeport/jobs/internal/rowhash"
	"github.com/lakeport/lakeport/jobs/internal/source"
)

var cob = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func gen(t *testing.T, dataset string, rows int, o generate.Options) *source.Input {
	t.Helper()
	c, err := contract.Load(dataset)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o.Contract, o.CobDate, o.Rows, o.Seed = c, cob, rows, 7
	if o.Files == 0 {
		o.Files = 2
	}
	if _, err := generate.WriteDate(context.Background(), dir, o); err != nil {
		t.Fatal(err)
	}
	in, err := source.Open(context.Background(), source.Options{URI: dir}, dataset, cob)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close() })
	return in
}

func TestCleanInputPasses(t *testing.T) {
	for _, ds := range contract.Names() {
		t.Run(ds, func(t *testing.T) {
			in := gen(t, ds, 5000, generate.Options{})
			c, _ := contract.Load(ds)
			rep, err := Validate(context.Background(), c, in, Options{BatchRows: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Passed() {
				var b bytes.Buffer
				_ = rep.WriteText(&b)
				t.Fatalf("clean input failed:\n%s", b.String())
			}
			if rep.Rows != 5000 || !strings.HasPrefix(rep.Checksum, "5000:") {
				t.Errorf("rows %d checksum %s", rep.Rows, rep.Checksum)
			}
		})
	}
}

func TestChecksumIndependentOfFilesAndBatches(t *testing.T) {
	c, _ := contract.Load("drc")
	a := gen(t, "drc", 3000, generate.Options{Files: 1})
	b := gen(t, "drc", 3000, generate.Options{Files: 5, IncludePartitionColumn: true})
	ra, err := Validate(context.Background(), c, a, Options{BatchRows: 3000})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Validate(context.Background(), c, b, Options{BatchRows: 77})
	if err != nil {
		t.Fatal(err)
	}
	if ra.Checksum != rb.Checksum {
		t.Fatalf("checksums differ: %s vs %s", ra.Checksum, rb.Checksum)
	}
}

func TestFaultsAreReported(t *testing.T) {
	tests := []struct {
		name    string
		dataset string
		fault   generate.Fault
		rule    string
		column  string
	}{
		{"null key", "var_es", generate.FaultNullKey, RuleNotNull, "portfolio"},
		{"out of range", "drc", generate.FaultOutOfRange, RuleRange, "jtd_long"},
		{"not allowed", "frtb_sensitivities", generate.FaultNotAllowed, RuleAllowed, "currency"},
		{"bad pattern", "drc", generate.FaultBadPattern, RulePattern, "desk"},
		{"duplicate key", "var_es", generate.FaultDuplicateKey, RuleUniqueKey, "portfolio,measure,horizon_days,confidence_level,desk,legal_entity,cob_date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := gen(t, tt.dataset, 2000, generate.Options{Faults: []generate.Fault{tt.fault}})
			c, _ := contract.Load(tt.dataset)
			rep, err := Validate(context.Background(), c, in, Options{BatchRows: 500})
			if err != nil {
				t.Fatal(err)
			}
			var found *Violation
			for i := range rep.Violations {
				if rep.Violations[i].Rule == tt.rule && rep.Violations[i].Column == tt.column {
					found = &rep.Violations[i]
				}
			}
			if found == nil {
				var b bytes.Buffer
				_ = rep.WriteText(&b)
				t.Fatalf("no %s violation on %s:\n%s", tt.rule, tt.column, b.String())
			}
			// rows 7 and 1007 are touched in a 2000-row input.
			if found.Count != 2 || len(found.Examples) != 2 || found.Examples[0].File == "" {
				t.Errorf("violation %+v", found)
			}
		})
	}
}

func TestRowCountAgainstPreviousDate(t *testing.T) {
	in := gen(t, "var_es", 1000, generate.Options{})
	c, _ := contract.Load("var_es")
	prev := int64(4000)
	rep, err := Validate(context.Background(), c, in, Options{PreviousRows: &prev})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed() || rep.Violations[0].Rule != RuleRowCount || !strings.Contains(rep.Violations[0].Detail, "75.0%") {
		t.Fatalf("violations %+v", rep.Violations)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "FAILED") || !strings.Contains(b.String(), "row_count") {
		t.Errorf("text report:\n%s", b.String())
	}
}

func TestRowsOfAnotherDate(t *testing.T) {
	c, _ := contract.Load("drc")
	dir := t.TempDir()
	other := cob.AddDate(0, 0, -1)
	if _, err := generate.WriteDate(context.Background(), dir, generate.Options{Contract: c, CobDate: other, Rows: 100, Seed: 1, IncludePartitionColumn: true}); err != nil {
		t.Fatal(err)
	}
	// Yesterday's files copied into today's folder.
	if err := os.Rename(generate.DateDir(dir, c.Name, other), generate.DateDir(dir, c.Name, cob)); err != nil {
		t.Fatal(err)
	}
	in, err := source.Open(context.Background(), source.Options{URI: dir}, c.Name, cob)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Validate(context.Background(), c, in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed() || rep.Violations[0].Rule != RulePartition || rep.Violations[0].Count != 100 || rep.Violations[0].Examples[0].Value != "2026-03-01" {
		t.Fatalf("violations %+v", rep.Violations)
	}
}

// TestShardedValidationMatchesTheWhole: the input holds the same rows twice, in files that K=2 and
// K=3 assign to different shards (every key repeated across shards). Each shard holds only its
// share of the keys, yet the shards together report every repeated key exactly once, as the
// unsharded validation does; their rows and content checksums merge into the unsharded ones; the
// row-count rule is left to the merge.
func TestShardedValidationMatchesTheWhole(t *testing.T) {
	ctx := context.Background()
	c, err := contract.Load("drc")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Two generations with the same seed: files part-0..1 and copy-0..1 hold the same keys.
	for _, sub := range []string{"a", "b"} {
		o := generate.Options{Contract: c, CobDate: cob, Rows: 3000, Files: 2, Seed: 11}
		res, err := generate.WriteDate(ctx, filepath.Join(dir, sub), o)
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(res.Dir)
		target := filepath.Join(dir, "all", c.Name, "cob_date="+cob.Format(time.DateOnly))
		if err := os.MkdirAll(target, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(res.Dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			name := e.Name()
			if strings.HasSuffix(name, ".parquet") {
				name = sub + "-" + name
			}
			if err := os.WriteFile(filepath.Join(target, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	in, err := source.Open(ctx, source.Options{URI: filepath.Join(dir, "all")}, c.Name, cob)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	whole, err := Validate(ctx, c, in, Options{BatchRows: 700})
	if err != nil {
		t.Fatal(err)
	}
	dups := func(r *Report) int64 {
		for _, v := range r.Violations {
			if v.Rule == RuleUniqueKey {
				return v.Count
			}
		}
		return 0
	}
	if whole.Rows != 6000 || dups(whole) != 3000 {
		t.Fatalf("unsharded: %d rows, %d repeated keys, want 6000 and 3000", whole.Rows, dups(whole))
	}
	for _, k := range []int{2, 3} {
		t.Run(fmt.Sprintf("K=%d", k), func(t *testing.T) {
			var rows, repeated, keys int64
			var digest rowhash.Digest
			for i := 0; i < k; i++ {
				_, owns, err := in.Shard(i, k)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := Validate(ctx, c, in, Options{BatchRows: 700, Shard: Shard{Index: i, Count: k, Owns: owns}})
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range rep.Violations {
					if v.Rule != RuleUniqueKey {
						t.Errorf("shard %d: unexpected %s violation", i, v.Rule)
					}
				}
				if rep.KeysTracked > whole.KeysTracked/int64(k)*3/2 {
					t.Errorf("shard %d holds %d keys, the whole %d: not its share", i, rep.KeysTracked, whole.KeysTracked)
				}
				rows += rep.Rows
				repeated += dups(rep)
				keys += rep.KeysTracked
				digest.Merge(rep.Digest)
			}
			if rows != whole.Rows || repeated != dups(whole) || keys != whole.KeysTracked || digest.String() != whole.Checksum {
				t.Errorf("shards: %d rows, %d repeated keys, %d keys, checksum %s; whole: %d, %d, %d, %s",
					rows, repeated, keys, digest.String(), whole.Rows, dups(whole), whole.KeysTracked, whole.Checksum)
			}
		})
	}
	// Files a-…-0 and b-…-0 repeat each other's keys. With K=3 (sorted: a-0, a-1, b-0, b-1) they
	// are owned by shards 0 and 2: the repetition crosses the files' owners and was caught above.
	_, owns0, _ := in.Shard(0, 3)
	_, owns2, _ := in.Shard(2, 3)
	if !owns0(in.Files[0].Name) || owns0(in.Files[2].Name) || !owns2(in.Files[2].Name) || !strings.HasPrefix(in.Files[2].Name, "b-") {
		t.Fatalf("file assignment %v", in.Files)
	}
	if _, _, err := in.Shard(2, 2); err == nil {
		t.Error("shard 2 of 2 accepted")
	}
	if _, err := Validate(ctx, c, in, Options{Shard: Shard{Index: 0, Count: 2}}); err == nil {
		t.Error("a shard without the files it owns accepted")
	}
}
