package s3access

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// User is one role's S3 key pair.
type User struct {
	Role      Role
	AccessKey string
	SecretKey string
}

// Variables of an env file, the names the services read, so the file works
// as a systemd EnvironmentFile or with `set -a; . file`.
const (
	accessKeyVar = "CYBERIMAGE_S3_ACCESS_KEY"
	secretKeyVar = "CYBERIMAGE_S3_SECRET_KEY"
)

// EnvFile is where the role's keys are kept in a credentials folder.
func EnvFile(dir string, r Role) string { return filepath.Join(dir, "s3-"+string(r)+".env") }

// Env returns the user's keys as the services' environment variables.
func (u User) Env() []string {
	return []string{accessKeyVar + "=" + u.AccessKey, secretKeyVar + "=" + u.SecretKey}
}

// LoadOrCreate reads each role's keys from dir, making (and saving, mode
// 0600) a random secret for a role that has none yet, so keys stay the same
// from one start to the next and rotate when the file is deleted.
func LoadOrCreate(dir string) (map[Role]User, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	users := make(map[Role]User, len(Roles))
	for _, r := range Roles {
		u, err := load(dir, r)
		if errors.Is(err, fs.ErrNotExist) {
			u, err = create(dir, r)
		}
		if err != nil {
			return nil, err
		}
		users[r] = u
	}
	return users, nil
}

func load(dir string, r Role) (User, error) {
	path := EnvFile(dir, r)
	data, err := os.ReadFile(path)
	if err != nil {
		return User{}, err
	}
	u := User{Role: r}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		switch {
		case !ok:
		case name == accessKeyVar:
			u.AccessKey = value
		case name == secretKeyVar:
			u.SecretKey = value
		}
	}
	if u.AccessKey == "" || u.SecretKey == "" {
		return User{}, fmt.Errorf("%s: want %s and %s (delete the file to make new keys)", path, accessKeyVar, secretKeyVar)
	}
	return u, nil
}

func create(dir string, r Role) (User, error) {
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return User{}, err
	}
	u := User{Role: r, AccessKey: AccessKey(r), SecretKey: hex.EncodeToString(raw)}
	body := fmt.Sprintf("# S3 user %s of the CyberImage pipeline (made by provisioning; delete to rotate)\n%s\n",
		u.AccessKey, strings.Join(u.Env(), "\n"))
	if err := os.WriteFile(EnvFile(dir, r), []byte(body), 0o600); err != nil {
		return User{}, err
	}
	return u, nil
}
