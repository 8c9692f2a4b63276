package s3access

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"cyberimage/shared/objectstore"
)

// Provision makes the bucket, then each user with its role's policy, using
// root's keys. It is idempotent: run again, it rewrites the policies (a
// changed allow list takes effect), sets the secrets from users (a rotated
// key takes effect) and attaches policies not yet attached.
func Provision(ctx context.Context, root objectstore.Config, users map[Role]User) error {
	if _, err := objectstore.Connect(ctx, root); err != nil {
		return err
	}
	transport, err := objectstore.Transport(root)
	if err != nil {
		return err
	}
	admin, err := madmin.NewWithOptions(root.Host(), &madmin.Options{
		Creds:     credentials.NewStaticV4(root.AccessKey, root.SecretKey, ""),
		Secure:    root.Secure,
		Transport: transport,
	})
	if err != nil {
		return fmt.Errorf("minio admin %s: %w", root.Endpoint, err)
	}
	for _, r := range Roles {
		u, ok := users[r]
		if !ok {
			continue
		}
		policy := PolicyName(r)
		if err := admin.AddCannedPolicy(ctx, policy, Policy(r, root.Bucket)); err != nil {
			return fmt.Errorf("minio policy %s: %w", policy, err)
		}
		if err := admin.AddUser(ctx, u.AccessKey, u.SecretKey); err != nil {
			return fmt.Errorf("minio user %s: %w", u.AccessKey, err)
		}
		info, err := admin.GetUserInfo(ctx, u.AccessKey)
		if err != nil {
			return fmt.Errorf("minio user %s: %w", u.AccessKey, err)
		}
		if slices.Contains(splitPolicies(info.PolicyName), policy) {
			continue
		}
		if _, err := admin.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{policy}, User: u.AccessKey}); err != nil {
			return fmt.Errorf("minio attach %s to %s: %w", policy, u.AccessKey, err)
		}
	}
	return nil
}

// splitPolicies reads MinIO's comma-separated list of a user's policies.
func splitPolicies(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
