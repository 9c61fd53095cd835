package app

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/jobs/internal/relational"
)

// TestMigratePrintSQLAndForce drives `distribution migrate` on the embedded SQLite target:
// --print-sql prints the run's statements and creates nothing; the run applies them; force 0
// forgets them, after which --print-sql plans them again.
func TestMigratePrintSQLAndForce(t *testing.T) {
	dir := t.TempDir()
	tables := func() int {
		db, err := relational.OpenSQLiteDB(filepath.Join(dir, "risk.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'`).Scan(&n); err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
		return n
	}
	code, out, errs := run(t, "migrate", "--data-dir", dir, "--print-sql")
	if code != 0 {
		t.Fatalf("print-sql: exit %d: %s", code, errs)
	}
	for _, want := range []string{"-- lakeport migrations for sqlite: database at version 0, 2 to apply", "CREATE TABLE IF NOT EXISTS lakeport_schema_migrations",
		"-- 0001_init (sha256 ", "-- 0002_publication_states (sha256 ", "BEGIN;\n", "CREATE TABLE var_es (", "COMMIT;\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-sql output lacks %q:\n%s", want, out)
		}
	}
	if n := tables(); n != 0 {
		t.Fatalf("--print-sql created %d tables", n)
	}
	if code, _, errs := run(t, "migrate", "--data-dir", dir); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errs)
	}
	if n := tables(); n == 0 {
		t.Fatal("migrate created no tables")
	}
	if code, out, _ := run(t, "migrate", "--data-dir", dir, "--print-sql"); code != 0 || !strings.Contains(out, "nothing to apply") {
		t.Fatalf("print-sql after the run: exit %d:\n%s", code, out)
	}
	if code, out, errs := run(t, "migrate", "force", "0", "--data-dir", dir); code != 0 || !strings.Contains(out, "schema recorded at version 0") {
		t.Fatalf("force 0: exit %d: %s %s", code, out, errs)
	}
	if code, out, _ := run(t, "migrate", "--data-dir", dir, "--print-sql"); code != 0 || !strings.Contains(out, "2 to apply") {
		t.Fatalf("print-sql after force 0: exit %d:\n%s", code, out)
	}
	for _, args := range [][]string{{"migrate", "force"}, {"migrate", "force", "x"}, {"migrate", "up"}, {"migrate", "--print-sql", "force", "1"}} {
		if code, _, _ := run(t, append(args, "--data-dir", dir)...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}
