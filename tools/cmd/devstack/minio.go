package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"cyberimage/shared/objectstore"
	"cyberimage/tools/internal/s3access"
)

// minioNodes is the size of the dev cluster's MinIO: the smallest
// distributed erasure set, where MinIO's default parity is EC:2 (any 2
// nodes serve reads, any 3 take writes).
const minioNodes = 4

// minioProcs returns the stack's MinIO processes, the names they stop by
// and the S3 endpoint services get. With one NATS node it is one server on
// s3Port (data in <data>/minio); with a NATS cluster, a distributed MinIO
// of minioNodes nodes, node i on s3Port+2i with its console on
// consolePort+2i (9000/9001, 9002/9003, ...) and its drive in
// <data>/minio-cluster/minio-<i>, and the endpoint lists them all. The
// last process's ready waits until the deployment takes writes and then
// provisions the bucket and users.
func minioProcs(ctx context.Context, o options, users map[s3access.Role]s3access.User) ([]*process, []string, string, error) {
	bin := filepath.Join(o.toolsDir, "bin", "minio")
	env := []string{"MINIO_ROOT_USER=" + devRootUser, "MINIO_ROOT_PASSWORD=" + devRootPassword, "MINIO_UPDATE=off"}
	if o.natsNodes == 1 {
		s3Addr := "127.0.0.1:" + strconv.Itoa(o.s3Port)
		p := &process{name: "minio", path: bin,
			args: []string{"server", "--quiet", "--address", s3Addr, "--console-address", "127.0.0.1:" + strconv.Itoa(o.consolePort), filepath.Join(o.dataDir, "minio")},
			env:  env,
			ready: func() error {
				if err := waitHTTP(ctx, "http://"+s3Addr+"/minio/health/ready", 60*time.Second); err != nil {
					return err
				}
				return provisionS3(ctx, s3Addr, users)
			}}
		return []*process{p}, []string{p.name}, s3Addr, nil
	}
	// MinIO names its drives by URL: absolute paths only.
	dir, err := filepath.Abs(filepath.Join(o.dataDir, "minio-cluster"))
	if err != nil {
		return nil, nil, "", err
	}
	var nodes []objectstore.ClusterNode
	var names []string
	for i := range minioNodes {
		name := "minio-" + strconv.Itoa(i+1)
		nodes = append(nodes, objectstore.ClusterNode{Addr: "127.0.0.1:" + strconv.Itoa(o.s3Port+2*i),
			ConsoleAddr: "127.0.0.1:" + strconv.Itoa(o.consolePort+2*i), Drive: filepath.Join(dir, name)})
		names = append(names, name)
		if err := os.MkdirAll(nodes[i].Drive, 0o700); err != nil {
			return nil, nil, "", err
		}
	}
	endpoint := objectstore.ClusterEndpoint(nodes)
	var procs []*process
	for i := range nodes {
		procs = append(procs, &process{name: names[i], path: bin,
			args: objectstore.ClusterArgs(nodes, i), env: append(objectstore.ClusterEnv(nodes, i), env...)})
	}
	// No node serves before a write quorum runs: all start, then the wait.
	procs[len(procs)-1].ready = func() error {
		for i, n := range nodes {
			if err := waitHTTP(ctx, "http://"+n.Addr+"/minio/health/cluster", 60*time.Second); err != nil {
				return fmt.Errorf("%s: %w", names[i], err)
			}
		}
		return provisionS3(ctx, endpoint, users)
	}
	return procs, names, endpoint, nil
}
