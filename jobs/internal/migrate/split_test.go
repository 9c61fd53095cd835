package migrate

import (
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name, dialect, script string
		want                  []string
	}{
		{"statements and comments", Postgres,
			"-- comment\nCREATE TABLE a (x int);\n\n-- more\nCREATE TABLE b (\n  y int\n);\nSELECT 1",
			[]string{"CREATE TABLE a (x int)", "CREATE TABLE b (\n  y int\n)", "SELECT 1"}},
		{"semicolons in strings and comments", Oracle,
			"INSERT INTO t VALUES ('a;b', 'it''s; fine'); -- trailing; comment\nCOMMENT ON TABLE t IS 'x;y' /* ; */;",
			[]string{"INSERT INTO t VALUES ('a;b', 'it''s; fine')", "COMMENT ON TABLE t IS 'x;y' /* ; */"}},
		{"semicolon mid-line ends a statement", Oracle, "CREATE TABLE a (x NUMBER); CREATE TABLE b (y NUMBER);",
			[]string{"CREATE TABLE a (x NUMBER)", "CREATE TABLE b (y NUMBER)"}},
		{"anonymous block ends at slash", Oracle,
			"CREATE TABLE a (x NUMBER);\nBEGIN\n  EXECUTE IMMEDIATE 'CREATE INDEX a_x ON a (x)';\n  INSERT INTO a VALUES (1);\nEXCEPTION WHEN OTHERS THEN\n  IF SQLCODE != -955 THEN RAISE; END IF;\nEND;\n/\nCREATE TABLE b (y NUMBER);",
			[]string{"CREATE TABLE a (x NUMBER)",
				"BEGIN\n  EXECUTE IMMEDIATE 'CREATE INDEX a_x ON a (x)';\n  INSERT INTO a VALUES (1);\nEXCEPTION WHEN OTHERS THEN\n  IF SQLCODE != -955 THEN RAISE; END IF;\nEND;",
				"CREATE TABLE b (y NUMBER)"}},
		{"declare block at end of script without slash", Oracle,
			"DECLARE\n  n NUMBER;\nBEGIN\n  SELECT COUNT(*) INTO n FROM dual;\nEND;\n",
			[]string{"DECLARE\n  n NUMBER;\nBEGIN\n  SELECT COUNT(*) INTO n FROM dual;\nEND;"}},
		{"stored units", Oracle,
			"CREATE OR REPLACE PROCEDURE p AS\nBEGIN\n  NULL;\nEND p;\n/\nCREATE OR REPLACE EDITIONABLE TRIGGER trg BEFORE INSERT ON a FOR EACH ROW\nBEGIN\n  :new.x := 1;\nEND;\n/\nCREATE OR REPLACE PACKAGE BODY pk AS\n  PROCEDURE q IS BEGIN NULL; END;\nEND pk;\n/",
			[]string{"CREATE OR REPLACE PROCEDURE p AS\nBEGIN\n  NULL;\nEND p;",
				"CREATE OR REPLACE EDITIONABLE TRIGGER trg BEFORE INSERT ON a FOR EACH ROW\nBEGIN\n  :new.x := 1;\nEND;",
				"CREATE OR REPLACE PACKAGE BODY pk AS\n  PROCEDURE q IS BEGIN NULL; END;\nEND pk;"}},
		{"a slash ends a plain statement too", Oracle, "CREATE TABLE a (x NUMBER)\n/\nCREATE TABLE b (y NUMBER)\n/\n",
			[]string{"CREATE TABLE a (x NUMBER)", "CREATE TABLE b (y NUMBER)"}},
		{"division is not a terminator", Oracle, "SELECT 4\n / 2 FROM dual;", []string{"SELECT 4\n / 2 FROM dual"}},
		{"q-quoted string", Oracle, "INSERT INTO t VALUES (q'[it's; ok]');\nINSERT INTO t VALUES (q'{a}b;}');",
			[]string{"INSERT INTO t VALUES (q'[it's; ok]')", "INSERT INTO t VALUES (q'{a}b;}')"}},
		{"quoted identifiers", Oracle, `CREATE TABLE "a;b" ("x""y" NUMBER);`, []string{`CREATE TABLE "a;b" ("x""y" NUMBER)`}},
		{"begin is a transaction on postgres", Postgres, "BEGIN;\nSELECT 1;\nCOMMIT;", []string{"BEGIN", "SELECT 1", "COMMIT"}},
		{"dollar-quoted bodies", Postgres,
			"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nDO $body$ BEGIN PERFORM 1; END $body$;",
			[]string{"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", "DO $body$ BEGIN PERFORM 1; END $body$"}},
		{"comment-only chunks are dropped", SQLite, "-- only\n;\n/* also */;\nSELECT 1;", []string{"SELECT 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.script, tt.dialect)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n<>\n") != strings.Join(tt.want, "\n<>\n") {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	for script, want := range map[string]string{
		"SELECT 1;\nSELECT 'open;\n":          "line 2: unterminated string",
		"SELECT 1 /* never closed":            "line 1: unterminated /* comment",
		"SELECT \"x FROM t;":                  "unterminated quoted identifier",
		"INSERT INTO t VALUES (q'[x);\n":      "unterminated q'[ string",
		"CREATE FUNCTION f() AS $$ SELECT 1;": "unterminated $$ body",
	} {
		dialect := Oracle
		if strings.Contains(script, "$$") {
			dialect = Postgres
		}
		if _, err := Split(script, dialect); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", script, err, want)
		}
	}
}

// TestOldSplitterBrokePLSQL: the splitter as of b5197db cut on every line ending in ";", so a
// PL/SQL block came out in pieces that Oracle refuses (PLS-00103).
func TestOldSplitterBrokePLSQL(t *testing.T) {
	block := "BEGIN\n  EXECUTE IMMEDIATE 'DROP TABLE x';\nEXCEPTION WHEN OTHERS THEN NULL;\nEND;\n/\n"
	if old := oldStatements(block); len(old) == 1 {
		t.Fatalf("the old splitter kept the block whole: %q", old)
	}
	got, err := Split(block, Oracle)
	if err != nil || len(got) != 1 || !strings.HasSuffix(got[0], "END;") {
		t.Fatalf("%q %v", got, err)
	}
}

// oldStatements is the splitter of b5197db, kept as the fixture of TestOldSplitterBrokePLSQL.
func oldStatements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			if s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
