package benchstack

import (
	"context"
	"path/filepath"
	"strconv"
	"time"

	"cyberimage/shared/objectstore"
)

// StartMinIO runs a MinIO server on free ports with its data in
// dir/minio (the flags and environment of shared/testenv) and waits until
// it is ready.
func StartMinIO(ctx context.Context, ps *Procs, bin, dir string) (objectstore.Config, *Proc, error) {
	var ports [2]int
	for i := range ports {
		var err error
		if ports[i], err = FreePort(); err != nil {
			return objectstore.Config{}, nil, err
		}
	}
	cfg := objectstore.Config{Endpoint: "127.0.0.1:" + strconv.Itoa(ports[0]), AccessKey: objectstore.DevAccessKey,
		SecretKey: objectstore.DevSecretKey, Bucket: "cyberimage"}
	p, err := ps.Start("minio", bin, []string{"server", "--quiet", "--address", cfg.Endpoint,
		"--console-address", "127.0.0.1:" + strconv.Itoa(ports[1]), filepath.Join(dir, "minio")},
		[]string{"MINIO_ROOT_USER=" + cfg.AccessKey, "MINIO_ROOT_PASSWORD=" + cfg.SecretKey, "MINIO_BROWSER=off", "MINIO_UPDATE=off"})
	if err != nil {
		return cfg, nil, err
	}
	return cfg, p, WaitHTTP(ctx, p, "http://"+cfg.Endpoint+"/minio/health/ready", 60*time.Second)
}
