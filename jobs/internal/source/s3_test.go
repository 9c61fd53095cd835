package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/hack/testenv"
	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/generate"
	"github.com/lakeport/lakeport/jobs/internal/objstore"
	"github.com/lakeport/lakeport/jobs/internal/rowhash"
)

// counting counts the response bytes of the S3 GETs per object key.
type counting struct {
	mu    sync.Mutex
	bytes map[string]int64
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || req.URL.Query().Has("list-type") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	c.mu.Lock()
	c.bytes[req.URL.Path] += int64(len(body))
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, err
}

func (c *counting) of(key string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for p, b := range c.bytes {
		if strings.HasSuffix(p, "/"+key) {
			n += b
		}
	}
	return n
}

// keyDigest is the digest of the key columns of every row a reader yields, per file.
func keyDigest(t *testing.T, rdr *Reader, c *contract.Contract) map[string]string {
	t.Helper()
	out := map[string]*rowhash.Digest{}
	full := c.KeyIndexes()
	only := make([]int, len(full))
	for i := range only {
		only[i] = i
	}
	for rdr.Next() {
		rec := rdr.RecordBatch()
		file, _ := rdr.Position()
		idx := full
		if rdr.KeysOnlyBatch() {
			idx = only
			if !rec.Schema().Equal(KeySchema(c)) {
				t.Fatalf("%s: key-only batch of schema %v", file, rec.Schema())
			}
		}
		h := make([]uint64, rec.NumRows())
		for i := range h {
			h[i] = rowhash.Start()
		}
		for _, k := range idx {
			if err := rowhash.ArrowColumn(rec.Column(k), h); err != nil {
				t.Fatal(err)
			}
		}
		d := out[file]
		if d == nil {
			d = &rowhash.Digest{}
			out[file] = d
		}
		for _, x := range h {
			d.Add(rowhash.Finish(x))
		}
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	res := map[string]string{}
	for f, d := range out {
		res[f] = d.String()
	}
	return res
}

// TestForeignS3FilesAreReadByRange, on versitygw: a sharded worker's Open downloads and checksums
// only the files it owns; it reads the key columns of the others with ranged GETs (far fewer
// bytes than the files), the keys it reads are those of a full read, and an object replaced
// after the listing fails the read (If-Match) instead of mixing two versions.
func TestForeignS3FilesAreReadByRange(t *testing.T) {
	srv, err := testenv.StartS3()
	testenv.NeedServer(t, err)
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	c, err := contract.Load("frtb_sensitivities")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := generate.WriteDate(ctx, dir, generate.Options{Contract: c, CobDate: cob, Rows: 60000, Files: 3, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	cfg := objstore.S3{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey}
	plain, err := cfg.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("spark")}); err != nil {
		t.Fatal(err)
	}
	local := generate.DateDir(dir, c.Name, cob)
	entries, err := os.ReadDir(local)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("results/%s/cob_date=%s/", c.Name, cob.Format(DateLayout))
	sums := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(local, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(data)
		sums[e.Name()] = hex.EncodeToString(s[:])
		if _, err := plain.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("spark"), Key: aws.String(prefix + e.Name()), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	count := &counting{bytes: map[string]int64{}}
	cfg.HTTPClient = &http.Client{Transport: count}
	in, err := Open(ctx, Options{URI: "s3://spark/results", S3: cfg, WorkDir: t.TempDir(), Foreign: func(j int) bool { return j != 0 }}, c.Name, cob)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if len(in.Files) != 3 || in.Rows() != 60000 {
		t.Fatalf("input: %d files, %d rows", len(in.Files), in.Rows())
	}
	for j, f := range in.Files {
		switch {
		case j == 0 && (f.Foreign || f.Path == "" || f.SHA256 != sums[f.Name]):
			t.Errorf("own file %s: %+v, want downloaded with sha256 %s", f.Name, f, sums[f.Name])
		case j > 0 && (!f.Foreign || f.Path != "" || f.SHA256 != ""):
			t.Errorf("foreign file %s: %+v, want neither downloaded nor checksummed", f.Name, f)
		}
	}
	if problems, err := in.CheckSchema(ctx, c); err != nil || len(problems) > 0 {
		t.Fatalf("schema of the foreign files: %v %v", problems, err)
	}
	foreign := func(name string) bool { return name != in.Files[0].Name }
	got := keyDigest(t, in.Records(ctx, c, 4096).KeysOnly(foreign), c)

	// The same keys from a full local read.
	want := keyDigest(t, func() *Reader {
		all, err := Open(ctx, Options{URI: dir}, c.Name, cob)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = all.Close() })
		return all.Records(ctx, c, 4096)
	}(), c)
	if len(got) != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("keys read by range %v, by a full read %v", got, want)
	}
	for _, f := range in.Files[1:] {
		n := count.of(f.Name)
		t.Logf("%s: %d of %d bytes fetched (%.0f%%)", f.Name, n, f.Size, 100*float64(n)/float64(f.Size))
		if n == 0 || n > f.Size*3/4 {
			t.Errorf("%s: %d bytes fetched of %d: want only the key columns' chunks and the footer", f.Name, n, f.Size)
		}
	}
	if err := in.SetChecksums(map[string]string{in.Files[1].Name: sums[in.Files[1].Name]}); err == nil || !strings.Contains(err.Error(), in.Files[2].Name) {
		t.Errorf("a file without a checksum: %v", err)
	}
	if err := in.SetChecksums(sums); err != nil || in.Files[2].SHA256 != sums[in.Files[2].Name] {
		t.Errorf("completing the checksums: %v", err)
	}

	// Replaced after the listing: the ranged read refuses the new version.
	again, err := Open(ctx, Options{URI: "s3://spark/results", S3: cfg, WorkDir: t.TempDir(), Foreign: func(j int) bool { return j != 0 }}, c.Name, cob)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	other, err := os.ReadFile(filepath.Join(local, in.Files[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("spark"), Key: aws.String(prefix + in.Files[2].Name), Body: bytes.NewReader(other)}); err != nil {
		t.Fatal(err)
	}
	rdr := again.Records(ctx, c, 4096).KeysOnly(foreign)
	for rdr.Next() {
	}
	if err := rdr.Err(); err == nil || !strings.Contains(err.Error(), in.Files[2].Name) {
		t.Errorf("a foreign file replaced after the listing: %v, want a failed read naming it", err)
	}
	rdr.Release()
}
