package natsauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// ErrNothingToRevoke is Revoke's answer for a name no issued credentials
// carry.
var ErrNothingToRevoke = errors.New("no credentials issued for that name")

// Revoke revokes every credentials file issued for the identity name (of
// role r; of any role when r is empty): the account's JWT now lists their
// users as revoked, so a server that is given it (Push, or a restart with
// the authority's configuration) closes their connections and refuses
// them. It returns how many users were revoked.
func (a *Authority) Revoke(r Role, name string) (int, error) {
	op, err := nkeys.FromSeed([]byte(a.OperatorSeed))
	if err != nil {
		return 0, fmt.Errorf("operator key: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ac, err := jwt.DecodeAccountClaims(a.AccountJWT)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range a.Issued {
		if u.Name == name && (r == "" || u.Role == r) {
			// Revoked: every JWT of this user issued up to now (all of
			// them: each file has a user key of its own).
			ac.RevokeAt(u.User, time.Now())
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: %s", ErrNothingToRevoke, name)
	}
	token, err := ac.Encode(op)
	if err != nil {
		return 0, err
	}
	a.AccountJWT = token
	return n, nil
}

// accountJWT is the account's current JWT.
func (a *Authority) accountJWT() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.AccountJWT
}

// Push hands the account's current JWT (its limits and revocations) to the
// running servers, which apply it at once: revoked users' connections are
// closed within moments, no restart needed. nc must be a connection of the
// system account (ConnectSystem). The update is kept in the servers'
// memory; a restarted server reads the authority's configuration again
// (ServerConfig, Configure), which has it too.
func (a *Authority) Push(ctx context.Context, nc *nats.Conn) error {
	token := a.accountJWT()
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		return err
	}
	msg, err := nc.RequestWithContext(ctx, "$SYS.REQ.ACCOUNT."+ac.Subject+".CLAIMS.UPDATE", []byte(token))
	if err != nil {
		return fmt.Errorf("push account claims: %w", err)
	}
	var answer struct {
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &answer); err != nil {
		return fmt.Errorf("push account claims: answer %q: %w", msg.Data, err)
	}
	if answer.Error != nil {
		return fmt.Errorf("push account claims: %s", answer.Error.Description)
	}
	return nil
}

// SystemUser is a short-lived user of the system account, for Push: its
// JWT and seed, as nats.UserJWTAndSeed takes them.
func (a *Authority) SystemUser() (userJWT, seed string, err error) {
	sys, err := nkeys.FromSeed([]byte(a.SystemSeed))
	if err != nil {
		return "", "", fmt.Errorf("system account key: %w", err)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		return "", "", err
	}
	pub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = "cyberimage-push"
	uc.Expires = time.Now().Add(10 * time.Minute).Unix()
	if userJWT, err = uc.Encode(sys); err != nil {
		return "", "", err
	}
	s, err := user.Seed()
	return userJWT, string(s), err
}

// ConnectSystem connects to url as a short-lived system-account user.
func (a *Authority) ConnectSystem(url string, opts ...nats.Option) (*nats.Conn, error) {
	userJWT, seed, err := a.SystemUser()
	if err != nil {
		return nil, err
	}
	return nats.Connect(url, append([]nats.Option{nats.Name("cyberimage nats-creds"), nats.UserJWTAndSeed(userJWT, seed)}, opts...)...)
}
