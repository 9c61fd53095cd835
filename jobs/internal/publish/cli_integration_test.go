package publish_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeport/lakeport/jobs/internal/app"
	"github.com/lakeport/lakeport/jobs/internal/relational"
)

// TestCommandLineOnRealServers runs the binary's entry point the way the chart does: migrate (the
// PreSync hook), then publish per dataset with --config and secrets from the environment, against
// PostgreSQL and versitygw.
func TestCommandLineOnRealServers(t *testing.T) {
	e := newEnv(t, nil) // buckets, a database; its own migrations are not needed here
	dsn := newDatabase(t)
	for _, name := range []string{"var_es", "drc"} {
		e.upload(mustContract(t, name), day1, 4000, 11)
	}
	cfg := fmt.Sprintf(`
input:
  uri: s3://%[1]s/results
  s3: {endpoint: %[3]q, region: %[4]s, accessKeyId: "${TEST_S3_KEY}", secretAccessKey: "${TEST_S3_SECRET}"}
iceberg:
  catalog: {type: sql, name: lakeport, uri: "${TEST_DSN}", schemaVersion: V1}
  warehouse: s3://%[2]s/warehouse/
  namespace: risk
  s3: {endpoint: %[3]q, region: %[4]s, accessKeyId: "${TEST_S3_KEY}", secretAccessKey: "${TEST_S3_SECRET}"}
database: {driver: postgres, dsn: "${TEST_DSN}"}
metrics: {textfile: %[5]s}
workDir: %[6]s
`, e.inBkt, e.whBkt, s3srv.Endpoint, s3srv.Region, filepath.Join(t.TempDir(), "metrics.prom"), t.TempDir())
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_DSN", dsn)
	t.Setenv("TEST_S3_KEY", s3srv.AccessKey)
	t.Setenv("TEST_S3_SECRET", s3srv.SecretKey)
	main := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := app.Main(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}
	for i := 0; i < 2; i++ { // the hook may run twice
		if code, out, errs := main("migrate", "--config", path); code != app.ExitOK || !strings.Contains(out, "schema at version 2") {
			t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errs)
		}
	}
	for _, name := range []string{"var_es", "drc"} {
		code, out, errs := main("publish", "--config", path, "--dataset", name, "--cob-date", "2026-03-02")
		if code != app.ExitOK || !strings.Contains(out, "published "+name+" 2026-03-02: 4000 rows") {
			t.Fatalf("publish %s: exit %d\n%s\n%s", name, code, out, errs)
		}
	}
	// frtb_sensitivities has no input: not ready, exit 4, retried by the CronJob.
	if code, _, errs := main("publish", "--config", path, "--dataset", "frtb_sensitivities", "--cob-date", "2026-03-02"); code != app.ExitInputNotReady {
		t.Fatalf("missing input: exit %d\n%s", code, errs)
	}
	code, out, errs := main("inspect", "--config", path)
	if code != app.ExitOK {
		t.Fatalf("inspect: exit %d\n%s", code, errs)
	}
	for _, name := range []string{"var_es", "drc"} {
		if !strings.Contains(out, fmt.Sprintf("%-18s  2026-03-02  4000", name)) {
			t.Errorf("inspect lacks %s:\n%s", name, out)
		}
	}
}

func TestPublishBeforeMigrateSaysSo(t *testing.T) {
	servers(t)
	e := newEnv(t, nil)
	c := mustContract(t, "drc")
	e.upload(c, day1, 100, 1)
	fresh := newDatabase(t) // no migrations
	db, err := relational.OpenPostgres(e.ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e.pub.DB = db
	_, err = e.pub.Publish(e.ctx, c, day1)
	if err == nil || !strings.Contains(err.Error(), "run `distribution migrate` first") {
		t.Fatalf("err = %v", err)
	}
}
