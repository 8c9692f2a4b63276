package storage

import (
	"context"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/s3layout"
	"cyberimage/shared/testenv"
)

// A redelivered job finds the images an earlier delivery stored, whichever
// upload try's key each went under, as long as its thumbnail went with it.
func TestExistingFindsEveryTrysKeys(t *testing.T) {
	m := testenv.StartMinIO(t)
	s := NewImages(m.Client(t), m.Config.Bucket)
	ctx := context.Background()
	spec := job.Spec{Model: "demo", Prompt: "p", Steps: 1, Width: 512, Height: 512, NumImages: 3}
	put := func(jobID string, index, try int, thumb bool) string {
		key, err := s.PutTry(ctx, jobID, index, try, spec, []byte("png"))
		require.NoError(t, err)
		require.Equal(t, s3layout.ImageKeyAt(jobID, index, try), key)
		if thumb {
			require.NoError(t, s.PutThumb(ctx, key, jobID, index, spec, []byte("thumb")))
		}
		return key
	}
	// Image 0 on the first try; image 1's first try lost its thumbnail
	// and its second stored both; image 2 needed the last try looked at.
	want := []string{put("j", 0, 0, true), "", put("j", 2, FoundTries-1, true)}
	put("j", 1, 0, false)
	want[1] = put("j", 1, 1, true)
	keys, ok, err := s.Existing(ctx, "j", spec)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, want, keys)

	// Beyond the tries looked at, the job is generated again.
	put("late", 0, 0, true)
	put("late", 1, 0, true)
	put("late", 2, FoundTries, true)
	_, ok, err = s.Existing(ctx, "late", spec)
	require.NoError(t, err)
	require.False(t, ok)

	// Small images have no thumbnail to look for.
	small := job.Spec{Model: "demo", Prompt: "p", Steps: 1, Width: 64, Height: 64, NumImages: 1}
	key, err := s.PutTry(ctx, "small", 0, 2, small, []byte("png"))
	require.NoError(t, err)
	keys, ok, err = s.Existing(ctx, "small", small)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []string{key}, keys)
}

// An object under the job's key that another job wrote is not this job's.
func TestExistingChecksTheOwner(t *testing.T) {
	m := testenv.StartMinIO(t)
	s := NewImages(m.Client(t), m.Config.Bucket)
	ctx := context.Background()
	spec := job.Spec{Model: "demo", Prompt: "p", Steps: 1, Width: 64, Height: 64, NumImages: 1}
	_, err := s.client.PutObject(ctx, m.Config.Bucket, s3layout.ImageKey("mine", 0), nil, 0, minio.PutObjectOptions{UserMetadata: Metadata("theirs", 0, spec)})
	require.NoError(t, err)
	_, ok, err := s.Existing(ctx, "mine", spec)
	require.NoError(t, err)
	require.False(t, ok)
}
