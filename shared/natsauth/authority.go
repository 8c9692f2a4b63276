package natsauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Authority holds the keys that issue the pipeline's credentials: an
// operator, the system account (which the server needs for JetStream in
// operator mode) and the pipeline's account, with their JWTs. Its seeds are
// secrets: whoever holds them can issue credentials for any role.
type Authority struct {
	OperatorSeed string `json:"operator_seed"`
	SystemSeed   string `json:"system_seed"`
	AccountSeed  string `json:"account_seed"`
	OperatorJWT  string `json:"operator_jwt"`
	SystemJWT    string `json:"system_jwt"`
	AccountJWT   string `json:"account_jwt"`
}

// New makes an authority with fresh keys.
func New() (*Authority, error) {
	op, err := nkeys.CreateOperator()
	if err != nil {
		return nil, err
	}
	sys, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	acc, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	a := &Authority{}
	if a.OperatorSeed, err = seedOf(op); err != nil {
		return nil, err
	}
	if a.SystemSeed, err = seedOf(sys); err != nil {
		return nil, err
	}
	if a.AccountSeed, err = seedOf(acc); err != nil {
		return nil, err
	}
	opPub, _ := op.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "cyberimage"
	if a.OperatorJWT, err = oc.Encode(op); err != nil {
		return nil, err
	}
	sysPub, _ := sys.PublicKey()
	sc := jwt.NewAccountClaims(sysPub)
	sc.Name = "SYS"
	if a.SystemJWT, err = sc.Encode(op); err != nil {
		return nil, err
	}
	accPub, _ := acc.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "CYBERIMAGE"
	// JetStream on, without limits of its own: the streams' own limits and
	// the server's store bound it.
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit, Streams: jwt.NoLimit, Consumer: jwt.NoLimit}
	if a.AccountJWT, err = ac.Encode(op); err != nil {
		return nil, err
	}
	return a, nil
}

func seedOf(kp nkeys.KeyPair) (string, error) {
	s, err := kp.Seed()
	return string(s), err
}

// Creds issues a credentials file for a user of a role, named name (shown
// in the server's connection list).
func (a *Authority) Creds(r Role, name string) ([]byte, error) {
	acc, err := nkeys.FromSeed([]byte(a.AccountSeed))
	if err != nil {
		return nil, fmt.Errorf("account key: %w", err)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	pub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	allow := Permissions(r)
	uc.Pub.Allow.Add(allow.Pub...)
	uc.Sub.Allow.Add(allow.Sub...)
	if allow.Replies > 0 {
		// Any number of answers per received message (a runner sends many
		// in-progress acks, then its ack), for allow.Replies.
		uc.Resp = &jwt.ResponsePermission{MaxMsgs: -1, Expires: allow.Replies}
	}
	token, err := uc.Encode(acc)
	if err != nil {
		return nil, err
	}
	seed, err := user.Seed()
	if err != nil {
		return nil, err
	}
	return jwt.FormatUserConfig(token, seed)
}

// Configure makes a server trust this authority: operator mode, the system
// account, and both accounts' JWTs preloaded in a memory resolver.
func (a *Authority) Configure(opts *server.Options) error {
	oc, err := jwt.DecodeOperatorClaims(a.OperatorJWT)
	if err != nil {
		return err
	}
	sys, err := jwt.DecodeAccountClaims(a.SystemJWT)
	if err != nil {
		return err
	}
	acc, err := jwt.DecodeAccountClaims(a.AccountJWT)
	if err != nil {
		return err
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(sys.Subject, a.SystemJWT); err != nil {
		return err
	}
	if err := resolver.Store(acc.Subject, a.AccountJWT); err != nil {
		return err
	}
	opts.TrustedOperators = []*jwt.OperatorClaims{oc}
	opts.SystemAccount = sys.Subject
	opts.AccountResolver = resolver
	return nil
}

// ServerConfig is the same trust as a nats-server configuration block, for
// servers started from a file (infra/nats, systemd, Kubernetes).
func (a *Authority) ServerConfig() (string, error) {
	sys, err := jwt.DecodeAccountClaims(a.SystemJWT)
	if err != nil {
		return "", err
	}
	acc, err := jwt.DecodeAccountClaims(a.AccountJWT)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("operator: %s\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: {\n  %s: %s\n  %s: %s\n}\n",
		a.OperatorJWT, sys.Subject, sys.Subject, a.SystemJWT, acc.Subject, a.AccountJWT), nil
}

// Load reads an authority saved by Save; ok is false when there is none.
func Load(dir string) (a *Authority, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, "authority.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	a = &Authority{}
	if err := json.Unmarshal(data, a); err != nil {
		return nil, false, fmt.Errorf("%s: %w", filepath.Join(dir, "authority.json"), err)
	}
	return a, true, nil
}

// Save writes the authority (its seeds are secrets: mode 0600) and one
// credentials file per role, <role>.creds, into dir.
func (a *Authority) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(a, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "authority.json"), data, 0o600); err != nil {
		return err
	}
	for _, r := range Roles() {
		creds, err := a.Creds(r, string(r))
		if err != nil {
			return err
		}
		if err := os.WriteFile(CredsPath(dir, r), creds, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// CredsPath is where Save writes a role's credentials file.
func CredsPath(dir string, r Role) string { return filepath.Join(dir, string(r)+".creds") }
