package client

// The connection transport (NewTransport, NewWatchTransport) against
// httptest servers and raw listeners: connection reuse, members that close
// idle connections, a request's context ending while its answer is
// awaited, a body closed early, answers with oversized headers, what it
// leaves to net/http, TLS, idle connections that time out, the cap on
// connections per member.

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// watchServer is an httptest server answering "ok" to everything and
// counting the connections it accepted and saw closed.
func watchServer(t *testing.T, tls bool) (srv *httptest.Server, opened, closed *atomic.Int32) {
	t.Helper()
	opened, closed = new(atomic.Int32), new(atomic.Int32)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
		}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, opened, closed
}

// testWatchTransport is NewWatchTransport of a copy of DefaultTransport
// without a proxy, as a Client makes it.
func testWatchTransport(t *testing.T, edit func(*http.Transport)) *conns {
	t.Helper()
	base := DefaultTransport.(*http.Transport).Clone()
	base.Proxy = nil
	if edit != nil {
		edit(base)
	}
	w := NewWatchTransport(base).(*conns)
	t.Cleanup(w.CloseIdleConnections)
	return w
}

// getBody sends a GET of u through rt and returns the body read to its end.
func getBody(t *testing.T, rt http.RoundTripper, u string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", u, err)
	}
	return string(b)
}

func TestWatchTransportReusesConnections(t *testing.T) {
	srv, opened, _ := watchServer(t, false)
	w := testWatchTransport(t, nil)
	for range 5 {
		if got := getBody(t, w, srv.URL+"/v2/keys/a?wait=true"); got != "ok" {
			t.Fatalf("body %q, want ok", got)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("5 requests in a row opened %d connections, want 1", n)
	}
}

// TestWatchTransportMemberClosedIdle: a connection the member closed while
// it was idle is not used again, and a request written on one that the
// member closes without answering is sent again on a new connection.
func TestWatchTransportMemberClosedIdle(t *testing.T) {
	srv, opened, closed := watchServer(t, false)
	w := testWatchTransport(t, nil)
	getBody(t, w, srv.URL+"/a")
	srv.CloseClientConnections()
	waitUntil(t, "the server to close the connection", func() bool { return closed.Load() == 1 })
	if got := getBody(t, w, srv.URL+"/a"); got != "ok" {
		t.Fatalf("after the member closed the idle connection: body %q", got)
	}
	if n := opened.Load(); n != 2 {
		t.Errorf("%d connections opened, want 2", n)
	}

	// A member that reads the second request on a connection and closes
	// it without answering: the request goes again on a new connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := accepted.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					if n == 1 && i == 1 {
						return // the second request on the first connection
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	u := "http://" + ln.Addr().String() + "/a"
	getBody(t, w, u)
	if got := getBody(t, w, u); got != "ok" {
		t.Fatalf("after a reused connection closed unanswered: body %q", got)
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("%d connections accepted, want 2", n)
	}
}

// TestWatchTransportContextEnds: a long poll whose context ends stops
// waiting at once with the context's error, and its connection is not
// reused.
func TestWatchTransportContextEnds(t *testing.T) {
	release := make(chan struct{})
	var opened atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.WriteHeader(http.StatusOK)
		rw.(http.Flusher).Flush()
		if r.URL.Path == "/wait" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	defer close(release)
	w := testWatchTransport(t, nil)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/wait", nil)
	resp, err := w.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("reading the body after its context ended: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the body read still waits 5 s after its context ended")
	}
	resp.Body.Close()
	getBody(t, w, srv.URL+"/now")
	if n := opened.Load(); n != 2 {
		t.Errorf("%d connections opened, want 2: the cancelled one must not be reused", n)
	}

	// A context that has ended before the request is sent.
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/now", nil)
	if _, err := w.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("a request whose context had ended: %v, want context.Canceled", err)
	}
}

// TestWatchTransportEarlyClose: a body closed before its end closes the
// connection and does not read the rest.
func TestWatchTransportEarlyClose(t *testing.T) {
	release := make(chan struct{})
	srv, opened, closed := watchServer(t, false)
	srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "first")
		rw.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done(): // the connection closed
		}
	})
	defer close(release)
	w := testWatchTransport(t, nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/a", nil)
	resp, err := w.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, b); err != nil || string(b) != "first" {
		t.Fatalf("read %q, %v", b, err)
	}
	closedAt := make(chan struct{})
	go func() { resp.Body.Close(); close(closedAt) }()
	select {
	case <-closedAt:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for the rest of a body that never comes")
	}
	waitUntil(t, "the connection to close", func() bool { return closed.Load() == 1 })
	if n, err := resp.Body.Read(b); n != 0 || err == nil {
		t.Errorf("Read after Close: %d, %v", n, err)
	}
	if opened.Load() != 1 || w.idleCount() != 0 {
		t.Errorf("opened %d, idle %d: the connection must be closed, not kept", opened.Load(), w.idleCount())
	}
}

// TestWatchTransportHeaderLimit: an answer whose headers never end is
// refused with an error naming the limit.
func TestWatchTransportHeaderLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Filler: " + strings.Repeat("x", 1000) + "\r\n"
		for range 200 {
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	}()
	w := testWatchTransport(t, func(b *http.Transport) { b.MaxResponseHeaderBytes = 64 << 10 })
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/a", nil)
	_, err = w.RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "exceed 65536 bytes") {
		t.Fatalf("an answer with 200 KB of headers: %v, want an error naming the 65536-byte limit", err)
	}
}

// TestWatchTransportLeavesToNetHTTP: requests a proxy must carry, requests
// cancelled through Request.Cancel and https that may speak HTTP/2 go
// through net/http.
func TestWatchTransportLeavesToNetHTTP(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		io.WriteString(w, "via proxy")
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	w := testWatchTransport(t, func(b *http.Transport) { b.Proxy = http.ProxyURL(pu) })
	if got := getBody(t, w, "http://member.invalid:2379/v2/keys/a"); got != "via proxy" || proxied.Load() != 1 {
		t.Errorf("through a proxy: body %q, %d requests at the proxy", got, proxied.Load())
	}

	// A request cancelled through Request.Cancel (as etcd's original client
	// does) ends when the channel closes.
	hold := make(chan struct{})
	defer close(hold)
	hung := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.(http.Flusher).Flush()
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	w = testWatchTransport(t, nil)
	cancel := make(chan struct{})
	req, _ := http.NewRequest(http.MethodGet, hung.URL+"/wait", nil)
	req.Cancel = cancel
	resp, err := w.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); read <- err }()
	close(cancel)
	select {
	case err := <-read:
		if err == nil {
			t.Error("a body read whose Request.Cancel closed ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a body read still waits 5 s after its Request.Cancel closed")
	}
	resp.Body.Close()

	// https with HTTP/2 allowed: net/http speaks it.
	var proto atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	w = testWatchTransport(t, func(b *http.Transport) {
		b.ForceAttemptHTTP2 = true
		b.TLSClientConfig.RootCAs = pool
	})
	getBody(t, w, srv.URL+"/a")
	if p := proto.Load(); p != "HTTP/2.0" || w.idleCount() != 0 {
		t.Errorf("https with ForceAttemptHTTP2: the member saw %v, %d idle connections kept; want HTTP/2 from net/http", p, w.idleCount())
	}
}

// TestTransportWrites: a request with a body is written whole and its
// connection reused; one that a reused connection lost after it was written
// is not sent again (a write may have been applied), one that the
// transport wrote nothing of is.
func TestTransportWrites(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted, posts atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(req.Body)
					if req.URL.Path == "/lose" {
						posts.Add(1)
						return // read, maybe applied, never answered
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(b))+"\r\n\r\n"+string(b))
					if req.URL.Path == "/bye" {
						return // answered, then closed while idle
					}
				}
			}()
		}
	}()
	w := NewTransport(&http.Transport{}).(*conns)
	defer w.CloseIdleConnections()
	u := "http://" + ln.Addr().String()
	post := func(path, body string) (string, error) {
		req, _ := http.NewRequest(http.MethodPost, u+path, strings.NewReader(body))
		resp, err := w.RoundTrip(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for i := range 3 {
		if got, err := post("/echo", "value="+strconv.Itoa(i)); err != nil || got != "value="+strconv.Itoa(i) {
			t.Fatalf("POST %d: %q, %v", i, got, err)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("3 POSTs opened %d connections, want 1", n)
	}
	// A connection the member closed while it was idle is seen closed
	// before a write is sent on it.
	if got, err := post("/bye", "value=b"); err != nil || got != "value=b" {
		t.Fatalf("POST /bye: %q, %v", got, err)
	}
	if runtime.GOOS == "linux" {
		waitUntil(t, "the member's close to be seen on the idle connection", func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, m := range w.members {
				for _, c := range m.idle {
					if c.peerGone() {
						return true
					}
				}
			}
			return false
		})
		if got, err := post("/echo", "value=after"); err != nil || got != "value=after" {
			t.Fatalf("a POST after the member closed the idle connection: %q, %v", got, err)
		}
		if n := accepted.Load(); n != 2 {
			t.Errorf("%d connections accepted, want 2", n)
		}
	}
	if _, err := post("/lose", "value=x"); err == nil {
		t.Fatal("a POST whose connection closed unanswered succeeded")
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("a POST written on a reused connection that closed unanswered reached the member %d times, want once", n)
	}
}

// TestTransportCap: no more than MaxConnsPerHost connections per member;
// requests over the cap wait for one to come free, or for their context.
func TestTransportCap(t *testing.T) {
	release := make(chan struct{})
	srv, opened, _ := watchServer(t, false)
	srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		io.WriteString(rw, "ok")
	})
	w := NewTransport(&http.Transport{MaxConnsPerHost: 2, MaxIdleConnsPerHost: 2}).(*conns)
	defer w.CloseIdleConnections()
	done := make(chan string, 5)
	for range 5 {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/hold", nil)
			resp, err := w.RoundTrip(req)
			if err != nil {
				done <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- string(b)
		}()
	}
	waitUntil(t, "two connections and three requests waiting under the cap", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		m := w.members[memberKey{addr: srv.Listener.Addr().String()}]
		return opened.Load() == 2 && m != nil && len(m.waiting) == 3
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/a", nil)
	if _, err := w.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a request over the cap whose context ended: %v", err)
	}
	close(release)
	for range 5 {
		if got := <-done; got != "ok" {
			t.Errorf("a request over the cap: %s", got)
		}
	}
	if n := opened.Load(); n != 2 {
		t.Errorf("%d connections opened under a cap of 2", n)
	}
}

// TestWatchTransportTLS: https with the certificate verified, connections
// reused; a member whose certificate is not trusted is refused.
func TestWatchTransportTLS(t *testing.T) {
	srv, opened, _ := watchServer(t, true)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	w := testWatchTransport(t, func(b *http.Transport) { b.TLSClientConfig.RootCAs = pool })
	for range 3 {
		if got := getBody(t, w, srv.URL+"/a"); got != "ok" {
			t.Fatalf("body %q", got)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("3 https requests opened %d connections, want 1", n)
	}
	untrusting := testWatchTransport(t, nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/a", nil)
	var unknown x509.UnknownAuthorityError
	if _, err := untrusting.RoundTrip(req); !errors.As(err, &unknown) {
		t.Errorf("a member with an untrusted certificate: %v, want x509.UnknownAuthorityError", err)
	}
}

// TestWatchTransportIdleLimits: idle connections are closed after the
// base's IdleConnTimeout, and no more than MaxIdleConnsPerHost are kept.
func TestWatchTransportIdleLimits(t *testing.T) {
	srv, _, closed := watchServer(t, false)
	w := testWatchTransport(t, func(b *http.Transport) { b.IdleConnTimeout = 20 * time.Millisecond })
	getBody(t, w, srv.URL+"/a")
	waitUntil(t, "the idle connection to time out", func() bool { return closed.Load() == 1 })
	if left := w.idleCount(); left != 0 {
		t.Errorf("%d idle connections left after the timeout", left)
	}

	w = NewTransport(&http.Transport{MaxIdleConnsPerHost: 1}).(*conns)
	defer w.CloseIdleConnections()
	var bodies []io.ReadCloser
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/a", nil)
		resp, err := w.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
	}
	for _, b := range bodies {
		io.ReadAll(b)
		b.Close()
	}
	waitUntil(t, "two of three connections to be closed", func() bool { return closed.Load() == 3 })
	if n := w.idleCount(); n != 1 {
		t.Errorf("%d idle connections kept, want 1", n)
	}
}

// idleCount is how many idle connections w keeps.
func (w *conns) idleCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.members {
		n += len(m.idle)
	}
	return n
}
