package config

import (
	"strings"
	"testing"
	"time"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestParseExpandsEnvironment(t *testing.T) {
	yaml := `
input: {uri: "s3://risk-results/spark", s3: {endpoint: "${S3_ENDPOINT}", accessKeyId: "${AWS_ACCESS_KEY_ID}", secretAccessKey: "${AWS_SECRET_ACCESS_KEY}"}}
iceberg:
  catalog: {type: sql, name: lakeport, uri: "${CATALOG_DSN}", schemaVersion: V1}
  warehouse: s3://lakehouse/warehouse
  tableProperties: {owner: "${TEAM}"}
database: {driver: postgres, dsn: "${DB_DSN}"}
trino: {url: "http://distribution@trino:8080", timeout: 5m, maintenance: {optimize: true}}
maintenance: {tagRetention: 2557d, expireSnapshotsOlderThan: 36h, removeOrphanFilesOlderThan: "off"}
`
	cfg, err := Parse([]byte(yaml), lookup(map[string]string{
		"S3_ENDPOINT": "http://minio:9000", "AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": `p"a$s:w{o}rd`,
		"CATALOG_DSN": "postgres://cat", "DB_DSN": "postgres://db", "TEAM": "market-risk",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Input.S3.SecretAccessKey != `p"a$s:w{o}rd` || cfg.Iceberg.Catalog.URI != "postgres://cat" || cfg.Database.DSN != "postgres://db" {
		t.Errorf("expansion: %+v", cfg)
	}
	m, err := cfg.Maintenance.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if m.TagRetention != 2557*24*time.Hour || m.ExpireOlderThan != 36*time.Hour || m.OrphansOlderThan != 0 || m.RetainLast != 1 || !m.RewriteManifests || m.PublishWait != 30*time.Minute {
		t.Errorf("maintenance: %+v", m)
	}
	if cfg.Iceberg.TableProperties["owner"] != "market-risk" {
		t.Errorf("map expansion: %v", cfg.Iceberg.TableProperties)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unset variables", `{input: {uri: "${A}"}, iceberg: {catalog: {uri: "${B}"}, warehouse: w}, database: {driver: none}}`, []string{"A, B"}},
		{"invalid", `{input: {uri: ""}, iceberg: {catalog: {uri: ""}}, database: {driver: mysql}, trino: {timeout: soon}}`,
			[]string{"input.uri is required", "iceberg.catalog.uri is required", "iceberg.warehouse is required", `database.driver "mysql"`, "trino.timeout"}},
		{"unknown key", `{input: {uri: x, bucket: y}}`, []string{"bucket"}},
		// Expiry and orphan removal through Trino ran outside the publication lock and ignored
		// the tags' retention: refused, with where they went.
		{"maintenance through trino", `{input: {uri: x}, iceberg: {catalog: {uri: c}, warehouse: w}, database: {driver: none}, trino: {maintenance: {expireSnapshotsRetention: 7d, removeOrphanFilesRetention: 7d}}}`,
			[]string{"trino.maintenance.expireSnapshotsRetention: snapshot expiry moved to maintenance.expireSnapshotsOlderThan", "trino.maintenance.removeOrphanFilesRetention"}},
		{"bad maintenance durations", `{input: {uri: x}, iceberg: {catalog: {uri: c}, warehouse: w}, database: {driver: none}, maintenance: {tagRetention: 10y, expireSnapshotsOlderThan: "-1h", retainLast: -2}}`,
			[]string{`maintenance.tagRetention "10y"`, `maintenance.expireSnapshotsOlderThan "-1h"`, "maintenance.retainLast -2"}},
		{"unknown calendar", `{input: {uri: x}, iceberg: {catalog: {uri: c}, warehouse: w}, database: {driver: none}, calendar: target` + "3" + `}`,
			[]string{`calendar "target3"`, "target2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), lookup(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDefault(t *testing.T) {
	cfg := Default("data")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Database.Driver != "sqlite" || !strings.HasSuffix(cfg.Iceberg.Catalog.URI, "data/catalog.db") {
		t.Errorf("%+v", cfg)
	}
}
