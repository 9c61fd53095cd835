package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
)

// TLSFiles is a private CA that no system trusts and a serving certificate signed by it, valid
// for 127.0.0.1, ::1 and localhost, as PEM files. Clients trust the server only when they are
// given CAFile (or CAPEM).
type TLSFiles struct {
	// CAFile is the CA certificate (ca.crt); CAPEM is its content.
	CAFile string
	CAPEM  []byte
	// CertFile and KeyFile are the server's certificate and key (serving.crt, serving.key).
	CertFile, KeyFile string
}

// NewTLSFiles generates a fresh CA and serving certificate into dir (which must exist).
func NewTLSFiles(dir string) (*TLSFiles, error) {
	pki, err := writeServingPKI(dir)
	if err != nil {
		return nil, fmt.Errorf("test PKI: %w", err)
	}
	return &TLSFiles{
		CAFile:   filepath.Join(dir, "ca.crt"),
		CAPEM:    pki.caPEM,
		CertFile: filepath.Join(dir, "serving.crt"),
		KeyFile:  filepath.Join(dir, "serving.key"),
	}, nil
}

// ClientConfig is a TLS client configuration that trusts only the CA.
func (f *TLSFiles) ClientConfig() (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(f.CAPEM) {
		return nil, errors.New("test PKI: CA certificate does not parse")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
