// Package otlptest is a small OTLP trace receiver for tests, built on the OTLP protobuf
// definitions (go.opentelemetry.io/proto/otlp), not on the Collector: it accepts
// ExportTraceServiceRequest over HTTP (POST /v1/traces, application/x-protobuf) and gRPC, and keeps
// every span with its resource and the request headers.
package otlptest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Span is one received span with its resource's attributes.
type Span struct {
	*tracepb.Span
	Resource map[string]string
}

// Attr returns a span attribute as a string ("" when absent).
func (s Span) Attr(key string) string { return attrs(s.Attributes)[key] }

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			out[kv.Key] = itoa(v.IntValue)
		default:
			out[kv.Key] = kv.GetValue().String()
		}
	}
	return out
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// Receiver collects spans. Start one with Start; Close stops both servers.
type Receiver struct {
	// HTTPURL is the OTLP/HTTP base URL (http://127.0.0.1:port); GRPCAddr the gRPC host:port.
	HTTPURL, GRPCAddr string

	mu      sync.Mutex
	spans   []Span
	headers []http.Header
	http    *httptest.Server
	grpc    *grpc.Server
	coltracepb.UnimplementedTraceServiceServer
}

// Start starts the receiver on 127.0.0.1.
func Start() (*Receiver, error) {
	r := &Receiver{}
	r.http = httptest.NewServer(http.HandlerFunc(r.serveHTTP))
	r.HTTPURL = r.http.URL
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.http.Close()
		return nil, err
	}
	r.GRPCAddr = l.Addr().String()
	r.grpc = grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(r.grpc, r)
	go func() { _ = r.grpc.Serve(l) }()
	return r, nil
}

// Close stops the servers.
func (r *Receiver) Close() {
	r.http.Close()
	r.grpc.Stop()
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.NotFound(w, req)
		return
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.add(&msg, req.Header.Clone())
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// Export implements the OTLP gRPC trace service.
func (r *Receiver) Export(ctx context.Context, msg *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	h := http.Header{}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for k, vs := range md {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
	}
	r.add(msg, h)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *Receiver) add(msg *coltracepb.ExportTraceServiceRequest, h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = append(r.headers, h)
	for _, rs := range msg.ResourceSpans {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, Span{Span: s, Resource: res})
			}
		}
	}
}

// Spans returns what was received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Headers returns the headers (HTTP) or metadata (gRPC) of every export request so far.
func (r *Receiver) Headers() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.headers...)
}
