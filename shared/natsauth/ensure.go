package natsauth

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/nats-io/jwt/v2"
)

// renewWithin is how close to its expiry EnsureCreds renews a file.
const renewWithin = 7 * 24 * time.Hour

// EnsureCreds keeps the credentials of one identity in dir: an existing
// file is kept as it is (whoever copied it elsewhere keeps working across
// restarts) unless it no longer grants what the code's allow list says, or
// it expires within renewWithin; only then is it issued anew. It returns
// the file's path and whether it was issued now.
func (a *Authority) EnsureCreds(dir string, r Role, name string, expires time.Duration) (string, bool, error) {
	path := IdentityCredsPath(dir, r, name)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return path, false, err
	case current(data, r, name):
		return path, false, nil
	}
	path, err = a.SaveCreds(dir, r, name, expires)
	return path, err == nil, err
}

// current says whether a credentials file grants exactly the role's allow
// list for name and is not about to expire.
func current(data []byte, r Role, name string) bool {
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return false
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil || uc.Name != name || !uc.Tags.Contains(roleTag(r)) {
		return false
	}
	if uc.Expires != 0 && time.Until(time.Unix(uc.Expires, 0)) < renewWithin {
		return false
	}
	want := Permissions(r, name)
	pub, sub := slices.Clone([]string(uc.Pub.Allow)), slices.Clone([]string(uc.Sub.Allow))
	slices.Sort(pub)
	slices.Sort(sub)
	hasReplies := uc.Resp != nil && uc.Resp.Expires == want.Replies
	return slices.Equal(pub, want.Pub) && slices.Equal(sub, want.Sub) && (hasReplies || (uc.Resp == nil && want.Replies == 0))
}
