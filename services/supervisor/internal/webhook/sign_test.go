package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSignatureIsTheDocumentedHMAC(t *testing.T) {
	t.Parallel()
	secret, body, at := []byte("0123456789abcdef"), []byte(`{"job_id":"J"}`), time.Unix(1700000000, 0)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("1700000000." + string(body)))
	require.Equal(t, "t=1700000000,v1="+hex.EncodeToString(m.Sum(nil)), Sign(secret, at, body))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	secret, body, at := []byte("0123456789abcdef"), []byte(`{"job_id":"J"}`), time.Unix(1700000000, 0)
	header := Sign(secret, at, body)
	require.NoError(t, Verify(secret, header, body, at.Add(time.Minute), 5*time.Minute))
	for name, c := range map[string]struct {
		secret []byte
		header string
		body   string
		now    time.Time
	}{
		"another body":    {secret, header, `{"job_id":"K"}`, at},
		"another secret":  {[]byte("fedcba9876543210"), header, string(body), at},
		"too old":         {secret, header, string(body), at.Add(6 * time.Minute)},
		"from the future": {secret, header, string(body), at.Add(-6 * time.Minute)},
		"no time":         {secret, "v1=00", string(body), at},
		"time changed":    {secret, fmt.Sprintf("t=1700000001,%s", header[len("t=1700000000,"):]), string(body), at},
		"not hex":         {secret, "t=1700000000,v1=zz", string(body), at},
	} {
		require.ErrorIs(t, Verify(c.secret, c.header, []byte(c.body), c.now, 5*time.Minute), ErrBadSignature, name)
	}
}
