// Package objstore builds the S3 client configuration shared by the input reader and the Iceberg
// warehouse, so that both honour the same endpoint, credentials and retry policy.
package objstore

import (
	"context"
	"fmt"
	"net/http"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakeport/lakeport/jobs/internal/tracing"
)

// S3 is how to reach an S3-compatible object store. Empty fields fall back to the AWS SDK's
// defaults (environment, shared config, instance role).
type S3 struct {
	Endpoint        string `json:"endpoint,omitempty"`
	Region          string `json:"region,omitempty"`
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
	SessionToken    string `json:"sessionToken,omitempty"`
	// PathStyle addresses buckets as endpoint/bucket (MinIO, versitygw); defaults to true when an
	// endpoint is set.
	PathStyle *bool `json:"pathStyle,omitempty"`
	// MaxAttempts is the number of tries of each S3 request on throttling, 5xx and network errors
	// (default 8), with jittered exponential backoff up to MaxBackoff (default 5s).
	MaxAttempts int           `json:"maxAttempts,omitempty"`
	MaxBackoff  time.Duration `json:"-"`

	// HTTPClient replaces the transport (tests inject faults through it).
	HTTPClient *http.Client `json:"-"`
}

// AWSConfig returns the SDK configuration with the retry policy applied.
func (c S3) AWSConfig(ctx context.Context) (aws.Config, error) {
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if c.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	attempts, backoff := c.MaxAttempts, c.MaxBackoff
	if attempts <= 0 {
		attempts = 8
	}
	if backoff <= 0 {
		backoff = 5 * time.Second
	}
	opts = append(opts, awsconfig.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = backoff
			// The client-side rate limiter would turn a burst of throttling into hard failures.
			o.RateLimiter = noRateLimit{}
		})
	}))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	if c.HTTPClient != nil {
		// Set after loading: the SDK only applies AWS_CA_BUNDLE to its own client type.
		cfg.HTTPClient = c.HTTPClient
	}
	// A client span per request, under the publication step that made it. Without a client of its
	// own the SDK would build its default one: build it here, to wrap it.
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = tracing.S3Client(cfg.HTTPClient)
	return cfg, nil
}

func (c S3) pathStyle() bool {
	if c.PathStyle != nil {
		return *c.PathStyle
	}
	return c.Endpoint != ""
}

// Client returns an S3 client.
func (c S3) Client(ctx context.Context) (*s3.Client, error) {
	cfg, err := c.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.pathStyle()
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// IcebergProps are the FileIO properties iceberg-go needs for this store.
func (c S3) IcebergProps() map[string]string {
	p := map[string]string{}
	if c.Endpoint != "" {
		p[icebergio.S3EndpointURL] = c.Endpoint
	}
	if c.Region != "" {
		p[icebergio.S3Region] = c.Region
	}
	if c.AccessKeyID != "" {
		p[icebergio.S3AccessKeyID] = c.AccessKeyID
		p[icebergio.S3SecretAccessKey] = c.SecretAccessKey
		if c.SessionToken != "" {
			p[icebergio.S3SessionToken] = c.SessionToken
		}
	}
	if c.pathStyle() {
		p[icebergio.S3ForceVirtualAddressing] = "false"
	}
	return p
}

type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}

func (noRateLimit) AddTokens(uint) error { return nil }
