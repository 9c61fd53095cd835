package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// S3Region is the region StartS3's gateway reports and expects in
// signatures.
const S3Region = "us-east-1"

// S3 is a running S3 API (versitygw's posix backend over a temp folder).
// Stop it when done.
//
// What works: path-style addressing (set UsePathStyle / force-path-style in
// clients), SigV4 including streaming (chunked) payload signatures, and the
// usual bucket and object calls — CreateBucket, ListBuckets, Put/Get/Head/
// DeleteObject, ListObjectsV2, multipart uploads, CopyObject. The root keys
// are the single account; create buckets with CreateBucket through any S3
// client (a bucket is a folder under Dir/data). Virtual-host-style
// addressing and IAM users are not set up; TLS is with StartS3With.
type S3 struct {
	// Endpoint is the http URL, e.g. http://127.0.0.1:40123 (https with S3Options.TLS).
	Endpoint string
	// AccessKey and SecretKey are the root account's credentials.
	AccessKey, SecretKey string
	// Region is S3Region.
	Region string
	// Dir holds the data (data/, one folder per bucket), any metadata
	// sidecar and versitygw.log; Stop removes it.
	Dir string

	g *group
}

// S3Options are the optional settings of StartS3With.
type S3Options struct {
	// TLS, when set, makes versitygw serve HTTPS with TLS.CertFile and
	// TLS.KeyFile (its --cert and --key); Endpoint is then https://. Clients
	// must trust TLS.CAFile.
	TLS *TLSFiles
}

// StartS3 starts versitygw on 127.0.0.1 and a free port over a fresh temp
// folder, with generated root keys, and waits until it answers.
func StartS3() (*S3, error) {
	return StartS3With(S3Options{})
}

// StartS3With is StartS3 with options (HTTPS).
func StartS3With(o S3Options) (*S3, error) {
	bin, err := LookupTool("versitygw")
	if err != nil {
		return nil, err
	}
	dir, err := mkTempDir("", "lakeport-s3-")
	if err != nil {
		return nil, err
	}
	s := &S3{
		Dir:       dir,
		AccessKey: "LP" + randomHex(9),
		SecretKey: randomHex(20),
		Region:    S3Region,
		g:         &group{dir: dir},
	}
	if err := s.start(bin, o); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start s3: %w", err)
	}
	return s, nil
}

// Stop ends versitygw and removes Dir. It is safe to call more than once.
func (s *S3) Stop() {
	if s != nil && s.g != nil {
		s.g.stop()
	}
}

func (s *S3) start(bin string, o S3Options) error {
	data := filepath.Join(s.Dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("make data dir: %w", err)
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	s.Endpoint = "http://" + hostPort(ports[0])
	args := []string{
		"--port", hostPort(ports[0]),
		"--region", s.Region,
		"--health", "/lakeport-health",
	}
	c := &http.Client{Timeout: 5 * time.Second}
	if o.TLS != nil {
		s.Endpoint = "https://" + hostPort(ports[0])
		args = append(args, "--cert", o.TLS.CertFile, "--key", o.TLS.KeyFile)
		cfg, err := o.TLS.ClientConfig()
		if err != nil {
			return err
		}
		c.Transport = &http.Transport{TLSClientConfig: cfg}
	}
	args = append(args, "posix")
	// The posix backend keeps object metadata in extended attributes; where
	// the filesystem has none (some tmpfs and overlay setups), a sidecar
	// folder holds it instead.
	if !xattrSupported(data) {
		side := filepath.Join(s.Dir, "meta")
		if err := os.MkdirAll(side, 0o755); err != nil {
			return fmt.Errorf("make sidecar dir: %w", err)
		}
		args = append(args, "--sidecar", side)
	}
	args = append(args, data)
	p, err := startProc(procSpec{
		name: "versitygw", path: bin, args: args, dir: s.Dir,
		logPath: filepath.Join(s.Dir, "versitygw.log"),
		// Keys go through the environment, not argv (visible in ps).
		env: []string{"ROOT_ACCESS_KEY=" + s.AccessKey, "ROOT_SECRET_KEY=" + s.SecretKey},
	})
	if err != nil {
		return err
	}
	s.g.add(p)
	return waitFor(p, "versitygw health", time.Minute, func(ctx context.Context) error {
		return getOK(ctx, c, s.Endpoint+"/lakeport-health", "")
	})
}

// xattrSupported reports whether dir's filesystem takes user extended
// attributes.
func xattrSupported(dir string) bool {
	probe := filepath.Join(dir, ".xattr-probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		return false
	}
	defer os.Remove(probe)
	return syscall.Setxattr(probe, "user.lakeport", []byte("1"), 0) == nil
}
