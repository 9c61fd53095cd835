package publock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3 takes leases: one object per key, created with a conditional PUT (If-None-Match: *), so
// exactly one of two concurrent creators succeeds. The holder renews it with If-Match on its own
// ETag before it expires; a lease found expired is taken over with If-Match on the ETag that was
// read, so two publishers racing for a dead holder's lease cannot both win. Conditional writes:
// AWS S3 since 2024-08 (PutObject If-None-Match) and 2024-11 (If-Match); versitygw v1.8.0
// (backend/common.go EvaluateObjectPutPreconditions, with a per-key flock around the check).
type S3 struct {
	Client *s3.Client
	Bucket string
	Prefix string // folder of the lease objects, e.g. "warehouse/_lakeport/locks"
	// TTL is how long a lease lives without renewal (default 60 s); it is renewed every TTL/3.
	TTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Close implements Locker.
func (s *S3) Close() error { return nil }

// lease is the body of a lease object.
type lease struct {
	Key     string    `json:"key"`
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

type s3Lock struct {
	s     *S3
	label string // what the lease names: "dataset/date" or "dataset/maintenance"
	obj   string
	owner string
	mu    sync.Mutex
	etag  string
	lost  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	lerr  error
}

func (s *S3) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *S3) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return 60 * time.Second
}

func (s *S3) object(key Key) string {
	return strings.TrimSuffix(s.Prefix, "/") + "/" + key.Dataset + "/" + key.CobDate.Format(time.DateOnly) + ".lease"
}

func (s *S3) body(label, owner string) []byte {
	b, _ := json.Marshal(lease{Key: label, Owner: owner, Expires: s.now().Add(s.ttl()).UTC()})
	return b
}

// put writes the lease with one condition: ifNoneMatch ("*") or ifMatch (an ETag).
func (s *S3) put(ctx context.Context, obj string, body []byte, ifNoneMatch, ifMatch string) (string, error) {
	in := &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(obj), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json")}
	if ifNoneMatch != "" {
		in.IfNoneMatch = aws.String(ifNoneMatch)
	}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := s.Client.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// preconditionFailed reports a lost conditional write: 412, or 409 ConditionalRequestConflict (AWS
// answers that to concurrent conditional writes of one key), or NoSuchKey for If-Match on a lease
// deleted meanwhile.
func preconditionFailed(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey":
			return true
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode() == http.StatusPreconditionFailed || re.HTTPStatusCode() == http.StatusConflict
	}
	return false
}

// TryAcquire implements Locker: the date's lease, then a look at the dataset's maintenance lease.
// Publication and maintenance each write their own lease first and look for the other's second;
// with S3's read-after-write consistency at least one of two racing sides sees the other and
// backs off, so they never both proceed.
func (s *S3) TryAcquire(ctx context.Context, key Key, owner string) (Lock, error) {
	lk, err := s.acquire(ctx, s.object(key), key, key.String(), owner)
	if err != nil {
		return nil, err
	}
	mobj := s.maintenanceObject(key.Dataset)
	if cur, live, err := s.live(ctx, mobj); err != nil || live {
		_ = lk.Release(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
		return nil, &BusyError{Key: key, Maintenance: true,
			Holder: fmt.Sprintf("lease s3://%s/%s held by run %s until %s", s.Bucket, mobj, cur.Owner, cur.Expires.Format(time.RFC3339))}
	}
	return lk, nil
}

// TryAcquireMaintenance implements Locker: the dataset's maintenance lease, then a look for live
// leases of any date of the dataset.
func (s *S3) TryAcquireMaintenance(ctx context.Context, dataset, owner string) (Lock, error) {
	mobj := s.maintenanceObject(dataset)
	key := Key{Dataset: dataset}
	lk, err := s.acquire(ctx, mobj, key, dataset+"/maintenance", owner)
	if err != nil {
		var b *BusyError
		if errors.As(err, &b) {
			b.Maintenance = true
		}
		return nil, err
	}
	prefix := strings.TrimSuffix(s.Prefix, "/") + "/" + dataset + "/"
	pages := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			_ = lk.Release(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("maintenance lock %s: list s3://%s/%s: %w", dataset, s.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			obj := aws.ToString(o.Key)
			if obj == mobj || !strings.HasSuffix(obj, ".lease") {
				continue
			}
			cur, live, err := s.live(ctx, obj)
			if err != nil || live {
				_ = lk.Release(context.WithoutCancel(ctx))
				if err != nil {
					return nil, fmt.Errorf("maintenance lock %s: %w", dataset, err)
				}
				return nil, &BusyError{Key: key, Maintenance: true,
					Holder: fmt.Sprintf("publication lease s3://%s/%s held by run %s until %s", s.Bucket, obj, cur.Owner, cur.Expires.Format(time.RFC3339))}
			}
		}
	}
	return lk, nil
}

// maintenanceObject is the dataset's maintenance lease (beside the dates' leases, which are
// named YYYY-MM-DD.lease).
func (s *S3) maintenanceObject(dataset string) string {
	return strings.TrimSuffix(s.Prefix, "/") + "/" + dataset + "/_maintenance.lease"
}

// live reads a lease: live is false when it does not exist or has expired.
func (s *S3) live(ctx context.Context, obj string) (lease, bool, error) {
	got, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(obj)})
	if err != nil {
		var nk *types.NoSuchKey
		if errors.As(err, &nk) || preconditionFailed(err) {
			return lease{}, false, nil
		}
		return lease{}, false, fmt.Errorf("read lease s3://%s/%s: %w", s.Bucket, obj, err)
	}
	data, err := io.ReadAll(got.Body)
	_ = got.Body.Close()
	if err != nil {
		return lease{}, false, fmt.Errorf("read lease s3://%s/%s: %w", s.Bucket, obj, err)
	}
	var cur lease
	if err := json.Unmarshal(data, &cur); err != nil {
		return lease{}, false, fmt.Errorf("lease s3://%s/%s is not a lease (%w): remove it by hand", s.Bucket, obj, err)
	}
	return cur, s.now().Before(cur.Expires), nil
}

// acquire creates (or takes over, once expired) the lease object obj.
func (s *S3) acquire(ctx context.Context, obj string, key Key, label, owner string) (*s3Lock, error) {
	body := s.body(label, owner)
	etag, err := s.put(ctx, obj, body, "*", "")
	if err != nil && !preconditionFailed(err) {
		return nil, fmt.Errorf("lock %s: create lease s3://%s/%s: %w", label, s.Bucket, obj, err)
	}
	if err != nil {
		// Someone holds (or held) it: take it over only if it expired.
		got, gerr := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(obj)})
		if gerr != nil {
			if preconditionFailed(gerr) { // released between our PUT and GET: a retry is a new attempt
				return nil, &BusyError{Key: key, Holder: "lease s3://" + s.Bucket + "/" + obj + " changed while being read"}
			}
			return nil, fmt.Errorf("lock %s: read lease s3://%s/%s: %w", label, s.Bucket, obj, gerr)
		}
		data, rerr := io.ReadAll(got.Body)
		_ = got.Body.Close()
		if rerr != nil {
			return nil, fmt.Errorf("lock %s: read lease: %w", label, rerr)
		}
		var cur lease
		if jerr := json.Unmarshal(data, &cur); jerr != nil {
			return nil, fmt.Errorf("lock %s: lease s3://%s/%s is not a lease (%w): remove it by hand", label, s.Bucket, obj, jerr)
		}
		if s.now().Before(cur.Expires) {
			return nil, &BusyError{Key: key, Holder: fmt.Sprintf("lease s3://%s/%s held by run %s until %s", s.Bucket, obj, cur.Owner, cur.Expires.Format(time.RFC3339))}
		}
		etag, err = s.put(ctx, obj, body, "", aws.ToString(got.ETag))
		if preconditionFailed(err) {
			return nil, &BusyError{Key: key, Holder: fmt.Sprintf("expired lease s3://%s/%s of run %s taken over by another publisher", s.Bucket, obj, cur.Owner)}
		}
		if err != nil {
			return nil, fmt.Errorf("lock %s: take over expired lease of run %s: %w", label, cur.Owner, err)
		}
	}
	l := &s3Lock{s: s, label: label, obj: obj, owner: owner, etag: etag, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew()
	return l, nil
}

// renew extends the lease every TTL/3; a failed renewal past the expiry means the lease may be
// someone else's now: Lost is closed.
func (l *s3Lock) renew() {
	defer close(l.done)
	every := l.s.ttl() / 3
	t := time.NewTicker(every)
	defer t.Stop()
	expires := l.s.now().Add(l.s.ttl())
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		l.mu.Lock()
		etag, err := l.s.put(ctx, l.obj, l.s.body(l.label, l.owner), "", l.etag)
		if err == nil {
			l.etag = etag
			expires = l.s.now().Add(l.s.ttl())
		}
		l.mu.Unlock()
		cancel()
		if err != nil && (preconditionFailed(err) || !l.s.now().Before(expires)) {
			l.lerr = err
			close(l.lost)
			return
		}
	}
}

func (l *s3Lock) Lost() <-chan struct{} { return l.lost }

// Release deletes the lease if it is still ours (DeleteObject If-Match).
func (l *s3Lock) Release(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		l.mu.Lock()
		defer l.mu.Unlock()
		_, derr := l.s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(l.s.Bucket), Key: aws.String(l.obj), IfMatch: aws.String(l.etag)})
		if derr != nil && !preconditionFailed(derr) {
			err = fmt.Errorf("release lease s3://%s/%s: %w", l.s.Bucket, l.obj, derr)
		}
	})
	return err
}
