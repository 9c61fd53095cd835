package relational

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"

	"github.com/lakeport/lakeport/hack/testenv"
)

// failingReader yields the batches of rdr, then fails after n of them.
type failingReader struct {
	array.RecordReader
	n int
}

var errBroken = errors.New("input broken mid-stream")

func (f *failingReader) Next() bool {
	if f.n == 0 {
		return false
	}
	f.n--
	return f.RecordReader.Next()
}

func (f *failingReader) Err() error {
	if f.n == 0 {
		return errBroken
	}
	return f.RecordReader.Err()
}

// TestCopyBinary, on a real PostgreSQL: the pipelined binary COPY loads every row and value
// (nulls included) as the row-by-row path reads them; an input that breaks mid-stream fails the
// COPY with the input's error and loads nothing; a COPY the server refuses returns at once
// (the encoder stops, nothing hangs).
func TestCopyBinary(t *testing.T) {
	pg, err := testenv.StartPostgres()
	testenv.NeedServer(t, err)
	t.Cleanup(pg.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// drc has nullable columns, strings, doubles, dates and timestamps; 10000 rows in batches of
	// 300 make chunks that end inside batches and batches that end inside chunks.
	c, open := records(t, "drc", 10000, 3)
	var ddl []string
	for _, col := range c.Columns {
		typ := map[string]string{"string": "text", "float64": "double precision", "int32": "integer", "int64": "bigint", "date": "date", "timestamp": "timestamptz", "bool": "boolean"}[string(col.Type)]
		if typ == "" {
			t.Fatalf("column %s: type %s", col.Name, col.Type)
		}
		ddl = append(ddl, pgx.Identifier{col.Name}.Sanitize()+" "+typ)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (`+strings.Join(ddl, ", ")+`)`); err != nil {
		t.Fatal(err)
	}
	n, err := copyBinary(ctx, conn.PgConn(), open(), `COPY t FROM STDIN WITH (FORMAT binary)`)
	if err != nil || n != 10000 {
		t.Fatalf("copy: %d rows, %v", n, err)
	}
	// Every value as the row-by-row path (RowSource) reads it.
	want := map[string]bool{}
	src := NewRowSource(open())
	for src.Next() {
		vals, err := src.Values()
		if err != nil {
			t.Fatal(err)
		}
		want[rowText(vals)] = true
	}
	rows, err := conn.Query(ctx, `SELECT * FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		if !want[rowText(vals)] {
			t.Fatalf("row %v was not in the input", vals)
		}
		got++
	}
	if rows.Err() != nil || got != 10000 {
		t.Fatalf("read back %d rows: %v", got, rows.Err())
	}

	// Broken input: the COPY fails with the input's error, no row lands.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = copyBinary(ctx, tx.Conn().PgConn(), &failingReader{RecordReader: open(), n: 5}, `COPY t FROM STDIN WITH (FORMAT binary)`)
	if !errors.Is(err, errBroken) {
		t.Fatalf("broken input: %v", err)
	}
	_ = tx.Rollback(ctx)
	var total int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&total); err != nil || total != 10000 {
		t.Fatalf("after the failed copy: %d rows, %v", total, err)
	}

	// Refused by the server: returns promptly with the server's error.
	start := time.Now()
	_, err = copyBinary(ctx, conn.PgConn(), open(), `COPY no_such_table FROM STDIN WITH (FORMAT binary)`)
	if err == nil || !strings.Contains(err.Error(), "no_such_table") || time.Since(start) > 30*time.Second {
		t.Fatalf("refused copy: %v after %v", err, time.Since(start))
	}
}

func rowText(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		switch x := v.(type) {
		case time.Time:
			b.WriteString(x.UTC().Format(time.RFC3339Nano))
		case nil:
			b.WriteString("NULL")
		default:
			b.WriteString(fmt.Sprint(x))
		}
		b.WriteByte('|')
	}
	return b.String()
}
