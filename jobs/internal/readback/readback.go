// Package readback reads an Iceberg table back without iceberg-go: it parses the table metadata
// JSON itself, decodes the manifest list and the manifests (Avro object container files, with
// twmb/avro's generic decoder), and reads every live data file with a second Parquet library,
// github.com/parquet-go/parquet-go (not arrow-go, which iceberg-go writes with). It recomputes the
// content checksum (rowhash) per cob_date, so tests can prove that what iceberg-go wrote is exactly
// what the job read from the input.
package readback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"
	"github.com/twmb/avro/ocf"

	"github.com/lakeport/lakeport/jobs/internal/contract"
	"github.com/lakeport/lakeport/jobs/internal/rowhash"
)

// Store fetches whole objects by location (file:// or s3://).
type Store struct {
	S3 *s3.Client
}

// Get returns the object's bytes.
func (s Store) Get(ctx context.Context, location string) ([]byte, error) {
	u, err := url.Parse(location)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "file", "":
		return os.ReadFile(u.Path)
	case "s3", "s3a":
		if s.S3 == nil {
			return nil, errors.New("readback: s3 location without an s3 client")
		}
		out, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(u.Host), Key: aws.String(strings.TrimPrefix(u.Path, "/"))})
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", location, err)
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
	return nil, fmt.Errorf("readback: unsupported location %s", location)
}

// DataFile is a live data file of the current snapshot.
type DataFile struct {
	Path        string
	RecordCount int64
	CobDate     time.Time
}

// Table is what was read back.
type Table struct {
	SnapshotID int64
	Summary    map[string]string
	Files      []DataFile
	// Digests per cob_date (YYYY-MM-DD), computed from the Parquet rows.
	Digests map[string]rowhash.Digest
}

type metadata struct {
	CurrentSnapshotID *int64 `json:"current-snapshot-id"`
	Snapshots         []struct {
		SnapshotID   int64             `json:"snapshot-id"`
		ManifestList string            `json:"manifest-list"`
		Summary      map[string]string `json:"summary"`
	} `json:"snapshots"`
}

// Read reads the table whose current metadata file is metadataLocation.
func Read(ctx context.Context, st Store, metadataLocation string, c *contract.Contract) (*Table, error) {
	return ReadSnapshot(ctx, st, metadataLocation, c, 0)
}

// ReadSnapshot reads snapshot snapshotID of the table (0: the current snapshot): a tagged
// publication read back as a regulator would ask for it.
func ReadSnapshot(ctx context.Context, st Store, metadataLocation string, c *contract.Contract, snapshotID int64) (*Table, error) {
	raw, err := st.Get(ctx, metadataLocation)
	if err != nil {
		return nil, err
	}
	var md metadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, fmt.Errorf("metadata %s: %w", metadataLocation, err)
	}
	out := &Table{Digests: map[string]rowhash.Digest{}}
	if md.CurrentSnapshotID == nil {
		return out, nil
	}
	out.SnapshotID = *md.CurrentSnapshotID
	if snapshotID != 0 {
		out.SnapshotID = snapshotID
	}
	var manifestList string
	for _, s := range md.Snapshots {
		if s.SnapshotID == out.SnapshotID {
			manifestList, out.Summary = s.ManifestList, s.Summary
		}
	}
	if manifestList == "" {
		return nil, fmt.Errorf("snapshot %d not in metadata", out.SnapshotID)
	}
	manifests, err := avroRecords(ctx, st, manifestList)
	if err != nil {
		return nil, err
	}
	for _, m := range manifests {
		if content, _ := asInt(m["content"]); content != 0 {
			return nil, fmt.Errorf("manifest %v holds deletes: not expected from copy-on-write overwrites", m["manifest_path"])
		}
		path, _ := m["manifest_path"].(string)
		entries, err := avroRecords(ctx, st, path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if status, _ := asInt(e["status"]); status == 2 { // DELETED
				continue
			}
			df, ok := e["data_file"].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("manifest %s: entry without data_file", path)
			}
			f := DataFile{Path: fmt.Sprint(df["file_path"])}
			f.RecordCount, _ = asInt(df["record_count"])
			part, _ := df["partition"].(map[string]any)
			days, ok := asInt(part[c.PartitionBy])
			if !ok {
				return nil, fmt.Errorf("data file %s: no %s partition value in %v", f.Path, c.PartitionBy, part)
			}
			f.CobDate = time.Unix(days*86400, 0).UTC()
			out.Files = append(out.Files, f)
		}
	}
	for _, f := range out.Files {
		d, err := parquetDigest(ctx, st, f.Path, c)
		if err != nil {
			return nil, err
		}
		if d.Rows != f.RecordCount {
			return nil, fmt.Errorf("%s: manifest says %d rows, file has %d", f.Path, f.RecordCount, d.Rows)
		}
		key := f.CobDate.Format(time.DateOnly)
		sum := out.Digests[key]
		sum.Merge(d)
		out.Digests[key] = sum
	}
	return out, nil
}

// asInt reads an Avro long/int (possibly inside a ["null", T] union) as int64.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case int:
		return int64(x), true
	case float64:
		return int64(x), true
	case time.Time: // Avro date logical type
		return x.UTC().Unix() / 86400, true
	case map[string]any: // union branch wrapper
		for _, inner := range x {
			return asInt(inner)
		}
	}
	return 0, false
}

func avroRecords(ctx context.Context, st Store, location string) ([]map[string]any, error) {
	raw, err := st.Get(ctx, location)
	if err != nil {
		return nil, err
	}
	r, err := ocf.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("avro %s: %w", location, err)
	}
	defer r.Close()
	var out []map[string]any
	for {
		var rec map[string]any
		err := r.Decode(&rec)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("avro %s: %w", location, err)
		}
		out = append(out, rec)
	}
}

// parquetDigest reads a Parquet file with parquet-go and hashes its rows in contract column order.
func parquetDigest(ctx context.Context, st Store, location string, c *contract.Contract) (rowhash.Digest, error) {
	var d rowhash.Digest
	raw, err := st.Get(ctx, location)
	if err != nil {
		return d, err
	}
	f, err := parquet.OpenFile(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return d, fmt.Errorf("parquet %s: %w", location, err)
	}
	leaf := map[string]int{}
	for i, p := range f.Schema().Columns() {
		leaf[strings.Join(p, ".")] = i
	}
	idx := make([]int, len(c.Columns))
	for i, col := range c.Columns {
		j, ok := leaf[col.Name]
		if !ok {
			return d, fmt.Errorf("parquet %s: no column %s", location, col.Name)
		}
		idx[i] = j
	}
	buf := make([]parquet.Row, 1024)
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				byCol := make([]parquet.Value, len(leaf))
				for _, v := range row {
					byCol[v.Column()] = v
				}
				h := rowhash.Start()
				for i, col := range c.Columns {
					h = rowhash.Combine(h, hashValue(col.Type, byCol[idx[i]]))
				}
				d.Add(rowhash.Finish(h))
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = rows.Close()
				return d, fmt.Errorf("parquet %s: %w", location, err)
			}
		}
		_ = rows.Close()
	}
	return d, nil
}

func hashValue(t contract.Type, v parquet.Value) uint64 {
	if v.IsNull() {
		return rowhash.Null()
	}
	switch t {
	case contract.String:
		return rowhash.Bytes(v.ByteArray())
	case contract.Int32, contract.Date:
		return rowhash.Int(int64(v.Int32()))
	case contract.Int64, contract.Timestamp:
		return rowhash.Int(v.Int64())
	case contract.Float64:
		return rowhash.Float(v.Double())
	case contract.Bool:
		return rowhash.Bool(v.Boolean())
	}
	return 0
}
