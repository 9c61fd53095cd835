package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"sigs.k8s.io/yaml"

	"github.com/lakeport/lakeport/hack/testenv"
	"github.com/lakeport/lakeport/jobs/internal/app"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
	"github.com/lakeport/lakeport/jobs/internal/objstore"
	"github.com/lakeport/lakeport/jobs/internal/tracing/otlptest"
)

const repoRoot = "../../.."

// distributionRules renders the distribution chart's PrometheusRule for dev with the real helm
// binary and writes its groups as a rule file. The schedule runs every day and the deadline is
// 00:00 UTC, so that "late" does not depend on the day the test runs; every `for:` is 0s (the
// promtool tests in charts/observability cover the durations).
func distributionRules(t *testing.T, dir string) string {
	t.Helper()
	helm := testenv.Tool(t, "helm")
	out, err := exec.Command(helm, "template", "distribution", filepath.Join(repoRoot, "charts/distribution"),
		"--namespace", "risk-dev", "-f", filepath.Join(repoRoot, "environments/dev/distribution.yaml"),
		"--api-versions", "monitoring.coreos.com/v1", "--set", "alerts.enabled=true",
		"--set", "schedule.schedule=0 6 * * *", "--set", "alerts.deadlineHourUTC=0",
		"--show-only", "templates/prometheusrule.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	var pr struct {
		Spec struct {
			Groups []map[string]any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(out, &pr); err != nil {
		t.Fatal(err)
	}
	for _, g := range pr.Spec.Groups {
		for _, r := range g["rules"].([]any) {
			if rm := r.(map[string]any); rm["for"] != nil {
				rm["for"] = "0s"
			}
		}
	}
	b, err := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "distribution.rules.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type promClient struct{ url string }

func (p promClient) get(t *testing.T, path string, q url.Values, v any) {
	t.Helper()
	resp, err := http.Get(p.url + path + "?" + q.Encode()) //nolint:noctx // local test server
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Status != "success" {
		t.Fatalf("GET %s %v: %v %s", path, q, err, b)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatal(err)
	}
}

// firing returns "alertname/dataset[/outcome]" of the firing alerts of namespace risk-dev's
// datasets, sorted.
func (p promClient) firing(t *testing.T) []string {
	var d struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	p.get(t, "/api/v1/alerts", nil, &d)
	var out []string
	for _, a := range d.Alerts {
		if a.State == "firing" {
			s := a.Labels["alertname"] + "/" + a.Labels["dataset"]
			if o := a.Labels["outcome"]; o != "" {
				s += "/" + o
			}
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// waitFiring waits until the firing alerts are exactly want.
func (p promClient) waitFiring(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(60 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		if got = p.firing(t); slices.Equal(got, want) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("firing alerts: %q, want %q", got, want)
}

// TestAlertsEndToEnd: the distribution job publishes days against real PostgreSQL and S3 and
// pushes its metrics to a real Pushgateway; a real Prometheus scrapes it and evaluates the
// distribution chart's rules. A contract violation, a dataset never published, a late cob_date
// and a failed run fire their alerts; publishing the days resolves them. Meanwhile every
// expression of every panel of the distribution dashboard returns at least one series.
func TestAlertsEndToEnd(t *testing.T) {
	pgw, err := testenv.StartPushgateway()
	testenv.NeedServer(t, err)
	defer pgw.Stop()
	pgs, err := testenv.StartPostgres()
	testenv.NeedServer(t, err)
	defer pgs.Stop()
	s3srv, err := testenv.StartS3()
	testenv.NeedServer(t, err)
	defer s3srv.Stop()
	rules := distributionRules(t, t.TempDir())
	prom, err := testenv.StartPrometheus(testenv.PrometheusOptions{Targets: []string{pgw.Addr}, RuleFiles: []string{rules}})
	testenv.NeedServer(t, err)
	defer prom.Stop()
	p := promClient{prom.URL}
	ctx := context.Background()
	// The runs' traces go to an OTLP receiver, configured the way the chart configures them.
	rcv, err := otlptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.HTTPURL)
	t.Setenv("OTEL_SERVICE_NAME", "lakeport-distribution")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "k8s.namespace.name=risk-dev")

	// Buckets and a database.
	store := objstore.S3{Endpoint: s3srv.Endpoint, Region: s3srv.Region, AccessKeyID: s3srv.AccessKey, SecretAccessKey: s3srv.SecretKey}
	client, err := store.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"results", "warehouse"} {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, pgs.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE e2e"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	dsn := strings.Replace(pgs.DSN, "/"+pgs.Database+"?", "/e2e?", 1)

	upload := func(name string, cob time.Time, faults ...generate.Fault) {
		t.Helper()
		c, err := contract.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := generate.WriteDate(ctx, t.TempDir(), generate.Options{Contract: c, CobDate: cob, Rows: 500, Files: 1, Seed: 7, Faults: faults})
		if err != nil {
			t.Fatal(err)
		}
		prefix := fmt.Sprintf("%s/cob_date=%s/", name, cob.Format(time.DateOnly))
		list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("results"), Prefix: aws.String(prefix)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Contents {
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("results"), Key: o.Key}); err != nil {
				t.Fatal(err)
			}
		}
		entries, _ := os.ReadDir(res.Dir)
		for _, f := range entries {
			data, err := os.ReadFile(filepath.Join(res.Dir, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("results"), Key: aws.String(prefix + f.Name()), Body: bytes.NewReader(data)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := fmt.Sprintf(`
input:
  uri: s3://results/
  s3: {endpoint: %[1]q, region: %[2]s, accessKeyId: %[3]q, secretAccessKey: %[4]q}
iceberg:
  catalog: {type: sql, name: lakeport, uri: %[5]q}
  warehouse: s3://warehouse/
  namespace: risk
  s3: {endpoint: %[1]q, region: %[2]s, accessKeyId: %[3]q, secretAccessKey: %[4]q}
database: {driver: postgres, dsn: %[5]q}
metrics:
  pushgateway: %[6]s
  labels: {namespace: risk-dev}
workDir: %[7]s
`, s3srv.Endpoint, s3srv.Region, s3srv.AccessKey, s3srv.SecretKey, dsn, pgw.URL, t.TempDir())
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(wantCode int, args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := app.Main(ctx, append(args, "--config", cfgPath), &out, &errb); code != wantCode {
			t.Fatalf("distribution %v: exit %d, want %d\n%s\n%s", args, code, wantCode, out.String(), errb.String())
		}
	}
	run(app.ExitOK, "migrate")

	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday, old := today.AddDate(0, 0, -1), today.AddDate(0, 0, -5)
	day := func(d time.Time) string { return d.Format(time.DateOnly) }

	// Day one: var_es publishes yesterday; drc's input violates its contract (drc was never
	// published: missing); frtb_sensitivities publishes a date five days old (late).
	upload("var_es", yesterday)
	run(app.ExitOK, "publish", "--dataset", "var_es", "--cob-date", day(yesterday))
	t.Run("traces", func(t *testing.T) { publicationTraced(t, rcv.Spans()) })
	upload("drc", yesterday, generate.FaultNullKey)
	run(app.ExitContractViolation, "publish", "--dataset", "drc", "--cob-date", day(yesterday))
	upload("frtb_sensitivities", old)
	run(app.ExitOK, "publish", "--dataset", "frtb_sensitivities", "--cob-date", day(old))
	p.waitFiring(t, "LakeportContractViolation/drc", "LakeportPublicationMissing/drc", "LakeportPublicationLate/frtb_sensitivities")

	// Every panel of the distribution dashboard shows data now.
	t.Run("dashboard", func(t *testing.T) { dashboardReturnsData(t, p) })

	// frtb_sensitivities' run for yesterday finds no input: a failed run.
	run(app.ExitInputNotReady, "publish", "--dataset", "frtb_sensitivities", "--cob-date", day(yesterday))
	p.waitFiring(t, "LakeportContractViolation/drc", "LakeportPublicationMissing/drc",
		"LakeportPublicationLate/frtb_sensitivities", "LakeportPublicationFailed/frtb_sensitivities/input_not_ready")

	// The inputs arrive, corrected: both publish yesterday and every alert resolves.
	upload("drc", yesterday)
	run(app.ExitOK, "publish", "--dataset", "drc", "--cob-date", day(yesterday))
	upload("frtb_sensitivities", yesterday)
	run(app.ExitOK, "publish", "--dataset", "frtb_sensitivities", "--cob-date", day(yesterday))
	p.waitFiring(t)
}

// dashboardReturnsData runs every expression of every panel of the distribution dashboard
// against Prometheus and requires at least one series.
func dashboardReturnsData(t *testing.T, p promClient) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "charts/distribution/files/dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$namespace", "risk-dev", "$__rate_interval", "5m")
	n := 0
	for _, panel := range d.Panels {
		for _, tg := range panel.Targets {
			n++
			expr := vars.Replace(tg.Expr)
			var res struct {
				Result []json.RawMessage `json:"result"`
			}
			p.get(t, "/api/v1/query", url.Values{"query": {expr}}, &res)
			if len(res.Result) == 0 {
				t.Errorf("panel %q: %s returns no series", panel.Title, expr)
			}
		}
	}
	if n == 0 {
		t.Fatal("the dashboard has no expressions")
	}
	t.Logf("%d panel expressions returned data", n)
}

// publicationTraced: the real publication of var_es is one trace whose root carries the Iceberg
// snapshot id, with client spans for its S3 requests and PostgreSQL statements (COPY included)
// under the steps that made them, and the standard resource attributes.
func publicationTraced(t *testing.T, spans []otlptest.Span) {
	var root *otlptest.Span
	for i, s := range spans {
		if s.Name == "publish var_es" {
			root = &spans[i]
		}
	}
	if root == nil {
		t.Fatalf("no span \"publish var_es\" among %d", len(spans))
	}
	if root.Resource["service.name"] != "lakeport-distribution" || root.Resource["k8s.namespace.name"] != "risk-dev" {
		t.Errorf("resource: %v", root.Resource)
	}
	if root.Attr("iceberg.snapshot_id") == "" || root.Attr("lakeport.cob_date") == "" {
		t.Errorf("root attributes: %v", root.Attributes)
	}
	counts := map[string]int{}
	for _, s := range spans {
		if !bytes.Equal(s.TraceId, root.TraceId) {
			continue
		}
		switch {
		case strings.HasPrefix(s.Name, "s3 "):
			counts["s3"]++
		case s.Name == "postgres COPY":
			counts["copy"]++
		case strings.HasPrefix(s.Name, "postgres "):
			counts["postgres"]++
		case s.Name == "iceberg.commit":
			counts["commit"]++
		}
	}
	for _, k := range []string{"s3", "copy", "postgres", "commit"} {
		if counts[k] == 0 {
			t.Errorf("no %s span in the publication's trace (%v)", k, counts)
		}
	}
	t.Logf("publication trace: %v spans by kind, %d spans received", counts, len(spans))
}
