// Package objectstore connects to the S3 store holding the images and checks
// that the bucket answers.
package objectstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"cyberimage/shared/config"
	"cyberimage/shared/s3layout"
)

// Config locates the S3 store.
type Config struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Secure    bool

	dev *bool // CYBERIMAGE_DEV, as bound
}

// Dev credentials of the local stack (make run); never for production.
const (
	DevAccessKey = "cyberimage"
	DevSecretKey = "cyberimage-dev-secret"
)

// Bind registers the S3 settings with a config loader.
func (c *Config) Bind(l *config.Loader) {
	l.String(&c.Endpoint, "s3-endpoint", "127.0.0.1:9000", "S3 endpoint host:port, or the comma-separated host:port of every node of one distributed MinIO (requests go to the first that answers)")
	l.Secret(&c.AccessKey, "s3-access-key", "S3 access key (required outside the dev stack)")
	l.Secret(&c.SecretKey, "s3-secret-key", "S3 secret key (required outside the dev stack)")
	l.String(&c.Bucket, "s3-bucket", s3layout.DefaultBucket, "S3 bucket for images (created when missing)")
	l.Bool(&c.Secure, "s3-secure", false, "use TLS to reach S3")
	c.dev = l.Dev()
}

// Check fills in the dev stack's credentials under CYBERIMAGE_DEV, and
// otherwise refuses to go on without credentials, naming the variable:
// a service must never fall back silently to a well-known key.
func (c *Config) Check(l *config.Loader) {
	l.Check(len(c.Endpoints()) == len(strings.Split(c.Endpoint, ",")), "%s=%q names an empty endpoint", l.Name("s3-endpoint"), c.Endpoint)
	if c.dev != nil && *c.dev {
		if c.AccessKey == "" && c.SecretKey == "" {
			c.AccessKey, c.SecretKey = DevAccessKey, DevSecretKey
		}
		return
	}
	l.Check(c.AccessKey != "", "%s is required (or CYBERIMAGE_DEV=true for the dev stack's credentials)", l.Name("s3-access-key"))
	l.Check(c.SecretKey != "", "%s is required (or CYBERIMAGE_DEV=true for the dev stack's credentials)", l.Name("s3-secret-key"))
}

// NewClient returns a client without contacting the server. Given several
// endpoints, it reaches whichever node answers (Transport, Host), and
// PresignedGet signs its links for a live one.
func NewClient(c Config) (*minio.Client, error) {
	tr, err := transport(c)
	if err != nil {
		return nil, err
	}
	var rt http.RoundTripper
	if tr != nil {
		rt = tr
	}
	client, err := newClient(c, c.Host(), rt)
	if err != nil {
		return nil, err
	}
	if tr != nil {
		check, err := minio.DefaultTransport(c.Secure)
		if err != nil {
			return nil, fmt.Errorf("s3 transport: %w", err)
		}
		check.Proxy = nil
		remember(client, &deployment{cfg: c, nodes: tr.nodes, check: &http.Client{Transport: check}})
	}
	return client, nil
}

// newClient is a client of c addressing and signing for host.
func newClient(c Config, host string, transport http.RoundTripper) (*minio.Client, error) {
	client, err := minio.New(host, &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: c.Secure,
		// Presigned URLs need no region look-up round trip.
		Region: "us-east-1",
		// Fail fast: callers back off on their own terms (a runner stops
		// pulling work until S3 answers again) instead of holding a job
		// through ten client-side retries.
		MaxRetries: 3,
		Transport:  transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client %s: %w", c.Endpoint, err)
	}
	return client, nil
}

// Connect returns a client once the store answers for the bucket, creating
// the bucket when it is missing and the key may create it (the dev and test
// stacks' root key); a least-privileged key only checks.
func Connect(ctx context.Context, c Config) (*minio.Client, error) {
	client, err := NewClient(c)
	if err != nil {
		return nil, err
	}
	err = Probe(ctx, client, c.Bucket)
	if ErrorCode(err) == "NoSuchBucket" {
		if err := EnsureBucket(ctx, client, c.Bucket); err != nil {
			return nil, fmt.Errorf("%w (provisioning creates it with the root key)", err)
		}
		err = nil
	}
	if ErrorCode(err) == "AccessDenied" {
		return nil, fmt.Errorf("%w (this key may not read images/ in bucket %s: check the bucket name, and that provisioning made the user)", err, c.Bucket)
	}
	if err != nil {
		return nil, err
	}
	return client, nil
}

// Probe asks the store about one key under images/, where every pipeline
// user may read: an answer (found or not) means the store is up, the key
// pair is valid and the bucket exists, whatever else the user may not do.
func Probe(ctx context.Context, client *minio.Client, bucket string) error {
	_, err := client.StatObject(ctx, bucket, probeKey, minio.StatObjectOptions{})
	if err == nil || minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return nil
	}
	return fmt.Errorf("s3 bucket %s: %w", bucket, err)
}

// ErrorCode is the S3 error code of err ("NoSuchKey", "AccessDenied"), also
// through wrapping, or "" for other errors.
func ErrorCode(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

// probeKey is never written; asking for it costs one HEAD request.
var probeKey = s3layout.JobPrefix(".probe") + "0.png"

// EnsureBucket creates the bucket unless it exists; two services racing to
// create it both succeed.
func EnsureBucket(ctx context.Context, client *minio.Client, bucket string) error {
	exists, err := client.BucketExists(ctx, bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: %w", bucket, err)
	}
	if exists {
		return nil
	}
	if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		code := minio.ToErrorResponse(err).Code
		if code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		return fmt.Errorf("s3 create bucket %s: %w", bucket, err)
	}
	return nil
}
