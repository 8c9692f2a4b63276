package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/objectstore"
)

// emulate is the emulator process (benchfleet emulate ...): runners
// first..first+count-1, each with its own connection, until SIGTERM. The
// harness reads its figures at -stats (GET /stats, ?take=1 to collect the
// samples gathered since the last take).
func emulate(args []string) error {
	fs := flag.NewFlagSet("emulate", flag.ExitOnError)
	url := fs.String("url", "", "NATS servers")
	credsDir := fs.String("creds", "", "folder of runner.<name>.creds files")
	first := fs.Int("first", 1, "number of the first runner")
	count := fs.Int("count", 50, "runners in this process")
	statsAddr := fs.String("stats", "127.0.0.1:0", "address of the figures endpoint")
	connectRate := fs.Int("connect-rate", 100, "runners connected per second")
	s3 := objectstore.Config{AccessKey: objectstore.DevAccessKey, SecretKey: objectstore.DevSecretKey}
	fs.StringVar(&s3.Endpoint, "s3", "", "S3 endpoint (empty: no PUT)")
	fs.StringVar(&s3.Bucket, "bucket", "cyberimage", "S3 bucket")
	var p protocol
	fs.IntVar(&p.slots, "slots", 2, "slots per runner")
	fs.DurationVar(&p.heartbeat, "heartbeat", 2*time.Second, "heartbeat interval")
	fs.DurationVar(&p.fetchWait, "fetch-wait", 2*time.Second, "how long a free slot's pull waits")
	fs.DurationVar(&p.ackWait, "ack-wait", time.Minute, "the consumer's AckWait")
	fs.DurationVar(&p.interval, "event-interval", 100*time.Millisecond, "step events at most this often per job")
	fs.BoolVar(&p.prefetch, "prefetch", true, "take a queued job while one runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &counters{}
	lagStop := make(chan struct{})
	defer close(lagStop)
	go c.watchLag(lagStop)
	ln, err := net.Listen("tcp", *statsAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.snapshot(r.URL.Query().Get("take") == "1"))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	var store *minio.Client
	if s3.Endpoint != "" {
		if store, err = objectstore.Connect(ctx, s3); err != nil {
			return fmt.Errorf("s3: %w", err)
		}
	}
	var wg sync.WaitGroup
	pace := time.NewTicker(time.Second / time.Duration(max(*connectRate, 1)))
	defer pace.Stop()
	for i := *first; i < *first+*count && ctx.Err() == nil; i++ {
		r := &fleetRunner{name: runnerName(i), p: p, c: c, s3: store, bucket: s3.Bucket}
		if err := r.connect(ctx, *url, *credsDir); err != nil {
			stop()
			wg.Wait()
			return err
		}
		c.ready.Add(1)
		wg.Add(1)
		go func() { defer wg.Done(); r.run(ctx) }()
		<-pace.C
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// runnerName is emulated runner i's name, under which its credentials are
// issued.
func runnerName(i int) string { return fmt.Sprintf("fleet-%04d", i) }
