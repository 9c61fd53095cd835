// Package tracing sets up OpenTelemetry tracing for a job run: spans for each publication step,
// carrying the dataset, the cob_date, the run id, the Iceberg snapshot id and the Trino query ids,
// client spans around S3 requests and PostgreSQL statements, exported over OTLP (HTTP/protobuf or
// gRPC) when an endpoint is configured, and the trace and span ids in the logs.
//
// The standard OpenTelemetry environment is honoured, as any OpenTelemetry SDK does:
// OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _PROTOCOL, _HEADERS (e.g. an APM's API token, from a
// Secret), _TIMEOUT, _CERTIFICATE; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (which win over
// the defaults service.name=lakeport-distribution and service.version); OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG; OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of the job's spans.
const Name = "github.com/lakeport/lakeport/jobs"

// ServiceName is the default service.name (OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES win).
const ServiceName = "lakeport-distribution"

// Attribute keys on the job's spans.
const (
	Dataset      = attribute.Key("lakeport.dataset")
	CobDate      = attribute.Key("lakeport.cob_date")
	RunID        = attribute.Key("lakeport.run_id")
	Rows         = attribute.Key("lakeport.rows")
	SnapshotID   = attribute.Key("iceberg.snapshot_id")
	TrinoQueryID = attribute.Key("trino.query_id")
)

// Config says where spans go.
type Config struct {
	// Endpoint is an OTLP base URL (http://collector:4318 for http/protobuf, where /v1/traces is
	// appended when it has no path; http://collector:4317 for grpc). Empty: the OTEL_EXPORTER_OTLP_*
	// environment decides, and without it tracing is off.
	Endpoint string `json:"endpoint,omitempty"`
	// Protocol is http/protobuf (default) or grpc; empty: OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL.
	Protocol string `json:"protocol,omitempty"`
}

// env is os.Getenv; tests replace it through the environment itself (t.Setenv).
func env(k string) string { return os.Getenv(k) }

// Enabled reports whether spans are exported at all.
func (c Config) Enabled() bool {
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") || env("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return c.Endpoint != "" || env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

func (c Config) protocol() (string, error) {
	p := c.Protocol
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p == "" {
			p = env(k)
		}
	}
	switch p {
	case "", "http/protobuf":
		return "http/protobuf", nil
	case "grpc":
		return "grpc", nil
	}
	return "", fmt.Errorf("tracing protocol %q: want http/protobuf or grpc (http/json is not supported)", p)
}

// Setup installs the global tracer provider and returns its shutdown (which flushes the spans).
func Setup(ctx context.Context, cfg Config, version string) (func(context.Context) error, error) {
	if !cfg.Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	proto, err := cfg.protocol()
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	switch proto {
	case "grpc":
		var opts []otlptracegrpc.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		var opts []otlptracehttp.Option
		if cfg.Endpoint != "" {
			u, perr := url.Parse(cfg.Endpoint)
			if perr != nil {
				return nil, fmt.Errorf("tracing endpoint %q: %w", cfg.Endpoint, perr)
			}
			// A base URL, like OTEL_EXPORTER_OTLP_ENDPOINT: the signal's path is appended.
			if u.Path == "" || u.Path == "/" {
				u.Path = "/v1/traces"
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	// Detectors apply in order, later ones winning: the defaults first, then the environment.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", ServiceName), attribute.String("service.version", version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing resource (OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	// The sampler comes from OTEL_TRACES_SAMPLER[_ARG] (the SDK reads them; default parentbased_always_on).
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}

// Start starts a span from the global provider.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return otel.Tracer(Name).Start(ctx, name, trace.WithAttributes(attrs...))
}

// End records err (if any) on the span and ends it.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// LogAttrs are the trace_id and span_id of ctx's span, for a logger's With (none without a span).
func LogAttrs(ctx context.Context) []any {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []any{"trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String()}
}

// Handler wraps a slog.Handler: records logged with a context that carries a span get its
// trace_id and span_id, so that a log line leads to its trace in the APM.
func Handler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(as)}
}
func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }

// Doer is what the AWS SDK sends requests with (aws.HTTPClient).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// S3Client wraps the S3 client's HTTP client: every request becomes a client span "s3 <METHOD>"
// (bucket and key in url.path, the status code), a child of the step that made it.
func S3Client(d Doer) Doer {
	if d == nil {
		d = http.DefaultClient
	}
	return s3Doer{d}
}

type s3Doer struct{ d Doer }

func (s s3Doer) Do(req *http.Request) (*http.Response, error) {
	ctx, span := otel.Tracer(Name).Start(req.Context(), "s3 "+req.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("rpc.system", "aws-api"), attribute.String("rpc.service", "S3"),
			attribute.String("http.request.method", req.Method), attribute.String("server.address", req.URL.Host),
			attribute.String("url.path", req.URL.Path)))
	resp, err := s.d.Do(req.WithContext(ctx))
	if resp != nil {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 500 && err == nil {
			span.SetStatus(codes.Error, resp.Status)
		}
	}
	End(span, err)
	return resp, err
}

// Pgx traces PostgreSQL statements and COPYs as client spans (set it as pgx.ConnConfig.Tracer).
type Pgx struct{}

func dbSpan(ctx context.Context, name, text string) context.Context {
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	ctx, _ = otel.Tracer(Name).Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", text)))
	return ctx
}

// TraceQueryStart implements pgx.QueryTracer.
func (Pgx) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	op, _, _ := strings.Cut(strings.TrimSpace(d.SQL), " ")
	return dbSpan(ctx, "postgres "+strings.ToUpper(op), d.SQL)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (Pgx) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.Int64("db.response.returned_rows", d.CommandTag.RowsAffected()))
	End(span, d.Err)
}

// TraceCopyFromStart implements pgx.CopyFromTracer.
func (Pgx) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceCopyFromStartData) context.Context {
	return dbSpan(ctx, "postgres COPY", "COPY "+d.TableName.Sanitize()+" FROM STDIN")
}

// TraceCopyFromEnd implements pgx.CopyFromTracer.
func (Pgx) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceCopyFromEndData) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.Int64("db.response.returned_rows", d.CommandTag.RowsAffected()))
	End(span, d.Err)
}

// TraceCopyStart starts the span of a COPY sent on the raw pgconn (which pgx's tracers do not see).
func (Pgx) TraceCopyStart(ctx context.Context, sql string) context.Context {
	return dbSpan(ctx, "postgres COPY", sql)
}

// TraceCopyEnd ends the span TraceCopyStart started.
func (Pgx) TraceCopyEnd(ctx context.Context, rows int64, err error) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.Int64("db.response.returned_rows", rows))
	End(span, err)
}
