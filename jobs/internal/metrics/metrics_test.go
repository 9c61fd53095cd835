package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPushAndTextfile(t *testing.T) {
	m := New()
	m.Rows.WithLabelValues("var_es", "iceberg").Set(1000)
	m.Runs.WithLabelValues("var_es", "success").Inc()
	var method, path, body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		method, path, body = r.Method, r.URL.Path, string(b)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	if err := m.Push(context.Background(), srv.URL, "var_es"); err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPost || path != "/metrics/job/lakeport_distribution/publication/var_es" || !strings.Contains(body, "lakeport_distribution_rows") {
		t.Errorf("push: %s %s (%d bytes)", method, path, len(body))
	}
	f := filepath.Join(t.TempDir(), "distribution.prom")
	if err := m.WriteTextfile(f); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `lakeport_distribution_runs_total{dataset="var_es",outcome="success"} 1`) {
		t.Errorf("textfile:\n%s", data)
	}
}

func TestPushFailureIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer srv.Close()
	if err := New().Push(context.Background(), srv.URL, "drc"); err == nil || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("err = %v", err)
	}
}
