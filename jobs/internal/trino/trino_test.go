package trino

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakeport/lakeport/jobs/internal/config"
	"github.com/lakeport/lakeport/jobs/internal/contract"
)

// coordinator is a fake Trino coordinator speaking the client protocol (POST /v1/statement, then
// GET nextUri until there is none). answer decides each statement's outcome.
type coordinator struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	seq    int
	stmts  []string
	posts  int
	answer func(stmt string, attempt int) (status int, result map[string]any)
}

func newCoordinator(t *testing.T, answer func(stmt string, attempt int) (int, map[string]any)) *coordinator {
	c := &coordinator{t: t, answer: answer}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *coordinator) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/statement":
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.posts++
		attempt := 0
		for _, s := range c.stmts {
			if s == string(body) {
				attempt++
			}
		}
		c.stmts = append(c.stmts, string(body))
		c.seq++
		id := fmt.Sprintf("20260302_220000_%05d_lkprt", c.seq)
		c.mu.Unlock()
		status, result := c.answer(string(body), attempt)
		if status != http.StatusOK {
			http.Error(w, http.StatusText(status), status)
			return
		}
		result["id"] = id
		result["infoUri"] = c.srv.URL + "/ui/query.html?" + id
		// First page: queued, the result follows on nextUri.
		data, _ := json.Marshal(result)
		c.mu.Lock()
		pending[id] = data
		c.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": id, "infoUri": result["infoUri"], "nextUri": c.srv.URL + "/v1/statement/queued/" + id + "/1",
			"stats": map[string]any{"state": "QUEUED"},
		})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/statement/queued/"):
		id := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/statement/queued/"), "/")[0]
		c.mu.Lock()
		data := pending[id]
		c.mu.Unlock()
		_, _ = w.Write(data)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

var pending = map[string][]byte{}

func finished(cols []string, types []string, rows ...[]any) map[string]any {
	var columns []map[string]any
	for i, c := range cols {
		columns = append(columns, map[string]any{"name": c, "type": types[i], "typeSignature": map[string]any{"rawType": types[i], "arguments": []any{}}})
	}
	res := map[string]any{"stats": map[string]any{"state": "FINISHED"}}
	if columns != nil {
		res["columns"] = columns
		res["data"] = rows
	}
	return res
}

func failed(name, typ, msg string) map[string]any {
	return map[string]any{
		"stats": map[string]any{"state": "FAILED"},
		"error": map[string]any{"message": msg, "errorCode": 46, "errorName": name, "errorType": typ, "sqlState": "42S02"},
	}
}

func (c *coordinator) client(t *testing.T, m config.Maintenance) *Client {
	t.Helper()
	cl, err := Open(config.Trino{URL: strings.Replace(c.srv.URL, "http://", "http://lakeport@", 1), Maintenance: m, Timeout: "30s"}, "risk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

var cob = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func varES(t *testing.T) *contract.Contract {
	c, err := contract.Load("var_es")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(string, int) (int, map[string]any)
		want    int64
		wantErr []string
		posts   int
	}{
		{
			name: "count matches",
			answer: func(string, int) (int, map[string]any) {
				return 200, finished([]string{"_col0"}, []string{"bigint"}, []any{20000})
			},
			want: 20000, posts: 1,
		},
		{
			name: "count differs",
			answer: func(string, int) (int, map[string]any) {
				return 200, finished([]string{"_col0"}, []string{"bigint"}, []any{19999})
			},
			want: 20000, posts: 1,
			wantErr: []string{"counts 19999 rows for 2026-03-02 in snapshot 8954597067493422955, 20000 were published", "20260302_220000_00001_lkprt"},
		},
		{
			// The table's current snapshot moved on after the commit (another publication of the
			// same date, or a re-run): only the committed snapshot proves what this run published.
			// The old statement, without FOR VERSION AS OF, counted the current snapshot's 31000.
			name:   "the current snapshot moved on: the committed one is counted",
			answer: snapshotCounts(map[string]int{"": 31000, "8954597067493422955": 20000}),
			want:   20000, posts: 1,
		},
		{
			name: "query fails",
			answer: func(string, int) (int, map[string]any) {
				return 200, failed("TABLE_NOT_FOUND", "USER_ERROR", "Table 'iceberg.risk.var_es' does not exist")
			},
			want: 1, posts: 1,
			wantErr: []string{"TABLE_NOT_FOUND", "does not exist"},
		},
		{
			name: "coordinator busy, then answers",
			answer: func(_ string, attempt int) (int, map[string]any) {
				if attempt < 2 {
					return http.StatusServiceUnavailable, nil
				}
				return 200, finished([]string{"_col0"}, []string{"bigint"}, []any{5})
			},
			want: 5, posts: 3,
		},
		{
			name:   "unauthorised",
			answer: func(string, int) (int, map[string]any) { return http.StatusUnauthorized, nil },
			want:   5, posts: 1,
			wantErr: []string{"401"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			co := newCoordinator(t, tt.answer)
			qid, err := co.client(t, config.Maintenance{}).Verify(context.Background(), varES(t), cob, committed, tt.want)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(qid, "_lkprt") {
					t.Errorf("query id %q", qid)
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
			}
			if co.posts != tt.posts {
				t.Errorf("%d POSTs, want %d", co.posts, tt.posts)
			}
			if want := `SELECT count(*) FROM "iceberg"."risk"."var_es" FOR VERSION AS OF 8954597067493422955 WHERE "cob_date" = DATE '2026-03-02'`; co.stmts[0] != want {
				t.Errorf("statement %q", co.stmts[0])
			}
		})
	}
}

// committed is the snapshot id the publication committed.
const committed int64 = 8954597067493422955

var versionAsOf = regexp.MustCompile(`FOR VERSION AS OF (\d+)`)

// snapshotCounts answers a count with the rows of the snapshot the statement names ("" = the
// table's current snapshot, when it names none), as Trino's Iceberg time travel does.
func snapshotCounts(rows map[string]int) func(string, int) (int, map[string]any) {
	return func(stmt string, _ int) (int, map[string]any) {
		id := ""
		if m := versionAsOf.FindStringSubmatch(stmt); m != nil {
			id = m[1]
		}
		n, ok := rows[id]
		if !ok {
			return 200, failed("INVALID_ARGUMENT", "USER_ERROR", "Iceberg snapshot ID does not exists: "+id)
		}
		return 200, finished([]string{"_col0"}, []string{"bigint"}, []any{n})
	}
}

func TestMaintain(t *testing.T) {
	co := newCoordinator(t, func(stmt string, _ int) (int, map[string]any) {
		if strings.Contains(stmt, "optimize_manifests") {
			return 200, failed("NOT_SUPPORTED", "USER_ERROR", "optimize_manifests is not supported")
		}
		return 200, finished(nil, nil)
	})
	cl := co.client(t, config.Maintenance{Optimize: true, OptimizeManifests: true})
	err := cl.Maintain(context.Background(), varES(t), cob)
	if err == nil || !strings.Contains(err.Error(), "optimize_manifests is not supported") {
		t.Fatalf("err = %v", err)
	}
	// No expire_snapshots nor remove_orphan_files: those are the job's own, under the lock.
	want := []string{
		`ALTER TABLE "iceberg"."risk"."var_es" EXECUTE optimize(file_size_threshold => '128MB') WHERE "cob_date" >= DATE '2026-03-02'`,
		`ALTER TABLE "iceberg"."risk"."var_es" EXECUTE optimize_manifests`,
	}
	if strings.Join(co.stmts, "\n") != strings.Join(want, "\n") {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(co.stmts, "\n"), strings.Join(want, "\n"))
	}
}

// TestRealTrino runs only against a real Trino (TRINO_URL, e.g. http://user@localhost:8080).
// With LAKEPORT_TRINO_COB_DATE, LAKEPORT_TRINO_SNAPSHOT and LAKEPORT_TRINO_ROWS it also verifies a
// published var_es date at its snapshot.
func TestRealTrino(t *testing.T) {
	url := os.Getenv("TRINO_URL")
	if url == "" {
		t.Skip("TRINO_URL is not set: no real Trino to test against")
	}
	cl, err := Open(config.Trino{URL: url, Catalog: os.Getenv("LAKEPORT_TRINO_CATALOG")}, "risk")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rows, qid, err := cl.Query(context.Background(), "SHOW CATALOGS")
	if err != nil {
		t.Fatal(err)
	}
	if qid == "" || len(rows) == 0 {
		t.Fatalf("SHOW CATALOGS: %v (query %q)", rows, qid)
	}
	if d := os.Getenv("LAKEPORT_TRINO_COB_DATE"); d != "" {
		day, err := time.Parse(time.DateOnly, d)
		if err != nil {
			t.Fatal(err)
		}
		var n, snap int64
		fmt.Sscan(os.Getenv("LAKEPORT_TRINO_ROWS"), &n)
		fmt.Sscan(os.Getenv("LAKEPORT_TRINO_SNAPSHOT"), &snap)
		if _, err := cl.Verify(context.Background(), varES(t), day, snap, n); err != nil {
			t.Fatal(err)
		}
	}
}
