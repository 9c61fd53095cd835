package source

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// openParquet opens an input file: the local copy, or a foreign S3 file through ranged GETs.
//
// arrow-go v18.8.0 reads a file through its io.ReaderAt: the footer (parquet/file/file_reader.go,
// parseMetaData: one read of the tail, a second when the footer is larger) and, with the default
// ReaderProperties (BufferedStreamEnabled false), each column chunk it is asked for with one ReadAt
// of the whole chunk (parquet/reader_properties.go, GetStream). A key-only read of a foreign file
// therefore costs two small GETs plus one GET per key column and row group, and never transfers
// the other columns.
func (in *Input) openParquet(ctx context.Context, f File) (*file.Reader, error) {
	if f.remote == nil {
		return file.OpenParquetFile(f.Path, false)
	}
	return file.NewParquetReader(&rangeReader{ctx: ctx, f: f.remote})
}

// remoteFile is an S3 object read in ranges, each GET conditional on the listed ETag.
type remoteFile struct {
	client            *s3.Client
	bucket, key, etag string
	size              int64
}

// rangeReader is the parquet.ReaderAtSeeker of a remoteFile.
type rangeReader struct {
	ctx context.Context
	f   *remoteFile
	pos int64
}

// ReadAt reads len(p) bytes at off with one ranged GET.
func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("s3://%s/%s: negative offset %d", r.f.bucket, r.f.key, off)
	}
	if off >= r.f.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.f.size-off)
	if want == 0 {
		return 0, nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(r.f.bucket), Key: aws.String(r.f.key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+want-1))}
	if r.f.etag != "" {
		in.IfMatch = aws.String(r.f.etag)
	}
	out, err := r.f.client.GetObject(r.ctx, in)
	if err != nil {
		return 0, fmt.Errorf("get s3://%s/%s bytes %d-%d: %w", r.f.bucket, r.f.key, off, off+want-1, err)
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, p[:want])
	if err != nil {
		return n, fmt.Errorf("read s3://%s/%s bytes %d-%d: %w", r.f.bucket, r.f.key, off, off+want-1, err)
	}
	if int64(len(p)) > want {
		return n, io.EOF
	}
	return n, nil
}

// Seek implements io.Seeker (the Parquet reader asks for the size with Seek(0, io.SeekEnd)).
func (r *rangeReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.f.size
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	r.pos = offset
	return offset, nil
}
