package health

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	applicationpkg "github.com/argoproj/argo-cd/v3/pkg/apiclient/application"
	versionpkg "github.com/argoproj/argo-cd/v3/pkg/apiclient/version"
	argov1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// This file is lakeport's own connection to the Argo CD API server. Argo CD's client library
// (pkg/apiclient, v3.6.1) cannot be embedded safely: when a plain gRPC call fails it falls back to
// gRPC-web through NewVersionClientOrDieWithContext (apiclient.go), which calls log.Fatalf, so a
// caller's cancelled context exits the whole process; and its gRPC-web mode runs a local proxy
// server whose Serve error goes to errors.CheckError (grpcproxy.go), a log.Fatal again, when the
// proxy is stopped before it started serving. Here a plain gRPC connection is dialled with
// grpc-go, and gRPC-web is spoken directly over HTTP/1.1 (no proxy, no goroutine): every failure
// is an error returned to the caller.

// tokenMetadataKey is the metadata key Argo CD's own client sends the token under
// (apiclient.MetaDataTokenKey; the server also reads "authorization: Bearer").
const tokenMetadataKey = "token"

// argoConn is a client connection to the Argo CD API server: grpc-go's, or gRPC-web's.
type argoConn interface {
	grpc.ClientConnInterface
	io.Closer
}

// dialArgoCD connects as Argo CD's CLI does: gRPC unless gRPC-web is asked for, and gRPC-web
// when gRPC fails (an ingress without HTTP/2) but gRPC-web answers. The server's version call
// proves the connection.
func dialArgoCD(ctx context.Context, o ArgoCDOptions) (argoConn, error) {
	if o.GRPCWeb {
		w := newGRPCWebConn(o)
		if err := pingArgoCD(ctx, w); err != nil {
			return nil, err
		}
		return w, nil
	}
	g, err := newGRPCConn(o)
	if err != nil {
		return nil, err
	}
	gErr := pingArgoCD(ctx, g)
	if gErr == nil {
		return g, nil
	}
	_ = g.Close()
	if ctx.Err() != nil {
		return nil, gErr
	}
	w := newGRPCWebConn(o)
	if err := pingArgoCD(ctx, w); err != nil {
		// The gRPC error is the one that explains a server that is down or refuses the token.
		return nil, gErr
	}
	return w, nil
}

func pingArgoCD(ctx context.Context, cc grpc.ClientConnInterface) error {
	if err := cc.Invoke(ctx, "/version.VersionService/Version", &emptypb.Empty{}, new(versionpkg.VersionMessage)); err != nil {
		return fmt.Errorf("ask the Argo CD API server its version: %w", grpcError(err))
	}
	return nil
}

// argoApps is the part of Argo CD's ApplicationService lakeport calls. Argo CD's generated client
// (pkg/apiclient/application) takes a *grpc.ClientConn, not grpc's ClientConnInterface, so the
// calls are made here, by the same method names and messages.
type argoApps struct{ cc grpc.ClientConnInterface }

func (a argoApps) List(ctx context.Context, q *applicationpkg.ApplicationQuery) (*argov1.ApplicationList, error) {
	out := new(argov1.ApplicationList)
	return out, a.cc.Invoke(ctx, "/application.ApplicationService/List", q, out)
}

func (a argoApps) Get(ctx context.Context, q *applicationpkg.ApplicationQuery) (*argov1.Application, error) {
	out := new(argov1.Application)
	return out, a.cc.Invoke(ctx, "/application.ApplicationService/Get", q, out)
}

func (a argoApps) ResourceTree(ctx context.Context, q *applicationpkg.ResourcesQuery) (*argov1.ApplicationTree, error) {
	out := new(argov1.ApplicationTree)
	return out, a.cc.Invoke(ctx, "/application.ApplicationService/ResourceTree", q, out)
}

// serverAddr defaults the port as Argo CD's client does (443 when none is given).
func (o ArgoCDOptions) serverAddr() string {
	if !strings.Contains(o.Server, ":") {
		return o.Server + ":443"
	}
	return o.Server
}

func (o ArgoCDOptions) tlsConfig() *tls.Config {
	return &tls.Config{InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12} //nolint:gosec // --insecure asks for it
}

// tokenCredentials sends the token with every call.
type tokenCredentials struct {
	token  string
	secure bool
}

func (t tokenCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if t.token == "" {
		return nil, nil
	}
	return map[string]string{tokenMetadataKey: t.token}, nil
}

func (t tokenCredentials) RequireTransportSecurity() bool { return false }

type grpcConn struct{ *grpc.ClientConn }

func newGRPCConn(o ArgoCDOptions) (*grpcConn, error) {
	creds := insecure.NewCredentials()
	if !o.PlainText {
		creds = credentials.NewTLS(o.tlsConfig())
	}
	cc, err := grpc.NewClient(o.serverAddr(),
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(tokenCredentials{token: o.AuthToken}),
		grpc.WithUserAgent("lakeport"),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxArgoMessage)),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to the Argo CD API server at %s: %w", o.Server, err)
	}
	return &grpcConn{cc}, nil
}

// maxArgoMessage is Argo CD's own client limit (apiclient.MaxGRPCMessageSize, 100 MiB): an
// Application list of a fleet is large.
const maxArgoMessage = 100 * 1024 * 1024

// grpcWebConn speaks gRPC-web (application/grpc-web+proto) to argocd-server, which serves it on
// the same port as gRPC and its REST API. Unary calls only: lakeport lists and gets.
type grpcWebConn struct {
	base   string
	token  string
	client *http.Client
}

func newGRPCWebConn(o ArgoCDOptions) *grpcWebConn {
	scheme, tr := "https", http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = o.tlsConfig()
	if o.PlainText {
		scheme = "http"
	}
	return &grpcWebConn{base: scheme + "://" + o.Server, token: o.AuthToken, client: &http.Client{Transport: tr}}
}

func (w *grpcWebConn) Close() error {
	w.client.CloseIdleConnections()
	return nil
}

// NewStream is not offered: lakeport makes unary calls only.
func (w *grpcWebConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "lakeport's gRPC-web connection makes unary calls only")
}

// Invoke makes one unary call: a length-prefixed message frame posted to /<service>/<method>;
// the answer is message frames and a trailer frame (flag 0x80) carrying grpc-status, or, for a
// call that fails before any message, grpc-status in the HTTP headers.
func (w *grpcWebConn) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	codec := encoding.GetCodecV2("proto")
	msg, err := codec.Marshal(args)
	if err != nil {
		return status.Errorf(codes.Internal, "encode %s request: %v", method, err)
	}
	payload := msg.Materialize()
	msg.Free()
	body := make([]byte, 5, 5+len(payload))
	binary.BigEndian.PutUint32(body[1:], uint32(len(payload)))
	body = append(body, payload...)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+method, bytes.NewReader(body))
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "gRPC-web request %s: %v", method, err)
	}
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	req.Header.Set("Accept", "application/grpc-web+proto")
	req.Header.Set("X-Grpc-Web", "1")
	req.Header.Set("User-Agent", "lakeport")
	if w.token != "" {
		req.Header.Set(tokenMetadataKey, w.token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		return status.Errorf(codes.Unavailable, "gRPC-web %s: %v", method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return status.Errorf(httpStatusCode(resp.StatusCode), "gRPC-web %s: HTTP %s", method, resp.Status)
	}
	if err := statusFrom(resp.Header); err != nil {
		return err
	}
	var data []byte
	gotMessage := false
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(resp.Body, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) && gotMessage {
				return unmarshalReply(codec, data, reply) // a server that ends without trailers
			}
			return status.Errorf(codes.Unavailable, "gRPC-web %s: read frame: %v", method, err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > maxArgoMessage {
			return status.Errorf(codes.ResourceExhausted, "gRPC-web %s: a %d-byte frame exceeds %d bytes", method, n, maxArgoMessage)
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, frame); err != nil {
			return status.Errorf(codes.Unavailable, "gRPC-web %s: read frame: %v", method, err)
		}
		if hdr[0]&0x80 == 0 {
			data, gotMessage = frame, true
			continue
		}
		// The trailer block is HTTP/1-style header lines; a blank line ends it for textproto.
		trailers, err := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(frame), strings.NewReader("\r\n")))).ReadMIMEHeader()
		if err != nil && !errors.Is(err, io.EOF) {
			return status.Errorf(codes.Internal, "gRPC-web %s: trailers: %v", method, err)
		}
		if err := statusFrom(http.Header(trailers)); err != nil {
			return err
		}
		if !gotMessage {
			return status.Errorf(codes.Internal, "gRPC-web %s: the server sent no message", method)
		}
		return unmarshalReply(codec, data, reply)
	}
}

func unmarshalReply(codec encoding.CodecV2, data []byte, reply any) error {
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, reply); err != nil {
		return status.Errorf(codes.Internal, "decode reply: %v", err)
	}
	return nil
}

// statusFrom reads grpc-status and grpc-message (percent-encoded, as gRPC sends them).
func statusFrom(h http.Header) error {
	s := h.Get("Grpc-Status")
	if s == "" {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return status.Errorf(codes.Unknown, "gRPC-web: unreadable grpc-status %q", s)
	}
	if codes.Code(n) == codes.OK {
		return nil
	}
	return status.Error(codes.Code(n), decodeGRPCMessage(h.Get("Grpc-Message")))
}

// decodeGRPCMessage undoes gRPC's percent-encoding of grpc-message.
func decodeGRPCMessage(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// httpStatusCode maps an HTTP refusal to the gRPC code gRPC itself uses for it
// (grpc-go's internal/transport HTTPStatusConvTab).
func httpStatusCode(code int) codes.Code {
	switch code {
	case http.StatusBadRequest:
		return codes.Internal
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.Unimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codes.Unavailable
	}
	return codes.Unknown
}
