package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/tracing"
	"github.com/lakeport/lakeport/jobs/internal/tracing/otlptest"
)

// TestExportToOTLP: spans reach an OTLP receiver over both protocols, with the standard resource
// attributes from OTEL_* (which win over the defaults), the headers of OTEL_EXPORTER_OTLP_HEADERS
// (how an APM token travels: Dynatrace's "Authorization=Api-Token ..."), the snapshot and Trino
// query ids, an S3 client span under the step that made it, and the trace id in the logs.
func TestExportToOTLP(t *testing.T) {
	rcv, err := otlptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer s3.Close()

	for _, tc := range []struct {
		protocol, endpoint, header string
	}{
		{"http/protobuf", rcv.HTTPURL, "Authorization"},
		{"grpc", "http://" + rcv.GRPCAddr, "authorization"},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", tc.endpoint)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Api-Token%20dt0c01.secret")
			t.Setenv("OTEL_SERVICE_NAME", "risk-distribution")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=dev,k8s.namespace.name=risk-dev")
			before := len(rcv.Spans())
			ctx := context.Background()
			shutdown, err := tracing.Setup(ctx, tracing.Config{}, "1.2.3")
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			log := slog.New(tracing.Handler(slog.NewJSONHandler(&logs, nil)))

			rctx, root := tracing.Start(ctx, "publish var_es", tracing.Dataset.String("var_es"))
			sctx, step := tracing.Start(rctx, "iceberg.write")
			req, _ := http.NewRequestWithContext(sctx, http.MethodPut, s3.URL+"/warehouse/var_es/data/0.parquet", nil)
			resp, err := tracing.S3Client(http.DefaultClient).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			tracing.End(step, nil)
			log.InfoContext(rctx, "published")
			root.SetAttributes(tracing.SnapshotID.Int64(9007199254740993), tracing.TrinoQueryID.String("20261207_081500_00001_abcde"))
			tracing.End(root, nil)
			if err := shutdown(ctx); err != nil {
				t.Fatal(err)
			}

			spans := rcv.Spans()[before:]
			byName := map[string]otlptest.Span{}
			for _, s := range spans {
				byName[s.Name] = s
			}
			r, ok := byName["publish var_es"]
			if !ok {
				t.Fatalf("no root span among %d", len(spans))
			}
			for k, want := range map[string]string{"service.name": "risk-distribution", "service.version": "1.2.3",
				"deployment.environment.name": "dev", "k8s.namespace.name": "risk-dev", "telemetry.sdk.language": "go"} {
				if got := r.Resource[k]; got != want {
					t.Errorf("resource %s = %q, want %q", k, got, want)
				}
			}
			if r.Attr("iceberg.snapshot_id") != "9007199254740993" || r.Attr("trino.query_id") != "20261207_081500_00001_abcde" {
				t.Errorf("root attributes: %v", r.Attributes)
			}
			s3span, ok := byName["s3 PUT"]
			if !ok || !bytes.Equal(s3span.ParentSpanId, byName["iceberg.write"].SpanId) || s3span.Attr("http.response.status_code") != "200" {
				t.Errorf("s3 span: %v (parent %x, step %x)", s3span.Span, s3span.GetParentSpanId(), byName["iceberg.write"].GetSpanId())
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			if line["trace_id"] != hexID(r.TraceId) {
				t.Errorf("log line %v lacks trace_id %s", line, hexID(r.TraceId))
			}
			hs := rcv.Headers()
			if got := hs[len(hs)-1].Get(tc.header); got != "Api-Token dt0c01.secret" {
				t.Errorf("%s header = %q", tc.header, got)
			}
		})
	}
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

func TestDisabledAndBadProtocol(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if (tracing.Config{}).Enabled() {
		t.Error("OTEL_SDK_DISABLED=true: enabled")
	}
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := tracing.Setup(ctx, tracing.Config{}, "v"); err == nil || !strings.Contains(err.Error(), "http/json") {
		t.Errorf("http/json: err = %v", err)
	}
}
