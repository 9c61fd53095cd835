// Package source finds and reads the Parquet input of one dataset and close-of-business date,
// from a local folder or from S3, laid out as Spark writes it
// (<root>/<dataset>/cob_date=YYYY-MM-DD/part-*.parquet plus a _SUCCESS marker).
//
// S3 input is downloaded once into a local working folder (checksummed on the way), because the
// job reads it several times: validation, Iceberg write and relational load stream the same files.
// A sharded worker downloads (and checksums) only the files it owns: it reads the others' key
// columns only, with ranged GETs of their column chunks (Options.Foreign).
package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/jobs/internal/objstore"
)

// DateLayout is the layout of cob_date in folder names.
const DateLayout = "2006-01-02"

// ErrIncomplete means the input folder has no _SUCCESS marker: the producing Spark job has not
// finished (or failed), and publishing it would publish a partial day.
var ErrIncomplete = errors.New("input incomplete: no _SUCCESS marker")

// ErrNoInput means the input folder does not exist or holds no Parquet file.
var ErrNoInput = errors.New("no input")

// File is one Parquet input file.
type File struct {
	Name   string `json:"name"` // relative to the date folder
	Path   string `json:"-"`    // local path
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Rows   int64  `json:"rows"`
	// ETag is the S3 object's entity tag (S3 input only): ranged reads of a foreign file are
	// conditional on it, so a file replaced meanwhile fails the read instead of mixing versions.
	ETag string `json:"etag,omitempty"`
	// ModTime is the local file's modification time (local input only), part of Listing.
	ModTime time.Time `json:"-"`
	// Foreign says that another shard owns the file: it is neither downloaded nor checksummed
	// here (SHA256 is empty until SetChecksums).
	Foreign bool `json:"-"`

	remote *remoteFile // a foreign S3 file, read by ranged GETs
}

// Input is the located, checksummed input of one dataset and date.
type Input struct {
	Dataset string
	CobDate time.Time
	URI     string
	Files   []File
	cleanup func() error
}

// Rows is the row count from the Parquet footers.
func (in *Input) Rows() int64 {
	var n int64
	for _, f := range in.Files {
		n += f.Rows
	}
	return n
}

// Bytes is the total size of the input files.
func (in *Input) Bytes() int64 {
	var n int64
	for _, f := range in.Files {
		n += f.Size
	}
	return n
}

// Checksum is the SHA-256 of the sorted "name sha256" lines of the input files: it names the exact
// input a publication was made from. With foreign files (Options.Foreign) it is only complete
// after SetChecksums.
func (in *Input) Checksum() string {
	h := sha256.New()
	for _, f := range in.Files {
		fmt.Fprintf(h, "%s %s\n", f.Name, f.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Listing is the SHA-256 of the sorted "name size etag-or-mtime" lines: what every worker of a
// sharded publication sees of the input without reading it, so that the coordinator can check
// that they all read the same files.
func (in *Input) Listing() string {
	h := sha256.New()
	for _, f := range in.Files {
		id := f.ETag
		if id == "" {
			id = f.ModTime.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(h, "%s %d %s\n", f.Name, f.Size, id)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Checksums maps the name of every file checksummed here (not foreign) to its SHA-256.
func (in *Input) Checksums() map[string]string {
	out := map[string]string{}
	for _, f := range in.Files {
		if f.SHA256 != "" {
			out[f.Name] = f.SHA256
		}
	}
	return out
}

// SetChecksums completes the checksums of the foreign files with those their owners computed;
// it fails when a file has no checksum, or another one than computed here.
func (in *Input) SetChecksums(sums map[string]string) error {
	var missing []string
	for i := range in.Files {
		f := &in.Files[i]
		s, ok := sums[f.Name]
		switch {
		case ok && f.SHA256 != "" && s != f.SHA256:
			return fmt.Errorf("input %s: sha256 %s here, %s by its owner: the input changed during the publication", f.Name, f.SHA256, s)
		case ok:
			f.SHA256 = s
		case f.SHA256 == "":
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("input files %v: no checksum (no shard owns them)", missing)
	}
	return nil
}

// FileChecksums lists "name=sha256" per file, ';'-separated, or "" when that would exceed max bytes.
func (in *Input) FileChecksums(max int) string {
	var b strings.Builder
	for i, f := range in.Files {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(f.Name + "=" + f.SHA256)
		if b.Len() > max {
			return ""
		}
	}
	return b.String()
}

// Shard returns shard i of k of the input for a sharded publish: file j (the files are sorted by
// name) belongs to shard j mod k. The shard shares the files (closing it removes nothing) and
// Owns tells whether a file name is the shard's.
func (in *Input) Shard(i, k int) (*Input, func(name string) bool, error) {
	if k < 1 || i < 0 || i >= k {
		return nil, nil, fmt.Errorf("shard %d of %d: want 0 <= index < count", i, k)
	}
	out := &Input{Dataset: in.Dataset, CobDate: in.CobDate, URI: in.URI}
	own := map[string]bool{}
	for j, f := range in.Files {
		if ShardOwns(j, i, k) {
			out.Files = append(out.Files, f)
			own[f.Name] = true
		}
	}
	return out, func(name string) bool { return own[name] }, nil
}

// Close removes downloaded copies.
func (in *Input) Close() error {
	if in.cleanup != nil {
		return in.cleanup()
	}
	return nil
}

// Options locate the input.
type Options struct {
	// URI is the input root: a local folder, file:///folder or s3://bucket/prefix.
	URI string
	S3  objstore.S3
	// WorkDir receives downloaded S3 objects (default: a temporary folder).
	WorkDir string
	// AllowIncomplete accepts a folder without a _SUCCESS marker.
	AllowIncomplete bool
	// Foreign, when set, names the files (by their index in name order) that another shard owns:
	// they are neither downloaded nor checksummed, and only read through column projection
	// (Reader.KeysOnly), by ranged GETs on S3.
	Foreign func(index int) bool
}

// ShardOwns reports whether shard i of k owns the file at index j (files in name order):
// file j belongs to shard j mod k.
func ShardOwns(j, i, k int) bool { return j%k == i }

// Open locates, (downloads) and checksums the input of dataset for cob.
func Open(ctx context.Context, o Options, dataset string, cob time.Time) (*Input, error) {
	u, err := url.Parse(o.URI)
	if err != nil {
		return nil, fmt.Errorf("input uri %q: %w", o.URI, err)
	}
	rel := path.Join(dataset, "cob_date="+cob.Format(DateLayout))
	var in *Input
	switch u.Scheme {
	case "", "file":
		root := o.URI
		if u.Scheme == "file" {
			root = u.Path
		}
		in, err = openLocal(filepath.Join(root, filepath.FromSlash(rel)), o.AllowIncomplete)
		if err == nil && o.Foreign != nil {
			for i := range in.Files {
				in.Files[i].Foreign = o.Foreign(i)
			}
		}
	case "s3", "s3a":
		in, err = openS3(ctx, o, u.Host, path.Join(strings.TrimPrefix(u.Path, "/"), rel))
	default:
		return nil, fmt.Errorf("input uri %q: unsupported scheme %q", o.URI, u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	in.Dataset, in.CobDate, in.URI = dataset, cob, strings.TrimSuffix(o.URI, "/")+"/"+rel
	for i := range in.Files {
		if err := ctx.Err(); err != nil {
			_ = in.Close()
			return nil, err
		}
		f := &in.Files[i]
		if f.SHA256 == "" && !f.Foreign {
			if f.SHA256, err = sha256File(f.Path); err != nil {
				_ = in.Close()
				return nil, err
			}
		}
		if f.Rows, err = in.footerRows(ctx, *f); err != nil {
			_ = in.Close()
			return nil, fmt.Errorf("input %s: %w", f.Name, err)
		}
	}
	return in, nil
}

func isData(name string) bool {
	return !strings.HasPrefix(name, "_") && !strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".parquet")
}

func openLocal(dir string, allowIncomplete bool) (*Input, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrNoInput, dir)
		}
		return nil, err
	}
	in := &Input{}
	success := false
	for _, e := range entries {
		if e.Name() == "_SUCCESS" {
			success = true
		}
		if e.IsDir() || !isData(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		in.Files = append(in.Files, File{Name: e.Name(), Path: filepath.Join(dir, e.Name()), Size: info.Size(), ModTime: info.ModTime()})
	}
	if !success && !allowIncomplete {
		return nil, fmt.Errorf("%w in %s", ErrIncomplete, dir)
	}
	if len(in.Files) == 0 {
		return nil, fmt.Errorf("%w: no Parquet file in %s", ErrNoInput, dir)
	}
	sort.Slice(in.Files, func(i, j int) bool { return in.Files[i].Name < in.Files[j].Name })
	return in, nil
}

func openS3(ctx context.Context, o Options, bucket, prefix string) (*Input, error) {
	client, err := o.S3.Client(ctx)
	if err != nil {
		return nil, err
	}
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	var keys []s3Object
	success := false
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, obj := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(obj.Key), prefix)
			if name == "_SUCCESS" {
				success = true
			}
			if strings.Contains(name, "/") || !isData(name) {
				continue
			}
			keys = append(keys, s3Object{key: aws.ToString(obj.Key), name: name, size: aws.ToInt64(obj.Size), etag: aws.ToString(obj.ETag)})
		}
	}
	if !success && !o.AllowIncomplete {
		return nil, fmt.Errorf("%w in s3://%s/%s", ErrIncomplete, bucket, prefix)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no Parquet file in s3://%s/%s", ErrNoInput, bucket, prefix)
	}
	// A folder of its own per Open, removed by Close: two datasets (or dates) may well have
	// identically named part files.
	if o.WorkDir != "" {
		if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
			return nil, err
		}
	}
	work, err := os.MkdirTemp(o.WorkDir, "lakeport-input-")
	if err != nil {
		return nil, err
	}
	in := &Input{cleanup: func() error { return os.RemoveAll(work) }}
	sort.Slice(keys, func(i, j int) bool { return keys[i].name < keys[j].name })
	for i, k := range keys {
		if o.Foreign != nil && o.Foreign(i) {
			in.Files = append(in.Files, File{Name: k.name, Size: k.size, ETag: k.etag, Foreign: true,
				remote: &remoteFile{client: client, bucket: bucket, key: k.key, etag: k.etag, size: k.size}})
			continue
		}
		local := filepath.Join(work, k.name)
		sum, err := download(ctx, client, bucket, k, local)
		if err != nil {
			_ = in.Close()
			return nil, err
		}
		in.Files = append(in.Files, File{Name: k.name, Path: local, Size: k.size, SHA256: sum, ETag: k.etag})
	}
	return in, nil
}

type s3Object struct {
	key, name, etag string
	size            int64
}

func download(ctx context.Context, client *s3.Client, bucket string, obj s3Object, local string) (string, error) {
	key := obj.key
	get := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if obj.etag != "" {
		get.IfMatch = aws.String(obj.etag) // the version listed (and compared across shards)
	}
	out, err := client.GetObject(ctx, get)
	if err != nil {
		return "", fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	f, err := os.Create(local)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), out.Body); err != nil {
		_ = f.Close()
		return "", fmt.Errorf("download s3://%s/%s: %w", bucket, key, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksum %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (in *Input) footerRows(ctx context.Context, f File) (int64, error) {
	r, err := in.openParquet(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("open parquet: %w", err)
	}
	defer r.Close()
	return r.NumRows(), nil
}
