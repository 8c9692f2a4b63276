package bus

import (
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/jwt/v2"
)

// Identity is who a credentials file says its holder is: a role and a
// name (natsauth issues both into the user JWT: the name as the JWT's
// name, the role as the tag "role:<role>").
type Identity struct {
	Role, Name string
}

// RoleTag is the JWT tag that carries an identity's role.
const RoleTag = "role:"

// IdentityOf reads the identity a credentials file was issued for; ok is
// false for a file without one (issued before identities existed), which
// keeps the shared inbox namespace it was issued with.
func IdentityOf(credsFile string) (id Identity, ok bool, err error) {
	data, err := os.ReadFile(credsFile)
	if err != nil {
		return Identity{}, false, fmt.Errorf("read credentials: %w", err)
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return Identity{}, false, fmt.Errorf("credentials %s: %w", credsFile, err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return Identity{}, false, fmt.Errorf("credentials %s: %w", credsFile, err)
	}
	for _, tag := range uc.Tags {
		if role, found := strings.CutPrefix(tag, RoleTag); found && role != "" && uc.Name != "" {
			return Identity{Role: role, Name: uc.Name}, true, nil
		}
	}
	return Identity{}, false, nil
}

// InboxPrefix is the identity's inbox prefix.
func (i Identity) InboxPrefix() string { return InboxPrefix(i.Role, i.Name) }
