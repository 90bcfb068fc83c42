// Command demo is `make demo`: it starts a throwaway single-node etcd 3.5.35
// with the v2 API on free loopback ports and a temporary data directory, runs
// examples/quickstart against it, then stops the server and removes its data,
// whatever happened.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	fmt.Println("demo: building etcd 3.5.35 (cached after the first run)...")
	bin, err := etcdtest.Build35(ctx)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "goetcd-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cport, err := freePort()
	if err != nil {
		return err
	}
	pport, err := freePort()
	if err != nil {
		return err
	}
	curl := fmt.Sprintf("http://127.0.0.1:%d", cport)
	purl := fmt.Sprintf("http://127.0.0.1:%d", pport)
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	srv := exec.Command(bin,
		"--name", "demo", "--data-dir", filepath.Join(dir, "data"), "--enable-v2=true",
		"--listen-client-urls", curl, "--advertise-client-urls", curl,
		"--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
		"--initial-cluster", "demo="+purl, "--initial-cluster-state", "new",
		"--log-outputs", "stderr", "--log-level", "error")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
		fmt.Println("demo: etcd stopped, data removed")
	}()
	fmt.Printf("demo: etcd with the v2 API listening on %s\n", curl)
	if err := waitHealthy(ctx, curl); err != nil {
		return fmt.Errorf("%w (log: %s)", err, logf.Name())
	}

	qs := exec.CommandContext(ctx, "go", "run", "./examples/quickstart", "-endpoints", curl)
	qs.Dir = ".."
	qs.Stdout, qs.Stderr = os.Stdout, os.Stderr
	fmt.Println("demo: go run ./examples/quickstart -endpoints", curl)
	return qs.Run()
}

// waitHealthy polls /health until the member answers 200 (it has a leader).
func waitHealthy(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd at %s did not become healthy: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
