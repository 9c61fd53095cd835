package contract

import (
	"strings"
	"testing"
)

func TestEmbeddedContractsParse(t *testing.T) {
	names := Names()
	want := []string{"drc", "frtb_sensitivities", "var_es"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("Names() = %v, want %v", names, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			c, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ArrowSchema().NumFields(); got != len(c.Columns) {
				t.Errorf("arrow schema has %d fields, want %d", got, len(c.Columns))
			}
			sc := c.IcebergSchema()
			if len(sc.IdentifierFieldIDs) != len(c.Key) {
				t.Errorf("identifier fields %v, want %d", sc.IdentifierFieldIDs, len(c.Key))
			}
			spec := c.PartitionSpec()
			if spec.NumFields() != 1 {
				t.Errorf("partition spec has %d fields", spec.NumFields())
			}
		})
	}
}

func TestLoadUnknownDataset(t *testing.T) {
	_, err := Load("pnl")
	if err == nil || !strings.Contains(err.Error(), "unknown dataset \"pnl\"") || !strings.Contains(err.Error(), "var_es") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "every problem at once",
			yaml: `
name: x
version: 0
partitionBy: d
key: [k, missing]
columns:
  - {name: k, type: string, nullable: true}
  - {name: d, type: varchar}
  - {name: v, type: string, min: 1, allowed: [1]}
`,
			want: []string{"version must be >= 1", `unknown type "varchar"`, `min/max on non-numeric`, `allowed value 1 is not a string`,
				`key column "missing" is not declared`, `key column "k" must not be nullable`, `partitionBy "d" must name a non-nullable date column`},
		},
		{
			name: "unknown field",
			yaml: "name: x\nversion: 1\ncolumnz: []\n",
			want: []string{"columnz"},
		},
		{
			name: "bad pattern",
			yaml: "name: x\nversion: 1\npartitionBy: d\nkey: [d]\ncolumns: [{name: d, type: date}, {name: s, type: string, pattern: '('}]\n",
			want: []string{`column "s": pattern`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestColumnRules(t *testing.T) {
	c, err := Load("var_es")
	if err != nil {
		t.Fatal(err)
	}
	conf, _ := c.Column("confidence_level")
	if !conf.AllowsNumber(0.99) || conf.AllowsNumber(0.95) {
		t.Error("confidence_level allowed values")
	}
	val, _ := c.Column("value")
	if !val.InRange(0) || val.InRange(-1) || val.InRange(2e11) {
		t.Error("value range")
	}
	desk, _ := c.Column("desk")
	if !desk.MatchesPattern("RATES-EUR") || desk.MatchesPattern("rates") {
		t.Error("desk pattern")
	}
}
