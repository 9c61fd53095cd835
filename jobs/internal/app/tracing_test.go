package app

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// fakeTrino answers every query with one bigint: count.
func fakeTrino(t *testing.T, count int) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			fmt.Fprintf(w, `{"id":"20260302_220000_00042_lkprt","infoUri":"%[1]s/ui","nextUri":"%[1]s/v1/statement/queued/q/1","stats":{"state":"QUEUED"}}`, srv.URL)
			return
		}
		fmt.Fprintf(w, `{"id":"20260302_220000_00042_lkprt","columns":[{"name":"_col0","type":"bigint","typeSignature":{"rawType":"bigint","arguments":[]}}],"data":[[%d]],"stats":{"state":"FINISHED"}}`, count)
	}))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "http://", "http://lakeport@", 1)
}

func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf("input: {uri: %[1]s/input}\niceberg:\n  catalog: {name: lakeport, uri: %[1]s/catalog.db}\n  warehouse: %[1]s/warehouse\ndatabase: {driver: none}\n%s", dir, extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTracesCarrySnapshotAndTrinoQueryID(t *testing.T) {
	prev := otel.GetTracerProvider()
	defer otel.SetTracerProvider(prev)
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))

	dir := t.TempDir()
	genInput(t, dir, "var_es", cob, 1000)
	path := writeConfig(t, dir, fmt.Sprintf("trino: {url: %q}\n", fakeTrino(t, 1000)))
	if code, out, errs := run(t, "publish", "--config", path, "--dataset", "var_es", "--cob-date", "2026-03-02"); code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	spans := map[string]map[string]string{}
	for _, s := range rec.Ended() {
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		spans[s.Name()] = attrs
	}
	for _, name := range []string{"publish var_es", "input", "validate", "iceberg.write", "iceberg.commit", "trino.verify"} {
		if _, ok := spans[name]; !ok {
			t.Errorf("no span %q (have %v)", name, spans)
		}
	}
	root := spans["publish var_es"]
	if root["iceberg.snapshot_id"] == "" || root["trino.query_id"] != "20260302_220000_00042_lkprt" || root["lakeport.cob_date"] != "2026-03-02" {
		t.Errorf("root span attributes %v", root)
	}
	if spans["iceberg.commit"]["iceberg.snapshot_id"] != root["iceberg.snapshot_id"] {
		t.Errorf("commit span %v", spans["iceberg.commit"])
	}
}

func TestTracesExportedOverOTLP(t *testing.T) {
	prev := otel.GetTracerProvider()
	defer otel.SetTracerProvider(prev)
	var mu sync.Mutex
	var names []string
	collectorSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collector.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collectorSrv.Close()

	dir := t.TempDir()
	genInput(t, dir, "drc", cob, 500)
	path := writeConfig(t, dir, fmt.Sprintf("tracing: {endpoint: %q}\n", collectorSrv.URL))
	if code, out, errs := run(t, "publish", "--config", path, "--dataset", "drc", "--cob-date", "2026-03-02"); code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(names, ","), "publish drc") || !strings.Contains(strings.Join(names, ","), "iceberg.commit") {
		t.Fatalf("collector received spans %v", names)
	}
}
