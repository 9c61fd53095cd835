// Package tracing sets up OpenTelemetry tracing for a job run: spans for each publication step,
// carrying the dataset, the cob_date, the run id, the Iceberg snapshot id and the Trino query ids,
// exported over OTLP/HTTP when an endpoint is configured (or OTEL_EXPORTER_OTLP_* is set).
package tracing

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of the job's spans.
const Name = "github.com/lakeport/lakeport/jobs"

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
	// Endpoint is an OTLP/HTTP base URL (http://collector:4318; /v1/traces is appended when it has
	// no path). Empty: the OTEL_EXPORTER_OTLP_*
	// environment decides, and without it tracing is off.
	Endpoint string `json:"endpoint,omitempty"`
}

// Setup installs the global tracer provider and returns its shutdown (which flushes the spans).
func Setup(ctx context.Context, cfg Config, version string) (func(context.Context) error, error) {
	if cfg.Endpoint == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return func(context.Context) error { return nil }, nil
	}
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", cfg.Endpoint, err)
		}
		// A base URL, like OTEL_EXPORTER_OTLP_ENDPOINT: the signal's path is appended.
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", "lakeport-distribution"), attribute.String("service.version", version)))
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
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
