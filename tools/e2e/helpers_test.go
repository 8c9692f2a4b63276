package e2e

import (
	"github.com/minio/minio-go/v7"

	"cyberimage/shared/s3layout"
)

func minioPrefix(jobID string) minio.ListObjectsOptions {
	return minio.ListObjectsOptions{Prefix: s3layout.JobPrefix(jobID), Recursive: true}
}
