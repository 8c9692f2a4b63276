// Package s3access gives each part of the pipeline its own MinIO user with
// the least it needs, instead of the server's root key: a runner may only
// write and read images, the supervisor may only read them (it presigns
// links), and a person browsing with mc may only look. Provisioning (make
// run, the provision command) creates the bucket, the policies and the
// users with the root key; services never hold it.
package s3access

import (
	"encoding/json"
	"fmt"
)

// Role is one S3 user of the pipeline.
type Role string

// The pipeline's S3 users.
const (
	// Runner writes each job's PNGs and reads them back to check a retry's
	// earlier upload.
	Runner Role = "runner"
	// Supervisor reads images (the presigned links it serves are signed
	// with its key, so they open only what it may read) and archives the
	// ended jobs' records under archive/ (and, if asked, as
	// images/<job_id>/job.json).
	Supervisor Role = "supervisor"
	// Browser is for people: list and download with mc or the MinIO
	// console, never write or delete.
	Browser Role = "browser"
)

// Roles lists every user provisioning creates.
var Roles = []Role{Runner, Supervisor, Browser}

// PolicyName is the MinIO canned policy attached to the role's user.
func PolicyName(r Role) string { return "cyberimage-" + string(r) }

// AccessKey is the role's user name: readable in MinIO's logs and console.
func AccessKey(r Role) string { return "cyberimage-" + string(r) }

type statement struct {
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

type document struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

// Actions lists what the role may do, as (action, resource) allow rules in
// IAM terms, over the images and archive prefixes of the bucket.
func Actions(r Role, bucket string) []statement {
	bucketARN := "arn:aws:s3:::" + bucket
	images := bucketARN + "/images/*"
	archive := bucketARN + "/archive/*"
	switch r {
	case Runner:
		return []statement{
			{"Allow", []string{"s3:PutObject", "s3:GetObject"}, []string{images}},
		}
	case Supervisor:
		return []statement{
			{"Allow", []string{"s3:GetObject"}, []string{images}},
			{"Allow", []string{"s3:PutObject"}, []string{bucketARN + "/images/*/job.json"}},
			// The archive: segments and their index pages.
			{"Allow", []string{"s3:PutObject", "s3:GetObject"}, []string{archive}},
		}
	case Browser:
		return []statement{
			{"Allow", []string{"s3:GetObject"}, []string{images, archive}},
			{"Allow", []string{"s3:ListBucket", "s3:GetBucketLocation"}, []string{bucketARN}},
			// mc ls of the alias lists buckets first.
			{"Allow", []string{"s3:ListAllMyBuckets"}, []string{"arn:aws:s3:::*"}},
		}
	}
	panic(fmt.Sprintf("s3access: unknown role %q", r))
}

// Policy is the role's IAM policy document for the bucket.
func Policy(r Role, bucket string) []byte {
	doc, err := json.Marshal(document{Version: "2012-10-17", Statement: Actions(r, bucket)})
	if err != nil {
		panic(err) // plain strings only
	}
	return doc
}
