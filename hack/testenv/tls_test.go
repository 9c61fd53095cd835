package testenv

import (
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestS3TLS: versitygw serves HTTPS with the generated certificate; a client trusts it only
// with the generated CA.
func TestS3TLS(t *testing.T) {
	Tool(t, "versitygw")
	files, err := NewTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartS3With(S3Options{TLS: files})
	NeedServer(t, err)
	t.Cleanup(s.Stop)
	if !strings.HasPrefix(s.Endpoint, "https://127.0.0.1:") {
		t.Fatalf("Endpoint = %s, want https", s.Endpoint)
	}

	// The system's roots do not know the CA.
	_, err = (&http.Client{Timeout: 10 * time.Second}).Get(s.Endpoint + "/")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("GET with the system roots: %v, want x509.UnknownAuthorityError", err)
	}

	cfg, err := files.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	req, err := http.NewRequest(http.MethodPut, s.Endpoint+"/tls-bucket", nil)
	if err != nil {
		t.Fatal(err)
	}
	signV4(req, nil, s.AccessKey, s.SecretKey, s.Region, time.Now())
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("CreateBucket over TLS with the CA: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("CreateBucket over TLS: HTTP %d", resp.StatusCode)
	}
}
