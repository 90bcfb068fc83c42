// Package keys_test tests every KeysAPI operation and option against real
// etcd servers, on both backends (clienttest.Backends: the v2 client on
// every version etcdtest.Servers offers, the v3 backend on 3.5 and 3.6),
// with every exchange validated against openapi.yaml or v3keys/openapi.yaml
// by the contract transport. Checks of the v2 wire (statuses, paths,
// queries) apply to the v2 client only; the differences of the v3 backend
// are skipped by name in v3skips_test.go.
package keys_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/contract"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock, and checks that
// no goroutine (client, transport, watch) outlives the tests.
func TestMain(m *testing.M) {
	etcdtest.Main(m)
}

// callTimeout bounds every single client call of these tests; a real etcd on
// loopback answers in milliseconds, so hitting it means a hang.
const callTimeout = 20 * time.Second

// exchange is one request as it went over the wire, below the contract
// transport, with the status etcd answered.
type exchange struct {
	Method string
	Path   string // escaped path, as sent
	Query  string // raw query, as sent
	Form   string // the form body of a PUT or POST, as sent
	Status int    // 0 when the round trip failed
}

// wire is the base transport under the contract transport: it records every
// exchange and tells waiters when etcd has answered the headers of a watch
// (etcd registers the watcher before it sends them, so from then on no event
// can be missed).
type wire struct {
	base *http.Transport

	mu        sync.Mutex
	log       []exchange
	watches   int           // watch requests answered 200 (the watcher is registered)
	watchSeen chan struct{} // closed and replaced at each one
	// before, when set, runs before each request is sent; a test uses it to
	// act in the moment between two requests of the client.
	before func(*http.Request)
}

// setBefore installs f (nil removes it).
func (w *wire) setBefore(f func(*http.Request)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.before = f
}

func newWire() *wire {
	return &wire{
		base: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
		watchSeen: make(chan struct{}),
	}
}

// RoundTrip runs the before hook, sends req and records the exchange.
func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	before := w.before
	w.mu.Unlock()
	if before != nil {
		before(req)
	}
	var form []byte
	if req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			form, _ = io.ReadAll(body)
			body.Close()
		}
	}
	resp, err := w.base.RoundTrip(req)
	x := exchange{Method: req.Method, Path: req.URL.EscapedPath(), Query: req.URL.RawQuery, Form: string(form)}
	if err == nil {
		x.Status = resp.StatusCode
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, x)
	if err == nil && resp.StatusCode == http.StatusOK && isWatch(req) {
		w.watches++
		close(w.watchSeen)
		w.watchSeen = make(chan struct{})
	}
	return resp, err
}

// isWatch reports a watch request: a v2 long poll (wait=true) or a v3
// watch stream.
func isWatch(req *http.Request) bool {
	return (req.Method == http.MethodGet && req.URL.Query().Get("wait") == "true") ||
		(req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/v3/watch"))
}

// exchanges returns a copy of the log from index from on.
func (w *wire) exchanges(from int) []exchange {
	w.mu.Lock()
	defer w.mu.Unlock()
	if from > len(w.log) {
		from = len(w.log)
	}
	return append([]exchange(nil), w.log[from:]...)
}

func (w *wire) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.log)
}

func (w *wire) watchCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watches
}

// last returns the last exchange; the test fails when there is none.
func (w *wire) last(t testing.TB) exchange {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.log) == 0 {
		t.Fatal("no exchange recorded")
	}
	return w.log[len(w.log)-1]
}

// awaitWatches waits until at least n watch requests have had their headers
// answered.
func (w *wire) awaitWatches(ctx context.Context, n int) error {
	for {
		w.mu.Lock()
		got, ch := w.watches, w.watchSeen
		w.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for watch #%d to be registered: %w", n, ctx.Err())
		}
	}
}

// cancelable adapts the contract transport to client.CancelableTransport.
type cancelable struct{ *contract.Transport }

// CancelRequest is a no-op: the client cancels through contexts.
func (cancelable) CancelRequest(*http.Request) {}

// env is one real etcd cluster with a client whose every exchange is
// validated and recorded.
type env struct {
	backend  clienttest.Backend
	server   etcdtest.Server
	cluster  *etcdtest.Cluster
	wire     *wire
	contract *contract.Transport
	client   client.Client // nil for the v3 backend
	kapi     client.KeysAPI
	// opened holds the watchers whose v3 stream is open (see nextAsync).
	opened sync.Map
}

// forEachServer runs fn as a parallel subtest named by backend for every
// backend (the v2 client on every available etcd server, the v3 backend on
// 3.5 and 3.6), each with its own 1-member cluster. When the subtest ends
// it fails if the contract transport saw a violation or saw no exchange at
// all (so the check cannot pass vacuously).
func forEachServer(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range clienttest.Backends(t) {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b)
			fn(t, e)
		})
	}
}

func newEnv(t *testing.T, b clienttest.Backend) *env {
	t.Helper()
	cl := etcdtest.StartCluster(t, b.Server, 1)
	w := newWire()
	t.Cleanup(w.base.CloseIdleConnections)
	ct := contract.New(t, "", w)
	kapi, c := b.KeysAPI(t, cl.Endpoints(), client.Config{Transport: cancelable{ct}})
	e := &env{backend: b, server: b.Server, cluster: cl, wire: w, contract: ct, client: c, kapi: kapi}
	t.Cleanup(func() {
		if n := ct.Violations(); n != 0 {
			t.Errorf("%d contract violations against %s", n, b)
		}
		if ct.Exchanges() == 0 {
			t.Errorf("the contract transport saw no exchange: the zero-violation check proves nothing")
		}
	})
	return e
}

// run runs fn as a subtest and checks that it made at least one exchange and
// caused no contract violation, so each subtest's share is accounted for.
func (e *env) run(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		e.skipOnV3(t)
		v0, x0 := e.contract.Violations(), e.contract.Exchanges()
		fn(t)
		if d := e.contract.Violations() - v0; d != 0 {
			t.Errorf("%d contract violations in this subtest", d)
		}
		if e.contract.Exchanges() == x0 && !t.Skipped() {
			t.Errorf("no exchange went through the contract transport")
		}
	})
}

// ctx returns a context bounded by callTimeout, cancelled with the test.
func ctx(t testing.TB) context.Context { return etcdtest.CallContext(t, callTimeout) }

// must fails the test on err and returns r.
func must(t testing.TB, r *client.Response, err error) *client.Response {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if r == nil {
		t.Fatal("nil response without error")
	}
	return r
}

// set is KeysAPI.Set that fails the test on error.
func (e *env) set(t testing.TB, key, value string, opts *client.SetOptions) *client.Response {
	t.Helper()
	r, err := e.kapi.Set(ctx(t), key, value, opts)
	return must(t, r, err)
}

// get is KeysAPI.Get that fails the test on error.
func (e *env) get(t testing.TB, key string, opts *client.GetOptions) *client.Response {
	t.Helper()
	r, err := e.kapi.Get(ctx(t), key, opts)
	return must(t, r, err)
}

// del is KeysAPI.Delete that fails the test on error.
func (e *env) del(t testing.TB, key string, opts *client.DeleteOptions) *client.Response {
	t.Helper()
	r, err := e.kapi.Delete(ctx(t), key, opts)
	return must(t, r, err)
}

// wantError checks that err holds a client.Error with the given code (found
// with errors.As) and returns it.
func wantError(t testing.TB, err error, code int) client.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want etcd error %d, got success", code)
	}
	var e client.Error
	if !errors.As(err, &e) {
		t.Fatalf("want etcd error %d, errors.As finds no client.Error in %T: %v", code, err, err)
	}
	if e.Code != code {
		t.Fatalf("want errorCode %d, got %d: %v", code, e.Code, e)
	}
	return e
}

// v2wire reports whether the exchanges are the v2 API's, whose statuses,
// paths and queries the tests check; the v3 backend's are the gateway's,
// checked against v3keys/openapi.yaml by the contract transport.
func (e *env) v2wire() bool { return !e.backend.V3 }

// wantStatus checks the HTTP status of the last exchange (v2 only).
func (e *env) wantStatus(t testing.TB, status int) {
	t.Helper()
	if !e.v2wire() {
		return
	}
	if x := e.wire.last(t); x.Status != status {
		t.Errorf("%s %s?%s answered %d, want %d", x.Method, x.Path, x.Query, x.Status, status)
	}
}

// wantQuery checks that the last exchange's query or path holds every given
// fragment (e.g. "quorum=true"); v2 only.
func (e *env) wantQuery(t testing.TB, fragments ...string) {
	t.Helper()
	if !e.v2wire() {
		return
	}
	x := e.wire.last(t)
	for _, f := range fragments {
		if !strings.Contains(x.Query, f) {
			t.Errorf("%s %s?%s: query lacks %q", x.Method, x.Path, x.Query, f)
		}
	}
}

// headers checks what every keys response must carry (the v3 gateway
// gives no raft index).
func (e *env) wantHeaders(t testing.TB, r *client.Response) {
	t.Helper()
	if r.Index == 0 || r.ClusterID == "" || (r.RaftIndex == 0 && e.v2wire()) || r.RaftTerm == 0 {
		t.Errorf("response headers not filled: Index=%d ClusterID=%q RaftIndex=%d RaftTerm=%d", r.Index, r.ClusterID, r.RaftIndex, r.RaftTerm)
	}
}
