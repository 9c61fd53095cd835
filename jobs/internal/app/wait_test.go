package app

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/jobs/internal/config"
)

// TestWaitTargets: what each command waits for, from the configurations the chart renders (a
// Postgres catalog and target, an S3 warehouse and input, Trino) and the embedded default (local
// files only: nothing to wait for).
func TestWaitTargets(t *testing.T) {
	cluster := `
input: {uri: "s3://risk-results/daily", s3: {endpoint: "http://minio.risk-dev.svc:9000"}}
iceberg:
  catalog: {type: sql, uri: "postgres://lakeport:pw@postgres.risk-dev.svc:5432/catalog"}
  warehouse: s3://lakeport-warehouse/
  s3: {endpoint: "http://minio.risk-dev.svc:9000"}
database: {driver: postgres, dsn: "postgres://distribution:pw@postgres.risk-dev.svc:5432/risk"}
trino: {url: "https://distribution@trino.risk-dev.svc:8443"}
`
	parse := func(y string) *config.Config {
		c, err := config.Parse([]byte(y), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name        string
		cfg         *config.Config
		lake, trino bool
		want        string
	}{
		{"migrate", parse(cluster), false, false, "database=postgres.risk-dev.svc:5432"},
		{"publish", parse(cluster), true, true, "database=postgres.risk-dev.svc:5432 S3 (warehouse)=minio.risk-dev.svc:9000 trino=trino.risk-dev.svc:8443"},
		{"validate (dry run)", parse(cluster), true, false, "database=postgres.risk-dev.svc:5432 S3 (warehouse)=minio.risk-dev.svc:9000"},
		{"embedded default", config.Default(t.TempDir()), true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			targets, err := waitTargets(tc.cfg, tc.lake, tc.trino)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tg := range targets {
				got = append(got, fmt.Sprintf("%s=%s", tg.Name, tg.Addr))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("targets %q, want %q", strings.Join(got, " "), tc.want)
			}
		})
	}
}
