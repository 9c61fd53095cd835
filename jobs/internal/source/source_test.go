package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
)

var cob = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func write(t *testing.T, withPartition bool) (string, *contract.Contract) {
	t.Helper()
	c, err := contract.Load("var_es")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := generate.WriteDate(context.Background(), dir, generate.Options{Contract: c, CobDate: cob, Rows: 1000, Files: 2, Seed: 1, IncludePartitionColumn: withPartition}); err != nil {
		t.Fatal(err)
	}
	return dir, c
}

func TestOpenLocal(t *testing.T) {
	dir, c := write(t, false)
	in, err := Open(context.Background(), Options{URI: "file://" + dir}, c.Name, cob)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if len(in.Files) != 2 || in.Rows() != 1000 || len(in.Checksum()) != 64 || in.Files[0].SHA256 == "" {
		t.Fatalf("input %+v", in)
	}
	// The same bytes give the same checksum.
	again, _ := Open(context.Background(), Options{URI: dir}, c.Name, cob)
	if again.Checksum() != in.Checksum() {
		t.Error("checksum is not stable")
	}
}

func TestNotReady(t *testing.T) {
	dir, c := write(t, false)
	if _, err := Open(context.Background(), Options{URI: dir}, c.Name, cob.AddDate(0, 0, 1)); !errors.Is(err, ErrNoInput) {
		t.Errorf("missing date: %v", err)
	}
	if err := os.Remove(filepath.Join(generate.DateDir(dir, c.Name, cob), "_SUCCESS")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Options{URI: dir}, c.Name, cob); !errors.Is(err, ErrIncomplete) {
		t.Errorf("no _SUCCESS: %v", err)
	}
	if _, err := Open(context.Background(), Options{URI: dir, AllowIncomplete: true}, c.Name, cob); err != nil {
		t.Errorf("allowIncomplete: %v", err)
	}
}

func TestRecordsFillThePartitionColumn(t *testing.T) {
	for _, withPartition := range []bool{false, true} {
		dir, c := write(t, withPartition)
		in, err := Open(context.Background(), Options{URI: dir}, c.Name, cob)
		if err != nil {
			t.Fatal(err)
		}
		rdr := in.Records(context.Background(), c, 128)
		var rows int64
		for rdr.Next() {
			rec := rdr.RecordBatch()
			if !rec.Schema().Equal(c.ArrowSchema()) {
				t.Fatalf("schema %s", rec.Schema())
			}
			d := rec.Column(0).(*array.Date32)
			if d.Value(0) != arrow.Date32FromTime(cob) || d.Value(int(rec.NumRows())-1) != arrow.Date32FromTime(cob) {
				t.Fatalf("cob_date %v", d.Value(0))
			}
			rows += rec.NumRows()
		}
		rdr.Release()
		if rdr.Err() != nil || rows != 1000 {
			t.Fatalf("rows %d err %v", rows, rdr.Err())
		}
	}
}

func TestCheckSchema(t *testing.T) {
	dir, c := write(t, false)
	folder := generate.DateDir(dir, c.Name, cob)
	// A file with a wrong type, a missing column and an extra one.
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "legal_entity", Type: arrow.BinaryTypes.String},
		{Name: "value", Type: arrow.BinaryTypes.String},
		{Name: "comment", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	for i := range 3 {
		b.Field(i).(*array.StringBuilder).Append("x")
	}
	rec := b.NewRecordBatch()
	f, err := os.Create(filepath.Join(folder, "part-99999-bad.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(sc, f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	in, err := Open(context.Background(), Options{URI: dir}, c.Name, cob)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := in.CheckSchema(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range problems {
		s = append(s, p.String())
	}
	all := strings.Join(s, "\n")
	for _, want := range []string{"part-99999-bad.parquet: column desk: missing", "column value: type utf8, contract says float64", "column comment: not in the contract"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "part-00000") {
		t.Errorf("good files reported:\n%s", all)
	}
}
