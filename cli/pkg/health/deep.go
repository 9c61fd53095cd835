package health

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trinodb/trino-go-client/trino"
)

// Components with a deep check.
const (
	ComponentTrino = "trino"
	ComponentMinIO = "minio"
	ComponentSpark = "spark"
)

// DeepResult is one check of a component through its own API.
type DeepResult struct {
	Check    string `json:"check"`
	Endpoint string `json:"endpoint"`
	OK       bool   `json:"ok"`
	Message  string `json:"message"`
}

// DeepTarget is where and what to ask one component.
type DeepTarget struct {
	// Component is trino, minio or spark.
	Component string
	// BaseURL is the component's HTTP endpoint (scheme://host:port, no path). When Client routes
	// through the Kubernetes API's service proxy, the host only names the Service.
	BaseURL string
	// Display is how the endpoint is shown (default BaseURL).
	Display string
	// Client sends the requests (default: a client with a 10s timeout).
	Client *http.Client
	// WantWorkers is the number of workers the values ask for (Trino workers, Spark workers);
	// negative when unknown, in which case at least one is required.
	WantWorkers int
}

// Deep runs the deep check of one component.
func Deep(ctx context.Context, t DeepTarget) DeepResult {
	if t.Client == nil {
		t.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if t.Display == "" {
		t.Display = t.BaseURL
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	switch t.Component {
	case ComponentTrino:
		return deepTrino(ctx, t)
	case ComponentMinIO:
		return deepMinIO(ctx, t)
	case ComponentSpark:
		return deepSpark(ctx, t)
	}
	return DeepResult{Check: t.Component, Endpoint: t.Display, Message: "no deep check for this component"}
}

// HasDeepCheck says whether a component has a deep check.
func HasDeepCheck(component string) bool {
	return component == ComponentTrino || component == ComponentMinIO || component == ComponentSpark
}

// deepTrino counts the active workers in system.runtime.nodes, through Trino's client protocol.
func deepTrino(ctx context.Context, t DeepTarget) DeepResult {
	res := DeepResult{Check: "trino active workers", Endpoint: t.Display}
	u, err := url.Parse(t.BaseURL)
	if err != nil {
		res.Message = err.Error()
		return res
	}
	u.User = url.User("lakeport-health")
	conn, err := trino.NewConnector(&trino.Config{ServerURI: u.String(), Source: "lakeport-health", HTTPClient: t.Client})
	if err != nil {
		res.Message = fmt.Sprintf("trino client: %v", err)
		return res
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var active, total int
	err = db.QueryRowContext(ctx,
		`SELECT count_if(state = 'active'), count(*) FROM system.runtime.nodes WHERE NOT coordinator`).Scan(&active, &total)
	if err != nil {
		res.Message = fmt.Sprintf("query system.runtime.nodes: %v", oneLine(err.Error()))
		return res
	}
	return workersResult(res, active, total, t.WantWorkers, "workers active")
}

// deepMinIO asks MinIO's cluster health endpoint: 200 when the cluster has write quorum.
func deepMinIO(ctx context.Context, t DeepTarget) DeepResult {
	res := DeepResult{Check: "minio cluster health", Endpoint: t.Display}
	code, hdr, body, err := get(ctx, t, "/minio/health/cluster")
	if err != nil {
		res.Message = err.Error()
		return res
	}
	quorum := hdr.Get("X-Minio-Write-Quorum")
	switch code {
	case http.StatusOK:
		res.OK = true
		res.Message = "write quorum"
		if quorum != "" {
			res.Message += " (" + quorum + " drives needed)"
		}
	case http.StatusServiceUnavailable:
		res.Message = "no write quorum (HTTP 503)"
		if quorum != "" {
			res.Message += ": " + quorum + " drives needed"
		}
	default:
		res.Message = fmt.Sprintf("HTTP %d: %s", code, oneLine(body))
	}
	return res
}

// sparkMaster is the part of the Spark standalone master's /json/ document this check reads.
type sparkMaster struct {
	Status       string `json:"status"`
	AliveWorkers *int   `json:"aliveworkers"`
	Workers      []struct {
		State string `json:"state"`
	} `json:"workers"`
}

// deepSpark reads the Spark master's JSON endpoint: its status and alive workers.
func deepSpark(ctx context.Context, t DeepTarget) DeepResult {
	res := DeepResult{Check: "spark alive workers", Endpoint: t.Display}
	code, _, body, err := get(ctx, t, "/json/")
	if err != nil {
		res.Message = err.Error()
		return res
	}
	if code != http.StatusOK {
		res.Message = fmt.Sprintf("HTTP %d: %s", code, oneLine(body))
		return res
	}
	var m sparkMaster
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		res.Message = fmt.Sprintf("decode master state: %v", err)
		return res
	}
	if m.Status != "ALIVE" {
		res.Message = fmt.Sprintf("master is %s, not ALIVE", m.Status)
		return res
	}
	alive := 0
	if m.AliveWorkers != nil {
		alive = *m.AliveWorkers
	} else {
		for _, w := range m.Workers {
			if w.State == "ALIVE" {
				alive++
			}
		}
	}
	return workersResult(res, alive, len(m.Workers), t.WantWorkers, "workers alive")
}

func workersResult(res DeepResult, got, total, want int, what string) DeepResult {
	switch {
	case want < 0:
		res.OK = got > 0
		res.Message = fmt.Sprintf("%d %s (%d registered)", got, what, total)
	default:
		res.OK = got >= want
		res.Message = fmt.Sprintf("%d/%d %s", got, want, what)
		if total != got {
			res.Message += fmt.Sprintf(" (%d registered)", total)
		}
	}
	return res
}

func get(ctx context.Context, t DeepTarget, path string) (int, http.Header, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(t.BaseURL, "/")+path, nil)
	if err != nil {
		return 0, nil, "", err
	}
	resp, err := t.Client.Do(req)
	if err != nil {
		return 0, nil, "", fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, "", fmt.Errorf("GET %s: read: %w", path, err)
	}
	return resp.StatusCode, resp.Header, string(b), nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// ServiceProxyTransport routes every request, whatever its host, to one Service through the
// Kubernetes API's service proxy (/api/v1/namespaces/NS/services/SCHEME:NAME:PORT/proxy/PATH), so
// that deep checks reach components inside the cluster with the kubeconfig's credentials alone.
// Trino's follow-up URLs (nextUri) name the coordinator's own address; they are routed the same way.
type ServiceProxyTransport struct {
	// APIServer is the API server's base URL; Next carries its credentials.
	APIServer string
	Namespace string
	Service   string // scheme:name:port, e.g. http:trino:8080
	Next      http.RoundTripper
}

// RoundTrip rewrites the request to the service proxy and sends it.
func (p *ServiceProxyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	base, err := url.Parse(strings.TrimSuffix(p.APIServer, "/"))
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	path := r.URL.Path
	r.URL.Scheme, r.URL.Host, r.URL.User = base.Scheme, base.Host, nil
	r.URL.Path = base.Path + "/api/v1/namespaces/" + p.Namespace + "/services/" + p.Service + "/proxy" + path
	r.URL.RawPath = ""
	r.Host = ""
	return p.Next.RoundTrip(r)
}
