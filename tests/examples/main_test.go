// Package examples_test runs the client package documentation's examples as
// testable examples against a real etcd 3.5, every exchange validated
// against openapi.yaml.
package examples_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meycoin/goetcd/tests/contract"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain starts one 1-member etcd 3.5 for the examples, points
// exampleEndpoints and exampleTransport at it, runs them, and stops it. The
// run fails on a contract violation, on a run that exchanged nothing, and on
// goroutines left behind.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) (code int) {
	tb := newMainTB()
	defer func() {
		if r := recover(); r != nil && r != errFatal {
			panic(r)
		} else if r == errFatal {
			code = 1
		}
		tb.finish()
		if tb.Failed() {
			fmt.Fprint(os.Stderr, tb.logs())
			code = 1
		}
		if code == 0 {
			if err := goleak.Find(); err != nil {
				fmt.Fprintln(os.Stderr, "examples: goroutines left behind:", err)
				code = 1
			}
		}
	}()

	flag.Parse() // m.Run would, but the -run filter is needed first
	path, err := etcdtest.Build35(tb.Context())
	if err != nil {
		tb.Fatalf("%v", err)
	}
	cl := etcdtest.StartCluster(tb, etcdtest.Server{Version: etcdtest.Version35, Path: path}, 1)

	base := &http.Transport{
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		IdleConnTimeout: 30 * time.Second,
	}
	tb.Cleanup(base.CloseIdleConnections)
	ct := contract.New(tb, "", base)
	exampleEndpoints = cl.Endpoints()
	exampleTransport = cancelable{ct}

	code = m.Run()
	if testing.Verbose() {
		fmt.Printf("examples: %d exchanges with %s validated against openapi.yaml\n", ct.Exchanges(), exampleEndpoints[0])
	}
	if n := ct.Violations(); n != 0 {
		fmt.Fprintf(os.Stderr, "examples: %d contract violations\n", n)
		code = 1
	}
	if ct.Exchanges() == 0 && flag.Lookup("test.run").Value.String() == "" {
		fmt.Fprintln(os.Stderr, "examples: the examples made no exchange; the contract check proves nothing")
		code = 1
	}
	return code
}

// cancelable adapts the contract transport to client.CancelableTransport.
type cancelable struct{ *contract.Transport }

// CancelRequest is a no-op: the client cancels through contexts.
func (cancelable) CancelRequest(*http.Request) {}

// errFatal unwinds run when mainTB.Fatalf is called.
var errFatal = errors.New("examples: fatal")

// mainTB is the part of testing.TB that etcdtest.StartCluster and
// contract.New use, for TestMain, which has no *testing.T. Any other method
// panics through the nil embedded interface.
type mainTB struct {
	testing.TB

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	failed   bool
	cleanups []func()
	log      strings.Builder
}

func newMainTB() *mainTB {
	ctx, cancel := context.WithCancel(context.Background())
	return &mainTB{ctx: ctx, cancel: cancel}
}

// Helper does nothing.
func (*mainTB) Helper() {}

// Context is cancelled by finish, before the cleanups run.
func (t *mainTB) Context() context.Context { return t.ctx }

// Logf keeps the line; it is printed if the run fails.
func (t *mainTB) Logf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(&t.log, format+"\n", args...)
}

// Errorf prints at once and marks the run failed.
func (t *mainTB) Errorf(format string, args ...any) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	fmt.Fprintf(os.Stderr, "examples: "+format+"\n", args...)
}

// Fatalf is Errorf, then unwinds to run.
func (t *mainTB) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	panic(errFatal)
}

// Failed reports whether Errorf or Fatalf was called.
func (t *mainTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// Cleanup registers f to run in finish, last registered first.
func (t *mainTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// TempDir makes a directory that finish removes.
func (t *mainTB) TempDir() string {
	dir, err := os.MkdirTemp("", "goetcd-examples-")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *mainTB) logs() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.log.String()
}

// finish cancels the context and runs the cleanups (which stop etcd).
func (t *mainTB) finish() {
	t.cancel()
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.mu.Unlock()
			return
		}
		f := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		f()
	}
}
