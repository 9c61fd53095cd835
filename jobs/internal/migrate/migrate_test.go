package migrate

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/lakeport/lakeport/hack/testenv"
	"github.com/lakeport/lakeport/jobs/internal/contract"
)

var (
	pg    *testenv.Postgres
	pgErr error
)

func TestMain(m *testing.M) {
	pg, pgErr = testenv.StartPostgres()
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

func TestEveryDialectHasConsecutiveMigrations(t *testing.T) {
	for _, d := range []string{Postgres, SQLite, Oracle} {
		migs, err := Load(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if len(migs) == 0 {
			t.Fatalf("%s: no migrations", d)
		}
		for _, m := range migs {
			stmts, err := Split(m.SQL, d)
			if err != nil {
				t.Errorf("%s %04d: %v", d, m.Version, err)
			}
			if m.Version == 1 && len(stmts) < 5 {
				t.Errorf("%s: %d statements in 0001", d, len(stmts))
			}
		}
	}
}

// columns returns "name type null" of a table, sorted by position.
type colInfo struct {
	name, typ string
	nullable  bool
}

func checkTables(t *testing.T, db *sql.DB, query string, mapType map[contract.Type]string) {
	t.Helper()
	for _, name := range contract.Names() {
		c, _ := contract.Load(name)
		rows, err := db.Query(query, c.Table)
		if err != nil {
			t.Fatal(err)
		}
		var got []colInfo
		for rows.Next() {
			var ci colInfo
			var null string
			if err := rows.Scan(&ci.name, &ci.typ, &null); err != nil {
				t.Fatal(err)
			}
			ci.nullable = null == "YES" || null == "0"
			got = append(got, ci)
		}
		rows.Close()
		if len(got) != len(c.Columns) {
			t.Fatalf("%s: %d columns in the database, %d in the contract", name, len(got), len(c.Columns))
		}
		for i, col := range c.Columns {
			if got[i].name != col.Name || !strings.EqualFold(got[i].typ, mapType[col.Type]) || got[i].nullable != col.Nullable {
				t.Errorf("%s column %d: database %+v, contract %s %s nullable=%v", name, i, got[i], col.Name, col.Type, col.Nullable)
			}
		}
	}
}

func TestPostgresSchemaMatchesContracts(t *testing.T) {
	testenv.NeedServer(t, pgErr)
	db, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	res, err := Run(ctx, db, Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) == 0 || res.Current != len(res.Applied) {
		t.Fatalf("first run %+v", res)
	}
	again, err := Run(ctx, db, Postgres)
	if err != nil || len(again.Applied) != 0 || again.Current != res.Current {
		t.Fatalf("second run %+v %v", again, err)
	}
	checkTables(t, db, `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'risk' AND table_name = $1 ORDER BY ordinal_position`,
		map[contract.Type]string{contract.String: "text", contract.Int32: "integer", contract.Int64: "bigint", contract.Float64: "double precision",
			contract.Bool: "boolean", contract.Date: "date", contract.Timestamp: "timestamp with time zone"})

	// An applied migration that was edited is refused.
	if _, err := db.Exec(`UPDATE lakeport_schema_migrations SET checksum = 'edited' WHERE version = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, db, Postgres); err == nil || !strings.Contains(err.Error(), "was changed after it was applied") {
		t.Fatalf("edited migration: %v", err)
	}
	// A database newer than the binary is refused.
	if _, err := db.Exec(`UPDATE lakeport_schema_migrations SET checksum = $1 WHERE version = 1`, res.Applied[0].Checksum); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO lakeport_schema_migrations VALUES (99, 'future', 'x', 'now')`); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, db, Postgres); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("future migration: %v", err)
	}
}

func TestSQLiteSchemaMatchesContracts(t *testing.T) {
	db, err := sql.Open(sqliteshim.ShimName, "file:"+filepath.Join(t.TempDir(), "risk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := Run(context.Background(), db, SQLite); err != nil {
		t.Fatal(err)
	}
	checkTables(t, db, `SELECT name, type, CASE "notnull" WHEN 1 THEN 'NO' ELSE 'YES' END FROM pragma_table_info(?) ORDER BY cid`,
		map[contract.Type]string{contract.String: "TEXT", contract.Int32: "INTEGER", contract.Int64: "INTEGER", contract.Float64: "REAL",
			contract.Bool: "INTEGER", contract.Date: "TEXT", contract.Timestamp: "TEXT"})
}
