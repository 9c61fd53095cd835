package health

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// These servers speak the components' protocols (Trino's client REST protocol, MinIO's health
// endpoint, the Spark master's JSON page) at the level the deep checks use them. Trino, MinIO
// and Spark themselves do not run here (JVM images, AGPL); these stand-ins are what is tested.

// fakeTrino answers the statement protocol: POST /v1/statement queues the query, the nextUri
// (an absolute URL on advertise, as a coordinator gives its own address) returns the rows.
type fakeTrino struct {
	active, total int
	advertise     string // base URL put in nextUri ("" = the request's host)

	mu      sync.Mutex
	queries []string
	users   []string
}

func (f *fakeTrino) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base := f.advertise
	if base == "" {
		base = "http://" + r.Host
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/statement":
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.queries = append(f.queries, string(b))
		f.users = append(f.users, r.Header.Get("X-Trino-User"))
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "q1", "infoUri": base + "/ui/query.html?q1", "nextUri": base + "/v1/statement/executing/q1/1",
			"stats": map[string]any{"state": "QUEUED"},
		})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/statement/executing/q1/1":
		col := func(name string) map[string]any {
			return map[string]any{"name": name, "type": "bigint", "typeSignature": map[string]any{"rawType": "bigint", "arguments": []any{}}}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "q1", "infoUri": base + "/ui/query.html?q1",
			"columns": []any{col("_col0"), col("_col1")},
			"data":    [][]any{{f.active, f.total}},
			"stats":   map[string]any{"state": "FINISHED"},
		})
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}
}

func minio(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/minio/health/cluster" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Minio-Write-Quorum", "1")
		w.WriteHeader(code)
	})
}

func spark(doc string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/json/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, doc)
	})
}

const sparkAlive = `{"url":"spark://spark-master-0:7077","workers":[{"id":"w1","state":"ALIVE"},{"id":"w2","state":"ALIVE"},{"id":"w3","state":"DEAD"}],
"aliveworkers":2,"cores":4,"coresused":0,"memory":4096,"memoryused":0,"activeapps":[],"completedapps":[],"activedrivers":[],"completeddrivers":[],"status":"ALIVE"}`

func TestDeep(t *testing.T) {
	tests := []struct {
		name      string
		component string
		handler   http.Handler
		want      int
		ok        bool
		message   string
	}{
		{"trino: every worker active", ComponentTrino, &fakeTrino{active: 2, total: 2}, 2, true, "2/2 workers active"},
		{"trino: a worker short", ComponentTrino, &fakeTrino{active: 1, total: 2}, 2, false, "1/2 workers active (2 registered)"},
		{"trino: no count asked, none active", ComponentTrino, &fakeTrino{}, -1, false, "0 workers active (0 registered)"},
		{"trino: not Trino", ComponentTrino, http.NotFoundHandler(), 1, false, "query system.runtime.nodes"},
		{"minio: write quorum", ComponentMinIO, minio(http.StatusOK), -1, true, "write quorum (1 drives needed)"},
		{"minio: no quorum", ComponentMinIO, minio(http.StatusServiceUnavailable), -1, false, "no write quorum (HTTP 503): 1 drives needed"},
		{"spark: alive workers", ComponentSpark, spark(sparkAlive), 2, true, "2/2 workers alive (3 registered)"},
		{"spark: fewer than the values ask", ComponentSpark, spark(sparkAlive), 3, false, "2/3 workers alive"},
		{"spark: standby master", ComponentSpark, spark(`{"status":"STANDBY","aliveworkers":0,"workers":[]}`), 1, false, "master is STANDBY, not ALIVE"},
		{"spark: not JSON", ComponentSpark, spark(`<html>`), 1, false, "decode master state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			res := Deep(context.Background(), DeepTarget{Component: tc.component, BaseURL: srv.URL, WantWorkers: tc.want})
			if res.OK != tc.ok || !strings.Contains(res.Message, tc.message) {
				t.Errorf("got ok=%v %q, want ok=%v %q", res.OK, res.Message, tc.ok, tc.message)
			}
		})
	}
}

func TestDeepTrinoQuery(t *testing.T) {
	f := &fakeTrino{active: 1, total: 1}
	srv := httptest.NewServer(f)
	defer srv.Close()
	Deep(context.Background(), DeepTarget{Component: ComponentTrino, BaseURL: srv.URL, WantWorkers: 1})
	if len(f.queries) != 1 || !strings.Contains(f.queries[0], "system.runtime.nodes") || !strings.Contains(f.queries[0], "NOT coordinator") {
		t.Errorf("queries %q", f.queries)
	}
	if f.users[0] != "lakeport-health" {
		t.Errorf("user %q", f.users[0])
	}
}

// TestServiceProxyTransport routes a whole Trino conversation through a stand-in for the
// Kubernetes API's service proxy: the first request and the coordinator's absolute nextUri
// (naming the in-cluster Service) both arrive under /api/v1/namespaces/NS/services/.../proxy.
func TestServiceProxyTransport(t *testing.T) {
	const prefix = "/api/v1/namespaces/risk-dev/services/http:trino:8080/proxy"
	f := &fakeTrino{active: 2, total: 2, advertise: "http://trino.risk-dev.svc:8080"}
	var paths []string
	var mu sync.Mutex
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer token" || !strings.HasPrefix(r.URL.Path, prefix+"/") {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		r.URL.Path = strings.TrimPrefix(r.URL.Path, prefix)
		f.ServeHTTP(w, r)
	}))
	defer api.Close()
	client := &http.Client{Transport: &ServiceProxyTransport{
		APIServer: api.URL, Namespace: "risk-dev", Service: "http:trino:8080",
		Next: bearerRT{"token", http.DefaultTransport},
	}}
	res := Deep(context.Background(), DeepTarget{Component: ComponentTrino, BaseURL: "http://trino.risk-dev.svc:8080", Client: client, WantWorkers: 2})
	if !res.OK {
		t.Fatalf("%+v (requests %q)", res, paths)
	}
	want := []string{"POST " + prefix + "/v1/statement", "GET " + prefix + "/v1/statement/executing/q1/1"}
	if strings.Join(paths, "|") != strings.Join(want, "|") {
		t.Errorf("requests %q, want %q", paths, want)
	}
}

type bearerRT struct {
	token string
	next  http.RoundTripper
}

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
