// Package storage writes a job's images to S3 under the shared key layout.
package storage

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/job"
	"cyberimage/shared/objectstore"
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

// Put stores image index of a job with its metadata under its first key
// (s3layout.ImageKey) and returns the key.
func (s *Images) Put(ctx context.Context, jobID string, index int, spec job.Spec, png []byte) (string, error) {
	return s.PutTry(ctx, jobID, index, 0, spec, png)
}

// PutTry is Put for upload try `try` of a delivery, under that try's key
// (s3layout.ImageKeyAt). One request may take objectstore.TryTimeout: a
// node that hangs or holds the object's lock then costs seconds, and the
// caller tries again under the next try's key.
func (s *Images) PutTry(ctx context.Context, jobID string, index, try int, spec job.Spec, png []byte) (string, error) {
	key := s3layout.ImageKeyAt(jobID, index, try)
	return key, s.put(ctx, key, jobID, index, spec, png)
}

// PutThumb stores the thumbnail of the image stored under imageKey (image
// index of a job), next to it, with the image's metadata.
func (s *Images) PutThumb(ctx context.Context, imageKey, jobID string, index int, spec job.Spec, png []byte) error {
	return s.put(ctx, s3layout.ThumbKeyOf(imageKey), jobID, index, spec, png)
}

func (s *Images) put(ctx context.Context, key, jobID string, index int, spec job.Spec, png []byte) error {
	ctx, cancel := context.WithTimeout(ctx, objectstore.TryTimeout(len(png)))
	defer cancel()
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

// FoundTries is how many upload tries' keys Existing looks under for each
// image: a delivery whose upload needed more tries than that has its job
// generated again on redelivery, which costs time, never a result.
const FoundTries = 4

// Existing returns the keys of a job's images when all of them (and their
// thumbnails, for images that get one) are already stored by this job,
// under any of the first FoundTries tries' keys, so a redelivered job
// skips straight to completion instead of writing the objects again.
func (s *Images) Existing(ctx context.Context, jobID string, spec job.Spec) ([]string, bool, error) {
	keys := make([]string, spec.NumImages)
	for i := range keys {
		for try := range FoundTries {
			key := s3layout.ImageKeyAt(jobID, i, try)
			ok, err := s.stored(ctx, key, jobID, s3layout.HasThumb(spec.Width, spec.Height))
			if err != nil {
				return nil, false, err
			}
			if ok {
				keys[i] = key
				break
			}
		}
		if keys[i] == "" {
			return nil, false, nil
		}
	}
	return keys, true, nil
}

// stored tells whether this job stored the image under key, and its
// thumbnail when it gets one.
func (s *Images) stored(ctx context.Context, key, jobID string, thumb bool) (bool, error) {
	check := []string{key}
	if thumb {
		check = append(check, s3layout.ThumbKeyOf(key))
	}
	for _, key := range check {
		statCtx, cancel := context.WithTimeout(ctx, objectstore.TryTimeout(0))
		info, err := s.client.StatObject(statCtx, s.bucket, key, minio.StatObjectOptions{})
		cancel()
		if objectstore.ErrorCode(err) == "NoSuchKey" {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("stat %s: %w", key, err)
		}
		if info.UserMetadata[s3layout.MetaJobID] != jobID {
			return false, nil
		}
	}
	return true, nil
}
