package publish_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
	"github.com/lakeport/lakeport/jobs/internal/lake"
	"github.com/lakeport/lakeport/jobs/internal/migrate"
	"github.com/lakeport/lakeport/jobs/internal/objstore"
	"github.com/lakeport/lakeport/jobs/internal/publish"
	"github.com/lakeport/lakeport/jobs/internal/readback"
	"github.com/lakeport/lakeport/jobs/internal/relational"
	"github.com/lakeport/lakeport/jobs/internal/rowhash"
	"github.com/lakeport/lakeport/jobs/internal/source"
)

var (
	day1 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	day2 = time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	day3 = time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
)

var bucketSeq atomic.Int64

// env is one isolated publication setup: its own Postgres database (Iceberg SQL catalog +
// relational target), its own input and warehouse buckets on versitygw.
type env struct {
	t       *testing.T
	ctx     context.Context
	dsn     string
	s3      objstore.S3
	client  *s3.Client
	inBkt   string
	whBkt   string
	lake    *lake.Lake
	db      *relational.Postgres
	pub     *publish.Publisher
	catalog string
}

func newEnv(t *testing.T, transport http.RoundTripper) *env {
	t.Helper()
	servers(t)
	ctx := context.Background()
	e := &env{t: t, ctx: ctx, dsn: newDatabase(t), catalog: "lakeport_it"}
	e.s3 = objstore.S3{Endpoint: s3srv.Endpoint, Region: s3srv.Region, AccessKeyID: s3srv.AccessKey, SecretAccessKey: s3srv.SecretKey, MaxBackoff: 50 * time.Millisecond}
	plain, err := e.s3.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.client = plain
	n := bucketSeq.Add(1)
	e.inBkt, e.whBkt = fmt.Sprintf("spark-%d-%d", os.Getpid(), n), fmt.Sprintf("lakehouse-%d-%d", os.Getpid(), n)
	for _, b := range []string{e.inBkt, e.whBkt} {
		if _, err := plain.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if transport != nil {
		e.s3.HTTPClient = &http.Client{Transport: transport}
	}
	sqldb, err := sql.Open("pgx", e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Run(ctx, sqldb, migrate.Postgres); err != nil {
		t.Fatal(err)
	}
	_ = sqldb.Close()
	e.lake, err = lake.Open(ctx, lake.Config{
		Catalog:   lake.CatalogConfig{Type: "sql", Name: e.catalog, URI: e.dsn},
		Warehouse: "s3://" + e.whBkt + "/warehouse",
		S3:        e.s3,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.db, err = relational.OpenPostgres(ctx, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.lake.Close(); _ = e.db.Close() })
	e.pub = &publish.Publisher{
		Lake: e.lake, DB: e.db, BatchRows: 4096,
		Input: source.Options{URI: "s3://" + e.inBkt + "/results", S3: e.s3, WorkDir: t.TempDir()},
	}
	return e
}

// upload generates a day of input and puts it on S3 as Spark would.
func (e *env) upload(c *contract.Contract, cob time.Time, rows int, seed uint64, faults ...generate.Fault) {
	e.t.Helper()
	dir := e.t.TempDir()
	res, err := generate.WriteDate(e.ctx, dir, generate.Options{Contract: c, CobDate: cob, Rows: rows, Files: 3, Seed: seed, Faults: faults})
	if err != nil {
		e.t.Fatal(err)
	}
	prefix := fmt.Sprintf("results/%s/cob_date=%s/", c.Name, cob.Format(time.DateOnly))
	// Replace what was there: list and delete first.
	list, err := e.client.ListObjectsV2(e.ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.inBkt), Prefix: aws.String(prefix)})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range list.Contents {
		if _, err := e.client.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(e.inBkt), Key: o.Key}); err != nil {
			e.t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(res.Dir)
	for _, f := range entries {
		data, err := os.ReadFile(filepath.Join(res.Dir, f.Name()))
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.client.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.inBkt), Key: aws.String(prefix + f.Name()), Body: strings.NewReader(string(data))}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// state is what consumers can see of one date.
type state struct {
	snapshots     int
	snapshotID    int64
	icebergRows   int64
	icebergDigest string // read back with parquet-go from the manifests' files
	dbRows        int64
	dbDistinct    int64
	dbDigest      string // recomputed from the rows in Postgres
	pubChecksum   string
	logEntries    int64
}

func (e *env) state(c *contract.Contract, cob time.Time) state {
	e.t.Helper()
	var s state
	tbl, err := e.lake.Reload(e.ctx, c)
	if err != nil {
		e.t.Fatal(err)
	}
	s.snapshots = len(tbl.Metadata().Snapshots())
	if snap := tbl.CurrentSnapshot(); snap != nil {
		s.snapshotID = snap.SnapshotID
	}
	rb, err := readback.Read(e.ctx, readback.Store{S3: e.client}, tbl.MetadataLocation(), c)
	if err != nil {
		e.t.Fatal(err)
	}
	d := rb.Digests[cob.Format(time.DateOnly)]
	s.icebergRows, s.icebergDigest = d.Rows, d.String()
	conn := e.db.Conn()
	keys := strings.Join(c.Key, ", ")
	q := fmt.Sprintf(`SELECT count(*), count(DISTINCT (%s)) FROM risk.%s WHERE cob_date = $1`, keys, c.Table)
	if err := conn.QueryRow(e.ctx, q, cob).Scan(&s.dbRows, &s.dbDistinct); err != nil {
		e.t.Fatal(err)
	}
	s.dbDigest = dbDigest(e.t, conn, c, cob)
	pub, err := e.db.Publication(e.ctx, c.Name, cob)
	if err != nil {
		e.t.Fatal(err)
	}
	if pub != nil {
		s.pubChecksum = pub.ContentChecksum
	}
	if err := conn.QueryRow(e.ctx, `SELECT count(*) FROM risk.publication_log WHERE dataset = $1 AND cob_date = $2`, c.Name, cob).Scan(&s.logEntries); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// dbDigest recomputes the content checksum from the rows of Postgres.
func dbDigest(t *testing.T, conn *pgx.Conn, c *contract.Contract, cob time.Time) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), fmt.Sprintf(`SELECT %s FROM risk.%s WHERE cob_date = $1`, strings.Join(c.ColumnNames(), ", "), c.Table), cob)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var d rowhash.Digest
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		h := rowhash.Start()
		for i, col := range c.Columns {
			var v uint64
			switch x := vals[i].(type) {
			case nil:
				v = rowhash.Null()
			case string:
				v = rowhash.String(x)
			case int32:
				v = rowhash.Int(int64(x))
			case int64:
				v = rowhash.Int(x)
			case float64:
				v = rowhash.Float(x)
			case bool:
				v = rowhash.Bool(x)
			case time.Time:
				if col.Type == contract.Date {
					v = rowhash.Int(x.Unix() / 86400)
				} else {
					v = rowhash.Int(x.UnixMicro())
				}
			default:
				t.Fatalf("column %s: unexpected %T", col.Name, x)
			}
			h = rowhash.Combine(h, v)
		}
		d.Add(rowhash.Finish(h))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func mustContract(t *testing.T, name string) *contract.Contract {
	t.Helper()
	c, err := contract.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPublishLifecycle walks one dataset through the life the issue asks for, on real PostgreSQL
// (catalog and relational target) and a real S3 server (input and warehouse).
func TestPublishLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	c := mustContract(t, "frtb_sensitivities")
	var first publish.Result

	t.Run("publish", func(t *testing.T) {
		e.upload(c, day1, 20000, 1)
		res, err := e.pub.Publish(e.ctx, c, day1)
		if err != nil {
			t.Fatal(err)
		}
		first = *res
		s := e.state(c, day1)
		want := state{snapshots: 1, snapshotID: res.Commit.SnapshotID, icebergRows: 20000, icebergDigest: res.Report.Checksum,
			dbRows: 20000, dbDistinct: 20000, dbDigest: res.Report.Checksum, pubChecksum: res.Report.Checksum, logEntries: 1}
		if s != want {
			t.Fatalf("after publish:\n got %+v\nwant %+v", s, want)
		}
		tbl, _ := e.lake.Reload(e.ctx, c)
		sum := tbl.CurrentSnapshot().Summary.Properties
		for k, v := range map[string]string{lake.SummaryRunID: res.RunID, lake.SummaryInputChecksum: res.InputSHA256, lake.SummaryContentChecksum: res.Report.Checksum, lake.SummaryInputFiles: "3"} {
			if sum[k] != v {
				t.Errorf("snapshot summary %s = %q, want %q", k, sum[k], v)
			}
		}
		if files := strings.Split(sum[lake.SummaryInputChecksums], ";"); len(files) != 3 || !strings.HasPrefix(files[0], "part-00000-") || len(strings.SplitN(files[0], "=", 2)[1]) != 64 {
			t.Errorf("per-file checksums in the summary: %q", sum[lake.SummaryInputChecksums])
		}
	})

	t.Run("re-publish the same date", func(t *testing.T) {
		// Both stores already hold this input: the re-run writes nothing (no new snapshot, no
		// new load) and says so.
		res, err := e.pub.Publish(e.ctx, c, day1)
		if err != nil {
			t.Fatal(err)
		}
		if !res.AlreadyPublished || res.Commit.SnapshotID != first.Commit.SnapshotID {
			t.Fatalf("re-publish of the same input: %+v", res)
		}
		s := e.state(c, day1)
		want := state{snapshots: 1, snapshotID: first.Commit.SnapshotID, icebergRows: 20000, icebergDigest: first.Report.Checksum,
			dbRows: 20000, dbDistinct: 20000, dbDigest: first.Report.Checksum, pubChecksum: first.Report.Checksum, logEntries: 1}
		if s != want {
			t.Fatalf("after re-publish:\n got %+v\nwant %+v", s, want)
		}
	})

	t.Run("publish the next date", func(t *testing.T) {
		e.upload(c, day2, 21000, 2)
		res, err := e.pub.Publish(e.ctx, c, day2)
		if err != nil {
			t.Fatal(err)
		}
		if res.PreviousRows == nil || *res.PreviousRows != 20000 || !res.PreviousDate.Equal(day1) {
			t.Errorf("previous date %v %v", res.PreviousRows, res.PreviousDate)
		}
		s2 := e.state(c, day2)
		if s2.icebergRows != 21000 || s2.dbRows != 21000 || s2.icebergDigest != res.Report.Checksum || s2.dbDigest != res.Report.Checksum || s2.snapshots != 2 {
			t.Fatalf("day 2 state %+v (want checksum %s)", s2, res.Report.Checksum)
		}
		s1 := e.state(c, day1)
		if s1.icebergDigest != first.Report.Checksum || s1.dbDigest != first.Report.Checksum {
			t.Fatalf("day 1 changed by publishing day 2: %+v", s1)
		}
	})

	t.Run("contract violation publishes nothing", func(t *testing.T) {
		before1, before2 := e.state(c, day1), e.state(c, day2)
		e.upload(c, day3, 21000, 3, generate.FaultNotAllowed, generate.FaultNullKey)
		_, err := e.pub.Publish(e.ctx, c, day3)
		var v *publish.ViolationError
		if !errors.As(err, &v) {
			t.Fatalf("err = %v, want a contract violation", err)
		}
		if len(v.Report.Violations) < 2 {
			t.Errorf("report %+v", v.Report.Violations)
		}
		s3 := e.state(c, day3)
		if s3.snapshots != before2.snapshots || s3.icebergRows != 0 || s3.dbRows != 0 || s3.pubChecksum != "" || s3.logEntries != 0 {
			t.Fatalf("something was published for day 3: %+v", s3)
		}
		if a, b := e.state(c, day1), e.state(c, day2); a != before1 || b != before2 {
			t.Fatalf("earlier dates changed:\n%+v\n%+v", a, b)
		}
	})

	t.Run("crash between the Iceberg commit and the database load converges on re-run", func(t *testing.T) {
		e.upload(c, day2, 20500, 22) // Spark re-ran day 2 with corrected results
		before := e.state(c, day2)
		crash := errors.New("injected crash after the iceberg commit")
		e.pub.Hook = func(_ context.Context, point string) error {
			if point == publish.PointIcebergCommit {
				return crash
			}
			return nil
		}
		res, err := e.pub.Publish(e.ctx, c, day2)
		e.pub.Hook = nil
		if !errors.Is(err, crash) {
			t.Fatalf("err = %v", err)
		}
		mid := e.state(c, day2)
		if mid.icebergDigest != res.Report.Checksum || mid.dbDigest != before.dbDigest || mid.pubChecksum != before.pubChecksum {
			t.Fatalf("after the crash: iceberg should hold the new day, the database the old one: %+v", mid)
		}
		res2, err := e.pub.Publish(e.ctx, c, day2)
		if err != nil {
			t.Fatal(err)
		}
		if !res2.Resumed || res2.Commit.SnapshotID != res.Commit.SnapshotID {
			t.Fatalf("the re-run must resume from the committed snapshot %d, not write again: %+v", res.Commit.SnapshotID, res2)
		}
		after := e.state(c, day2)
		want := state{snapshots: mid.snapshots, snapshotID: res.Commit.SnapshotID, icebergRows: 20500, icebergDigest: res.Report.Checksum,
			dbRows: 20500, dbDistinct: 20500, dbDigest: res.Report.Checksum, pubChecksum: res.Report.Checksum, logEntries: before.logEntries + 1}
		if after != want {
			t.Fatalf("after the re-run:\n got %+v\nwant %+v", after, want)
		}
		if s1 := e.state(c, day1); s1.icebergDigest != first.Report.Checksum || s1.dbDigest != first.Report.Checksum {
			t.Fatalf("day 1 changed: %+v", s1)
		}
	})

	t.Run("input not ready", func(t *testing.T) {
		_, err := e.pub.Publish(e.ctx, c, time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC))
		var nr *publish.InputNotReadyError
		if !errors.As(err, &nr) {
			t.Fatalf("err = %v", err)
		}
	})
}

// flaky answers some S3 requests with 503 SlowDown before they reach the server.
type flaky struct {
	next     http.RoundTripper
	n        atomic.Int64
	injected atomic.Int64
}

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.n.Add(1)%3 == 0 {
		f.injected.Add(1)
		if r.Body != nil {
			_ = r.Body.Close()
		}
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Slow Down", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: ioNopCloser(body), ContentLength: int64(len(body)), Request: r}, nil
	}
	return f.next.RoundTrip(r)
}

func TestS3ErrorsAreRetried(t *testing.T) {
	f := &flaky{next: http.DefaultTransport}
	e := newEnv(t, f)
	for _, name := range []string{"var_es", "drc"} {
		c := mustContract(t, name)
		e.upload(c, day1, 5000, 5)
		res, err := e.pub.Publish(e.ctx, c, day1)
		if err != nil {
			t.Fatalf("%s: publish failed despite retries (%d faults injected): %v", name, f.injected.Load(), err)
		}
		s := e.state(c, day1)
		if s.icebergDigest != res.Report.Checksum || s.dbDigest != res.Report.Checksum {
			t.Fatalf("%s: state %+v, want %s", name, s, res.Report.Checksum)
		}
	}
	if f.injected.Load() < 5 {
		t.Fatalf("only %d faults injected", f.injected.Load())
	}
	t.Logf("%d of %d S3 requests failed with 503 SlowDown and were retried", f.injected.Load(), f.n.Load())
}

// TestJDBCCatalogLayout proves that the SQL catalog writes what Trino's JDBC Iceberg catalog reads
// (iceberg.jdbc-catalog.catalog-name = the configured name, schema-version V1), and that a legacy
// V0 catalog is migrated to V1 when asked.
func TestJDBCCatalogLayout(t *testing.T) {
	e := newEnv(t, nil)
	c := mustContract(t, "drc")
	e.upload(c, day1, 1000, 1)
	if _, err := e.pub.Publish(e.ctx, c, day1); err != nil {
		t.Fatal(err)
	}
	conn := e.db.Conn()
	var catalogName, ns, name, loc, typ string
	err := conn.QueryRow(e.ctx, `SELECT catalog_name, table_namespace, table_name, metadata_location, iceberg_type FROM iceberg_tables`).
		Scan(&catalogName, &ns, &name, &loc, &typ)
	if err != nil {
		t.Fatal(err)
	}
	if catalogName != e.catalog || ns != "risk" || name != "drc" || typ != "TABLE" || !strings.HasPrefix(loc, "s3://"+e.whBkt+"/warehouse/risk.db/drc/metadata/") {
		t.Errorf("iceberg_tables row: %s %s %s %s %s", catalogName, ns, name, loc, typ)
	}
	var cols []string
	rows, err := conn.Query(e.ctx, `SELECT column_name FROM information_schema.columns WHERE table_name = 'iceberg_tables' ORDER BY column_name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		cols = append(cols, s)
	}
	want := "catalog_name,iceberg_type,metadata_location,previous_metadata_location,table_name,table_namespace"
	if strings.Join(cols, ",") != want {
		t.Errorf("iceberg_tables columns %v, want %s (Trino JDBC catalog, schema V1)", cols, want)
	}
	var nsProps int
	if err := conn.QueryRow(e.ctx, `SELECT count(*) FROM iceberg_namespace_properties WHERE catalog_name = $1 AND namespace = 'risk'`, e.catalog).Scan(&nsProps); err != nil || nsProps == 0 {
		t.Errorf("namespace properties: %d %v", nsProps, err)
	}

	t.Run("legacy V0 catalog is migrated to V1", func(t *testing.T) {
		dsn := newDatabase(t)
		pc, err := pgx.Connect(e.ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close(e.ctx)
		// The layout Trino's JDBC catalog creates with schema-version V0.
		if _, err := pc.Exec(e.ctx, `CREATE TABLE iceberg_tables (catalog_name VARCHAR(255) NOT NULL, table_namespace VARCHAR(255) NOT NULL,
 table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000), previous_metadata_location VARCHAR(1000),
 PRIMARY KEY (catalog_name, table_namespace, table_name))`); err != nil {
			t.Fatal(err)
		}
		l, err := lake.Open(e.ctx, lake.Config{Catalog: lake.CatalogConfig{Name: "legacy", URI: dsn, SchemaVersion: "V1"}, Warehouse: "s3://" + e.whBkt + "/legacy", S3: e.s3})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := l.Table(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		var typ2 string
		if err := pc.QueryRow(e.ctx, `SELECT iceberg_type FROM iceberg_tables WHERE catalog_name = 'legacy'`).Scan(&typ2); err != nil || typ2 != "TABLE" {
			t.Fatalf("after V1 migration: %q %v", typ2, err)
		}
	})
}
