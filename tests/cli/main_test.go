// Package cli tests goetcdctl against real etcd: a differential run of the
// same script with goetcdctl and with etcdctl 3.4 in v2 mode, export and
// import of a 100,000-key tree, watches that keep every event while their
// member is killed and restarted, and the built program itself.
//
// goetcdctl runs in-process through command.Run, with the validating
// transport of clienttest, so that every exchange it makes is checked
// against openapi.yaml; the program test builds the real binary.
package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/cmd/goetcdctl/command"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock, and checks that
// nothing the tests started is still running once they are all done.
func TestMain(m *testing.M) {
	etcdtest.Main(m)
}

// waitTimeout bounds every wait on a condition.
const waitTimeout = 2 * time.Minute

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is what one invocation left behind.
type result struct {
	stdout, stderr string
	code           int
}

// invocation is one command line with its standard input and extra
// environment.
type invocation struct {
	args  []string
	stdin string
	env   map[string]string
}

// tool runs invocations of one command line program against one cluster.
type tool interface {
	name() string
	// start begins an invocation; wait(stop) ends it: stop interrupts it
	// first (Ctrl-C) when it would not end by itself.
	start(t *testing.T, inv invocation) (wait func(stop bool) result, stdout *syncBuffer)
}

// run is start and wait without an interrupt.
func run(t *testing.T, tl tool, inv invocation) result {
	wait, _ := tl.start(t, inv)
	return wait(false)
}

// goetcdctl runs command.Run in-process with a validating transport.
type goetcdctl struct {
	endpoints []string
	transport client.CancelableTransport
}

func newGoetcdctl(t *testing.T, endpoints []string) *goetcdctl {
	return &goetcdctl{endpoints: endpoints, transport: clienttest.NewTransport(t, nil)}
}

func (g *goetcdctl) name() string { return "goetcdctl" }

func (g *goetcdctl) start(t *testing.T, inv invocation) (func(bool) result, *syncBuffer) {
	env := map[string]string{"ETCDCTL_ENDPOINTS": strings.Join(g.endpoints, ",")}
	for k, v := range inv.env {
		env[k] = v
	}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	environ = append(environ, "PATH="+os.Getenv("PATH"))
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		done <- command.Run(ctx, command.Env{
			Args:      append([]string{"goetcdctl"}, inv.args...),
			Stdin:     strings.NewReader(inv.stdin),
			Stdout:    stdout,
			Stderr:    stderr,
			Getenv:    func(k string) string { return env[k] },
			Environ:   environ,
			Transport: g.transport,
		})
	}()
	return func(stop bool) result {
		if stop {
			cancel()
		}
		defer cancel()
		select {
		case code := <-done:
			return result{stdout.String(), stderr.String(), code}
		case <-time.After(waitTimeout):
			cancel()
			t.Fatalf("goetcdctl %q did not end", inv.args)
			return result{}
		}
	}, stdout
}

// etcdctl runs Debian's etcdctl 3.4 in v2 mode as a process.
type etcdctl struct {
	path      string
	endpoints []string
}

// etcdctlVersion is the etcdctl the differential test compares with.
const etcdctlVersion = "3.4.23"

// findEtcdctl returns Debian's etcdctl when it is the expected version.
func findEtcdctl() (string, string) {
	path, err := exec.LookPath("etcdctl")
	if err != nil {
		return "", "etcdctl is not installed (Debian package etcd-client; .ci/run installs it)"
	}
	cmd := exec.Command(path, "--version")
	cmd.Env = append(os.Environ(), "ETCDCTL_API=2")
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "etcdctl version: "+etcdctlVersion) {
		return "", "etcdctl at " + path + " is not " + etcdctlVersion + " (it said " + strings.TrimSpace(string(out)) + ")"
	}
	return path, ""
}

func (e *etcdctl) name() string { return "etcdctl" }

func (e *etcdctl) start(t *testing.T, inv invocation) (func(bool) result, *syncBuffer) {
	cmd := exec.Command(e.path, inv.args...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=2", "ETCDCTL_ENDPOINTS="+strings.Join(e.endpoints, ","))
	for k, v := range inv.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(inv.stdin)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("etcdctl: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return func(stop bool) result {
		if stop {
			_ = cmd.Process.Signal(os.Interrupt)
		}
		select {
		case <-done:
		case <-time.After(waitTimeout):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("etcdctl %q did not end", inv.args)
		}
		return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
	}, stdout
}

// hexID matches etcd member ids.
var hexID = regexp.MustCompile(`\b[0-9a-f]{14,16}\b`)
