package health

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	applicationpkg "github.com/argoproj/argo-cd/v3/pkg/apiclient/application"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Protocol-level tests of lakeport's gRPC-web connection; the real argocd-server is exercised by
// cli/internal/argoloop's health tests (--grpc-web against the test loop's server).

func webFrame(flag byte, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = flag
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

func TestGRPCWebInvoke(t *testing.T) {
	list := &argov1.ApplicationList{Items: []argov1.Application{{}}}
	list.Items[0].Name = "prod-trino"
	msg, err := list.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		handler  http.HandlerFunc
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "message and trailers", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/application.ApplicationService/List" || r.Header.Get("Content-Type") != "application/grpc-web+proto" || r.Header.Get("token") != "tok" {
				http.Error(w, "bad request "+r.URL.Path, http.StatusBadRequest)
				return
			}
			body, _ := io.ReadAll(r.Body)
			var q applicationpkg.ApplicationQuery
			if len(body) < 5 || q.Unmarshal(body[5:]) != nil || q.GetSelector() != "lakeport.dev/environment=prod" {
				http.Error(w, "bad message", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/grpc-web+proto")
			_, _ = w.Write(webFrame(0, msg))
			_, _ = w.Write(webFrame(0x80, []byte("grpc-status: 0\r\ngrpc-message: \r\n")))
		}, wantCode: codes.OK},
		{name: "error in trailers, message percent-encoded", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(webFrame(0x80, []byte("grpc-status: 7\r\ngrpc-message: permission denied: applications%2C list\r\n")))
		}, wantCode: codes.PermissionDenied, wantMsg: "permission denied: applications, list"},
		{name: "trailers-only in HTTP headers", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Grpc-Status", "16")
			w.Header().Set("Grpc-Message", "invalid session")
		}, wantCode: codes.Unauthenticated, wantMsg: "invalid session"},
		{name: "HTTP refusal from a proxy", handler: func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no", http.StatusForbidden)
		}, wantCode: codes.PermissionDenied, wantMsg: "HTTP 403"},
		{name: "truncated frame", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(webFrame(0, msg)[:8])
		}, wantCode: codes.Unavailable, wantMsg: "read frame"},
		{name: "oversized frame refused before reading it", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte{0, 0xff, 0xff, 0xff, 0xff})
		}, wantCode: codes.ResourceExhausted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			w := newGRPCWebConn(ArgoCDOptions{Server: strings.TrimPrefix(srv.URL, "http://"), AuthToken: "tok", PlainText: true})
			defer w.Close()
			sel := "lakeport.dev/environment=prod"
			got, err := argoApps{w}.List(context.Background(), &applicationpkg.ApplicationQuery{Selector: &sel})
			if status.Code(err) != tc.wantCode {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tc.wantCode)
			}
			if tc.wantCode == codes.OK {
				if len(got.Items) != 1 || got.Items[0].Name != "prod-trino" {
					t.Fatalf("decoded %+v", got.Items)
				}
				return
			}
			if !strings.Contains(status.Convert(err).Message(), tc.wantMsg) {
				t.Fatalf("message %q, want it to contain %q", status.Convert(err).Message(), tc.wantMsg)
			}
		})
	}
}

// The defect this connection replaces: Argo CD's client falls back to gRPC-web with
// NewVersionClientOrDieWithContext when gRPC fails, and a context that ends there calls
// log.Fatalf, exiting the embedding program (this test binary). Here every path returns.
func TestDialArgoCDContextEndsDuringFallback(t *testing.T) {
	// A server that accepts and never answers: gRPC's handshake and gRPC-web's POST both hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, web := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := dialArgoCD(ctx, ArgoCDOptions{Server: ln.Addr().String(), PlainText: true, GRPCWeb: web})
		cancel()
		if err == nil {
			t.Fatalf("grpc-web=%v: connected to a server that never answers", web)
		}
		if !errors.Is(err, context.DeadlineExceeded) && status.Code(errors.Unwrap(err)) != codes.DeadlineExceeded && !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("grpc-web=%v: %v, want the deadline named", web, err)
		}
	}
}
