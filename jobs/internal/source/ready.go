package source

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Ready reports whether the input of dataset for cob is complete: its folder holds Spark's
// _SUCCESS marker (written by the output committer once the job's files are all in place). It
// reads one object's metadata, nothing else, so a pipeline can poll it cheaply before Open. A
// missing marker is (false, nil); an error means the store could not be asked.
func Ready(ctx context.Context, o Options, dataset string, cob time.Time) (bool, error) {
	u, err := url.Parse(o.URI)
	if err != nil {
		return false, fmt.Errorf("input uri %q: %w", o.URI, err)
	}
	rel := path.Join(dataset, "cob_date="+cob.Format(DateLayout), "_SUCCESS")
	switch u.Scheme {
	case "", "file":
		root := o.URI
		if u.Scheme == "file" {
			root = u.Path
		}
		_, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	case "s3", "s3a":
		client, err := o.S3.Client(ctx)
		if err != nil {
			return false, err
		}
		key := path.Join(strings.TrimPrefix(u.Path, "/"), rel)
		_, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(u.Host), Key: aws.String(key)})
		var nf *types.NotFound
		var nk *types.NoSuchKey
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &nf), errors.As(err, &nk):
			return false, nil
		}
		return false, fmt.Errorf("head s3://%s/%s: %w", u.Host, key, err)
	}
	return false, fmt.Errorf("input uri %q: unsupported scheme %q", o.URI, u.Scheme)
}
