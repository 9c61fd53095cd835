package imagetest_test

import (
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/lakeport/lakeport/charts/internal/chartrender"
	"github.com/lakeport/lakeport/hack/imagebuild"
	"github.com/lakeport/lakeport/hack/testenv"
)

// repoRoot is the module root: the tests run in charts/imagetest.
const repoRoot = "../.."

// day is the close-of-business date the tests publish (a Monday).
const day = "2026-03-02"

// The servers and the image, built once in TestMain.
var (
	pg       *testenv.Postgres
	s3srv    *testenv.S3
	pki      *testenv.TLSFiles
	built    *imagebuild.Built
	buildOpt imagebuild.Options
	generate string // the generate binary (test input, not part of the image)
	setupErr error
	seq      atomic.Int64
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips: no servers, no image build
	}
	code := func() int {
		dir, err := os.MkdirTemp("", "lakeport-imagetest-")
		if err != nil {
			setupErr = err
			return m.Run()
		}
		defer os.RemoveAll(dir)
		setupErr = setup(dir)
		return m.Run()
	}()
	pg.Stop()
	s3srv.Stop()
	os.Exit(code)
}

func setup(dir string) error {
	var err error
	if pg, err = testenv.StartPostgres(); err != nil {
		return err
	}
	// The private CA the job must trust through the chart's trustedCA mount, and nothing else.
	if pki, err = testenv.NewTLSFiles(dir); err != nil {
		return err
	}
	if s3srv, err = testenv.StartS3With(testenv.S3Options{TLS: pki}); err != nil {
		return err
	}
	def, err := imagebuild.LoadDefinition(filepath.Join(repoRoot, "jobs", "image", "distribution.yaml"))
	if err != nil {
		return err
	}
	goCmd := goCommand()
	buildOpt = imagebuild.Options{
		Definition: def, ModuleDir: repoRoot, Registry: "registry.risk.internal", Version: "0.1.0-test",
		Revision: "0123456789abcdef0123456789abcdef01234567", Created: time.Unix(1767225600, 0),
		Platforms: []imagebuild.Platform{{OS: "linux", Arch: runtime.GOARCH}}, GoCommand: goCmd,
	}
	// As `make image` does: the build machine's public bundle, when it has one.
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		buildOpt.CACertificates = "/etc/ssl/certs/ca-certificates.crt"
	}
	start := time.Now()
	if built, err = imagebuild.Build(context.Background(), buildOpt); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "imagetest: built %s in %s\n", built.Ref, time.Since(start).Round(time.Second))
	generate = filepath.Join(dir, "generate")
	cmd := exec.Command(goCmd, "build", "-o", generate, "./jobs/cmd/generate")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build generate: %w\n%s", err, out)
	}
	return nil
}

// goCommand is the go binary running these tests (the toolchain GOTOOLCHAIN selected).
func goCommand() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ready fails (or, outside CI, skips) when a server or the image could not be set up.
func ready(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: this test starts PostgreSQL and versitygw and builds the image")
	}
	testenv.NeedServer(t, setupErr)
}

// image is the host platform's image.
func image(t *testing.T) imagebuild.PlatformImage {
	t.Helper()
	ready(t)
	return built.Images[0]
}

// TestImageIsStaticNonRootWithoutShell checks what the image definition promises: a static
// binary as the entrypoint, a numeric non-root user with a passwd entry, no shell, and the OCI
// labels.
func TestImageIsStaticNonRootWithoutShell(t *testing.T) {
	img := image(t).Image
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Config.User; got != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", got)
	}
	if got := strings.Join(cfg.Config.Entrypoint, " "); got != "/usr/local/bin/distribution" {
		t.Errorf("entrypoint = %q", got)
	}
	for k, want := range map[string]string{
		imagebuild.LabelVersion:  "0.1.0-test",
		imagebuild.LabelRevision: "0123456789abcdef0123456789abcdef01234567",
		imagebuild.LabelSource:   "https://github.com/lakeport/lakeport",
		imagebuild.LabelCreated:  "2026-01-01T00:00:00Z",
	} {
		if got := cfg.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	root := t.TempDir()
	if err := imagebuild.Unpack(img, root); err != nil {
		t.Fatal(err)
	}
	var files []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, root))
		}
		return err
	})
	want := map[string]bool{"/etc/passwd": true, "/etc/group": true, "/usr/local/bin/distribution": true}
	if buildOpt.CACertificates != "" {
		want["/etc/ssl/certs/ca-certificates.crt"] = true
	}
	for _, f := range files {
		if !want[f] {
			t.Errorf("unexpected file in the image: %s", f)
		}
		delete(want, f)
	}
	for f := range want {
		t.Errorf("missing from the image: %s", f)
	}
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/bin/busybox"} {
		if fileExists(filepath.Join(root, sh)) {
			t.Errorf("the image has a shell: %s", sh)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no entry for 65532:\n%s", passwd)
	}
	f, err := elf.Open(filepath.Join(root, "usr", "local", "bin", "distribution"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%s): build it with CGO_ENABLED=0", p.Type)
		}
	}
	size, err := imagebuild.CompressedSize(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %.1f MB compressed", built.Ref, float64(size)/1e6)
}

// TestBuildIsReproducible builds the image a second time, go build included: same inputs, same
// digests.
func TestBuildIsReproducible(t *testing.T) {
	ready(t)
	if testing.Short() {
		t.Skip("builds the job binary again")
	}
	again, err := imagebuild.Build(context.Background(), buildOpt)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := built.Index.Digest()
	d2, _ := again.Index.Digest()
	if d1 != d2 {
		t.Errorf("index digest %s, then %s: the build is not reproducible", d1, d2)
	}
}

// testCase is one run of the rendered chart: a CA reference in the values, or none.
type testCase struct {
	name      string
	trustedCA map[string]any // nil: the chart's default (no CA mount)
}

// TestCronJobPublishesADay renders the dev distribution chart (values pointing at the test
// servers, the private CA referenced through trustedCA), then runs the migration Job's and the
// var_es CronJob's containers from the image: the day is published to Iceberg on S3 over TLS and
// to PostgreSQL.
func TestCronJobPublishesADay(t *testing.T) {
	for _, tc := range []testCase{
		{name: "CA from a ConfigMap", trustedCA: map[string]any{"configMapName": "bank-ca"}},
		{name: "CA from a Secret", trustedCA: map[string]any{"secretName": "bank-ca", "key": "tls-ca.pem"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready(t)
			r := newRun(t, tc)
			if res := r.container(t, "Job", "distribution-migrate").run(t, r.ctx); res.code != 0 {
				t.Fatalf("migrate: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			}
			res := r.container(t, "CronJob", "distribution-var-es").run(t, r.ctx)
			if res.code != 0 || !strings.Contains(res.stdout, "published var_es "+day+": 2000 rows") {
				t.Fatalf("publish: exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			if n := r.published(t); n != 2000 {
				t.Errorf("risk.publications says %d rows of var_es %s, want 2000", n, day)
			}
			if n := r.warehouseObjects(t); n == 0 {
				t.Error("the Iceberg warehouse bucket is empty")
			}
		})
	}
}

// TestWithoutCATrustTheJobFailsOnTLS is the chart as it was (no trustedCA): the same run fails
// on the S3 server's certificate, and publishes nothing.
func TestWithoutCATrustTheJobFailsOnTLS(t *testing.T) {
	ready(t)
	r := newRun(t, testCase{name: "no CA"})
	publish := r.container(t, "CronJob", "distribution-var-es")
	for _, e := range publish.spec.Env {
		if e.Name == "SSL_CERT_FILE" {
			t.Fatalf("SSL_CERT_FILE is set without trustedCA: %q", e.Value)
		}
	}
	if res := r.container(t, "Job", "distribution-migrate").run(t, r.ctx); res.code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	res := publish.run(t, r.ctx)
	if res.code != 1 || !strings.Contains(res.stderr, "x509: certificate signed by unknown authority") {
		t.Fatalf("publish without the CA: exit %d (want 1, an infrastructure error), stderr without the TLS error:\n%s", res.code, res.stderr)
	}
	for _, line := range strings.Split(res.stderr, "\n") {
		if strings.Contains(line, "x509:") {
			t.Logf("the job says: %.400s", line)
			break
		}
	}
	if n := r.published(t); n != 0 {
		t.Errorf("risk.publications says %d rows were published", n)
	}
}

// run is one rendered chart with its own databases and buckets.
type run struct {
	ctx          context.Context
	objs         []chartrender.Object
	objects      objects
	riskDSN      string
	inBkt, whBkt string
	s3           *s3.Client
}

func newRun(t *testing.T, tc testCase) *run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	n := seq.Add(1)
	r := &run{ctx: ctx, inBkt: fmt.Sprintf("risk-results-%d", n), whBkt: fmt.Sprintf("lakeport-warehouse-%d", n), objects: objects{}}
	riskDB, icebergDB := createDB(t, fmt.Sprintf("risk_%d", n)), createDB(t, fmt.Sprintf("iceberg_%d", n))
	r.riskDSN = dsn("postgres", riskDB)
	r.s3 = s3Client(t)
	for _, b := range []string{r.inBkt, r.whBkt} {
		if _, err := r.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	r.upload(t)

	// Values on top of environments/dev/distribution.yaml: where the test servers are. The
	// secrets stay ${NAME} references filled from the Secrets below, as in dev.
	values := map[string]any{
		"cobDate": day,
		"config": map[string]any{
			"input": map[string]any{"uri": "s3://" + r.inBkt + "/", "s3": map[string]any{"endpoint": s3srv.Endpoint}},
			"iceberg": map[string]any{
				"catalog":   map[string]any{"uri": dsn("${ICEBERG_DB_PASSWORD}", icebergDB)},
				"warehouse": "s3://" + r.whBkt + "/",
				"s3":        map[string]any{"endpoint": s3srv.Endpoint},
			},
			"database": map[string]any{"dsn": dsn("${RISK_DB_PASSWORD}", riskDB)},
			// No Trino runs here (a JVM server): publication without verification.
			"trino": map[string]any{"url": ""},
		},
	}
	if tc.trustedCA != nil {
		values["trustedCA"] = tc.trustedCA
	}
	env, err := chartrender.LoadEnv(repoRoot, "dev")
	if err != nil {
		t.Fatal(err)
	}
	req := chartrender.ForEnv(repoRoot, env, "distribution")
	req.Values = values
	out, err := chartrender.Render(req)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if r.objs, err = chartrender.Split(out); err != nil {
		t.Fatal(err)
	}
	// What the cluster holds besides the render: the Secrets dev's values reference (the
	// PostgreSQL here trusts 127.0.0.1, so the passwords only prove they are passed), and the
	// bank's CA bundle.
	r.objects.addRendered(t, r.objs)
	r.objects.add("Secret", "distribution-s3", map[string][]byte{"accessKey": []byte(s3srv.AccessKey), "secretKey": []byte(s3srv.SecretKey)})
	r.objects.add("Secret", "iceberg-catalog-db", map[string][]byte{"password": []byte("iceberg-pw")})
	r.objects.add("Secret", "risk-db", map[string][]byte{"password": []byte("risk-pw")})
	if tc.trustedCA != nil {
		key, _ := tc.trustedCA["key"].(string)
		if key == "" {
			key = "ca.crt"
		}
		kind := "ConfigMap"
		if _, ok := tc.trustedCA["secretName"]; ok {
			kind = "Secret"
		}
		r.objects.add(kind, "bank-ca", map[string][]byte{key: pki.CAPEM})
	}
	return r
}

// container is the first container of a rendered CronJob's or Job's pod template.
func (r *run) container(t *testing.T, kind, name string) container {
	t.Helper()
	for _, o := range r.objs {
		// The migration Job is named <name>-<hash of its spec>, so a prefix names it too.
		if o.Kind() == kind && (o.Name() == name || strings.HasPrefix(o.Name(), name+"-")) {
			spec := podTemplate(t, o)
			return container{pod: spec, spec: spec.Containers[0], img: built.Images[0].Image, objs: r.objects}
		}
	}
	t.Fatalf("no %s/%s in the render", kind, name)
	return container{}
}

// upload generates one day of var_es (2000 rows) and puts it under the input bucket, in the
// layout Spark writes (<dataset>/cob_date=<day>/part-*.parquet, _SUCCESS).
func (r *run) upload(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.CommandContext(r.ctx, generate, "--out", dir, "--dataset", "var_es", "--cob-date", day, "--rows", "2000", "--files", "2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
	var n int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		key, _ := filepath.Rel(dir, p)
		n++
		_, err = r.s3.PutObject(r.ctx, &s3.PutObjectInput{Bucket: aws.String(r.inBkt), Key: aws.String(filepath.ToSlash(key)), Body: f})
		return err
	})
	if err != nil || n == 0 {
		t.Fatalf("upload input (%d files): %v", n, err)
	}
}

// published is the row count risk.publications records for var_es on the day (0: none).
func (r *run) published(t *testing.T) int64 {
	t.Helper()
	conn, err := pgx.Connect(r.ctx, r.riskDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(r.ctx)
	var n int64
	err = conn.QueryRow(r.ctx, `SELECT row_count FROM risk.publications WHERE dataset = 'var_es' AND cob_date = $1::date`, day).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// warehouseObjects counts the objects under the warehouse bucket (data and metadata files).
func (r *run) warehouseObjects(t *testing.T) int {
	t.Helper()
	out, err := r.s3.ListObjectsV2(r.ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.whBkt)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Contents)
}

// createDB creates a database on the test PostgreSQL and returns its name.
func createDB(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name = fmt.Sprintf("%s_%d", name, os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return name
}

// dsn is a URL of the test PostgreSQL with a password (ignored: it trusts 127.0.0.1).
func dsn(password, db string) string {
	return fmt.Sprintf("postgres://postgres:%s@%s:%d/%s?sslmode=disable", password, pg.Host, pg.Port, db)
}

// s3Client is the test's own client of the S3 server, trusting the private CA.
func s3Client(t *testing.T) *s3.Client {
	t.Helper()
	cfg, err := pki.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return s3.New(s3.Options{
		Region:       s3srv.Region,
		BaseEndpoint: aws.String(s3srv.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s3srv.AccessKey, s3srv.SecretKey, ""),
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}},
	})
}
