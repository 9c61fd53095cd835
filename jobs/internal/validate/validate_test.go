package validate

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
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
