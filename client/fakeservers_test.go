package client

// httptest servers standing in for etcd members, for faults a real member
// cannot be made to produce on demand (the same behaviours against real
// members are tested in tests/), and the clients tests make over them:
//
//   - fakeEtcd: canned answers per method and path under the base path
//     /base, recording every request (members, auth and status tests);
//   - membersServer: a member list and /version (endpoint sync);
//   - countingServer: one answer to everything, counting requests;
//   - hungServer: a member that accepts requests and never answers;
//   - resettingServer: a member that reads a request and drops the
//     connection;
//   - deadEndpoint: an address where nothing listens.
//
// In-memory answers without sockets are in faketransport_test.go.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// pinnedClient makes a client over eps with the first endpoint pinned.
func pinnedClient(t *testing.T, cfg Config, eps ...string) *httpClusterClient {
	t.Helper()
	cfg.Endpoints = eps
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := c.(*httpClusterClient)
	hc.mu.Lock()
	hc.pinned = 0
	hc.mu.Unlock()
	return hc
}

// countingServer answers every request with status and body, counting them.
func countingServer(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Etcd-Index", "5")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// hungServer accepts requests and never answers them (until the client
// gives up or the test ends): a member that stopped answering.
func hungServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) })
	return s
}

// deadEndpoint is an address where nothing listens.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// resettingServer reads each request in full, then drops the connection
// without answering: the request reached a server, the outcome is unknown.
func resettingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
		}
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// route is one canned answer of a fakeEtcd: status and body for a method
// and path.
type route struct {
	status int
	body   string
}

// fakeEtcd serves canned answers under the base path /base (so that a
// request that ignores an endpoint's base path fails loudly) and records
// every request: "METHOD /path" and its body.
type fakeEtcd struct {
	*httptest.Server
	mu       sync.Mutex
	routes   map[string]route // "GET /v2/members" → answer
	requests []string
	bodies   []string
	auth     []string // the Authorization header of each request
	hits     atomic.Int64
}

func newFakeEtcd(t *testing.T, routes map[string]route) *fakeEtcd {
	t.Helper()
	f := &fakeEtcd{routes: routes}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		path, ok := strings.CutPrefix(r.URL.Path, "/base")
		key := r.Method + " " + path
		f.mu.Lock()
		f.requests = append(f.requests, key)
		f.bodies = append(f.bodies, string(body))
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		rt, found := f.routes[key]
		f.mu.Unlock()
		if !ok || !found {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rt.status)
		io.WriteString(w, rt.body)
	}))
	t.Cleanup(f.Close)
	return f
}

// endpoint is the fake's URL with its base path.
func (f *fakeEtcd) endpoint() string { return f.URL + "/base" }

func (f *fakeEtcd) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeEtcd) lastBody() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		return ""
	}
	return f.bodies[len(f.bodies)-1]
}

func (f *fakeEtcd) lastAuth() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.auth) == 0 {
		return ""
	}
	return f.auth[len(f.auth)-1]
}

func newTestClient(t *testing.T, cfg Config, endpoints ...string) Client {
	t.Helper()
	cfg.Endpoints = endpoints
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// membersServer answers GET /v2/members with the given client URLs per
// member, and 200 on /version.
func membersServer(t *testing.T, clientURLs ...[]string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/version":
			io.WriteString(w, `{"etcdserver":"3.5.35","etcdcluster":"3.5.0"}`)
		case "/v2/members":
			var ms []string
			for i, urls := range clientURLs {
				q := make([]string, len(urls))
				for j, u := range urls {
					q[j] = fmt.Sprintf("%q", u)
				}
				ms = append(ms, fmt.Sprintf(`{"id":"%x","name":"m%d","peerURLs":["http://127.0.0.1:1"],"clientURLs":[%s]}`, i+1, i, strings.Join(q, ",")))
			}
			fmt.Fprintf(w, `{"members":[%s]}`+"\n", strings.Join(ms, ","))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}
