// Package storage writes a job's images to S3 under the shared key layout.
package storage

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/job"
	"cyberimage/shared/s3layout"
)

// Images is the image bucket.
type Images struct {
	client *minio.Client
	bucket string
}

// NewImages binds a client to the bucket.
func NewImages(client *minio.Client, bucket string) *Images {
	return &Images{client: client, bucket: bucket}
}

// Put stores image index of a job with its metadata.
func (s *Images) Put(ctx context.Context, jobID string, index int, spec job.Spec, png []byte) (string, error) {
	key := s3layout.ImageKey(jobID, index)
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(png), int64(len(png)), minio.PutObjectOptions{
		ContentType:  "image/png",
		UserMetadata: Metadata(jobID, index, spec),
	})
	if err != nil {
		return "", fmt.Errorf("put %s: %w", key, err)
	}
	return key, nil
}

// PutThumb stores the thumbnail of image index of a job, with the image's
// metadata.
func (s *Images) PutThumb(ctx context.Context, jobID string, index int, spec job.Spec, png []byte) error {
	key := s3layout.ThumbKey(jobID, index)
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(png), int64(len(png)), minio.PutObjectOptions{
		ContentType:  "image/png",
		UserMetadata: Metadata(jobID, index, spec),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Metadata is what every image object carries, so an image found in the
// bucket can be traced and reproduced without the job record.
func Metadata(jobID string, index int, spec job.Spec) map[string]string {
	return map[string]string{
		s3layout.MetaJobID:  jobID,
		s3layout.MetaIndex:  strconv.Itoa(index),
		s3layout.MetaModel:  spec.Model,
		s3layout.MetaSeed:   strconv.FormatInt(spec.Seed, 10),
		s3layout.MetaSteps:  strconv.Itoa(spec.Steps),
		s3layout.MetaSize:   fmt.Sprintf("%dx%d", spec.Width, spec.Height),
		s3layout.MetaPrompt: s3layout.TruncateForMetadata(spec.Prompt, s3layout.MaxPromptMetaBytes),
	}
}

// Existing returns the keys of a job's images when all of them (and their
// thumbnails, for images that get one) are already stored by this job, so a
// redelivered job skips straight to completion instead of writing the
// objects again.
func (s *Images) Existing(ctx context.Context, jobID string, spec job.Spec) ([]string, bool, error) {
	count := spec.NumImages
	keys := make([]string, count)
	var check []string
	for i := range count {
		check = append(check, s3layout.ImageKey(jobID, i))
		if s3layout.HasThumb(spec.Width, spec.Height) {
			check = append(check, s3layout.ThumbKey(jobID, i))
		}
		keys[i] = s3layout.ImageKey(jobID, i)
	}
	for _, key := range check {
		info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		if err != nil {
			if minio.ToErrorResponse(err).Code == "NoSuchKey" {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("stat %s: %w", key, err)
		}
		if info.UserMetadata[s3layout.MetaJobID] != jobID {
			return nil, false, nil
		}
	}
	return keys, true, nil
}
