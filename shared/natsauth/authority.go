package natsauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"cyberimage/shared/bus"
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
	// AccountJWT carries the account's limits and its revocations, so a
	// server configured from it refuses revoked users after a restart too.
	AccountJWT string `json:"account_jwt"`
	// Issued lists the users issued and not yet expired, by identity: what
	// Revoke needs to find every copy of an identity's credentials.
	Issued []Issued `json:"issued,omitempty"`

	mu sync.Mutex // guards Issued and AccountJWT
}

// Issued is one user the authority issued credentials for.
type Issued struct {
	Role    Role   `json:"role"`
	Name    string `json:"name"`
	User    string `json:"user"` // the user's public key
	Issued  int64  `json:"issued"`
	Expires int64  `json:"expires,omitempty"` // unix seconds; 0: never
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
	// JetStream on; its storage bounded by the streams' own limits and the
	// server's store until a deployment bounds the account itself
	// (SetJetStreamLimits, nats-creds --js-max-disk): an account limit
	// above what a server can store would leave JetStream off for it.
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

func roleTag(r Role) string { return bus.RoleTag + string(r) }

// DefaultExpiry is how long issued credentials last unless told
// otherwise: long enough that a deployment renews them on its own schedule
// (nats-creds --out again), short enough that a leaked file dies by itself.
const DefaultExpiry = 90 * 24 * time.Hour

// Creds issues a credentials file for the identity name of role r (the
// name is shown in the server's connection list, names the identity's
// inbox prefix and, for a runner, the only heartbeat and orders it may
// publish and hear). It expires after expires (0: never).
func (a *Authority) Creds(r Role, name string, expires time.Duration) ([]byte, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
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
	uc.Tags.Add(roleTag(r))
	if expires > 0 {
		uc.Expires = time.Now().Add(expires).Unix()
	}
	allow := Permissions(r, name)
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
	a.remember(Issued{Role: r, Name: name, User: pub, Issued: uc.IssuedAt, Expires: uc.Expires})
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
	acc, err := jwt.DecodeAccountClaims(a.accountJWT())
	if err != nil {
		return err
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(sys.Subject, a.SystemJWT); err != nil {
		return err
	}
	if err := resolver.Store(acc.Subject, a.accountJWT()); err != nil {
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
	acc, err := jwt.DecodeAccountClaims(a.accountJWT())
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("operator: %s\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: {\n  %s: %s\n  %s: %s\n}\n",
		a.OperatorJWT, sys.Subject, sys.Subject, a.SystemJWT, acc.Subject, a.accountJWT()), nil
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
	for _, r := range ServiceRoles() {
		if _, err := a.SaveCreds(dir, r, DefaultName(r), DefaultExpiry); err != nil {
			return err
		}
	}
	return nil
}

// ServiceRoles are the roles with one identity each, which Save issues:
// runners are issued one by one by name (SaveCreds), since each runner's
// credentials name it.
func ServiceRoles() []Role { return []Role{Client, Ingest, Supervisor, Admin} }

// SaveCreds issues the credentials of one identity into dir (mode 0600)
// and returns the file's path.
func (a *Authority) SaveCreds(dir string, r Role, name string, expires time.Duration) (string, error) {
	creds, err := a.Creds(r, name, expires)
	if err != nil {
		return "", err
	}
	path := IdentityCredsPath(dir, r, name)
	if err := a.SaveAuthority(dir); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, creds, 0o600)
}

// CredsPath is where Save writes a role's credentials file (its default
// identity).
func CredsPath(dir string, r Role) string { return IdentityCredsPath(dir, r, DefaultName(r)) }

// IdentityCredsPath is where SaveCreds writes an identity's credentials:
// <role>.creds for a role's default identity, <role>.<name>.creds for the
// others (runner.gpu-0.creds, client.alice.creds).
func IdentityCredsPath(dir string, r Role, name string) string {
	if name == DefaultName(r) {
		return filepath.Join(dir, string(r)+".creds")
	}
	return filepath.Join(dir, string(r)+"."+name+".creds")
}

// SaveAuthority writes authority.json into dir (its seeds are secrets:
// mode 0600, in a folder only its owner reads).
func (a *Authority) SaveAuthority(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	a.mu.Lock()
	data, err := json.MarshalIndent(a, "", "  ")
	a.mu.Unlock()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "authority.json"), data, 0o600)
}

// remember notes an issued user and forgets the expired ones, whose
// credentials the server refuses anyway.
func (a *Authority) remember(u Issued) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now().Unix()
	kept := a.Issued[:0]
	for _, i := range a.Issued {
		if i.Expires == 0 || i.Expires > now {
			kept = append(kept, i)
		}
	}
	a.Issued = append(kept, u)
}
