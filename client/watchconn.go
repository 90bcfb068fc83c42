// The watch transport: HTTP/1.1 on connections it keeps itself, each
// answer read by the goroutine that reads its body.

package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// NewWatchTransport returns the transport a Client makes for its watches
// when Config.WatchTransport is nil and its Transport is an *http.Transport
// with a MaxConnsPerHost cap. It sends watch requests over HTTP/1.1 on
// connections it keeps itself and reads each answer on the goroutine that
// reads the answer's body — the watcher's own — where net/http's
// Transport keeps two goroutines per connection (one reading, one
// writing). A waiting watcher then costs its own goroutine, a 1 KiB read
// buffer and its connection.
//
// It dials with t's DialContext and speaks TLS with t's TLSClientConfig
// and TLSHandshakeTimeout; it keeps up to max(t.MaxIdleConnsPerHost,
// 1,024) idle connections per member for t.IdleConnTimeout, checks that an
// idle connection is still open before it reuses it, and sends a request
// again on a new connection when a reused one turns out closed. A request
// it cannot send this way goes through WatchTransportFor(t): one with a
// body, one that t's Proxy sends through a proxy, https when t dials TLS
// itself or may speak HTTP/2, or a scheme other than http and https.
func NewWatchTransport(t *http.Transport) CancelableTransport {
	base := WatchTransportFor(t)
	w := &watchConns{base: base, dial: base.DialContext}
	if w.dial == nil {
		w.dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	w.maxIdle = base.MaxIdleConnsPerHost
	w.idleTimeout = base.IdleConnTimeout
	w.headerLimit = base.MaxResponseHeaderBytes
	if w.headerLimit <= 0 {
		w.headerLimit = watchHeaderLimit
	}
	w.readBuffer = base.ReadBufferSize
	w.tlsOK = base.DialTLSContext == nil && base.DialTLS == nil && !base.ForceAttemptHTTP2 &&
		(base.TLSClientConfig == nil || !slices.Contains(base.TLSClientConfig.NextProtos, "h2"))
	return w
}

// watchHeaderLimit bounds the status line and headers of an answer read by
// the watch transport when its base sets no MaxResponseHeaderBytes.
const watchHeaderLimit = 1 << 20

// watchConns is the transport NewWatchTransport returns.
type watchConns struct {
	// base sends what the watch transport does not, and is where its
	// settings come from.
	base        *http.Transport
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle     int
	idleTimeout time.Duration
	headerLimit int64
	readBuffer  int
	// tlsOK says https requests may be sent here.
	tlsOK bool

	mu sync.Mutex
	// idle holds the idle connections by scheme and address, the most
	// recently used last.
	idle map[string][]*watchConn
	// sweep closes idle connections that outlived idleTimeout.
	sweep *time.Timer
}

// watchConn is one connection of the watch transport.
type watchConn struct {
	key string
	nc  net.Conn
	// lr bounds what the answer's headers may read from nc; br reads
	// through it.
	lr        io.LimitedReader
	br        *bufio.Reader
	idleSince time.Time
}

// watchWriters are the buffers requests are written through, shared by all
// watch transports: a request is written at once, so no connection needs
// one of its own.
var watchWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, watchWriteBuffer) }}

// RoundTrip sends req and reads its answer's status and headers; the body
// is read from the connection as the caller reads it. The connection goes
// back to the idle pool when the body has been read to its end, and is
// closed when the body is closed before that or req's context ends.
func (w *watchConns) RoundTrip(req *http.Request) (*http.Response, error) {
	if !w.serves(req) {
		return w.base.RoundTrip(req)
	}
	ctx := req.Context()
	key := req.URL.Scheme + "://" + hostPort(req.URL)
	for {
		wc, reused, err := w.conn(ctx, key, req.URL)
		if err != nil {
			return nil, ctxOr(ctx, err)
		}
		resp, err := w.exchange(req, wc)
		if err == nil {
			return resp, nil
		}
		wc.nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A reused connection the member closed while it was idle: the
		// request (a bodyless GET) is sent again on a new one.
		if !reused {
			return nil, err
		}
	}
}

// serves says whether req is sent by the watch transport itself.
func (w *watchConns) serves(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody || req.Method != http.MethodGet {
		return false
	}
	switch req.URL.Scheme {
	case "http":
	case "https":
		if !w.tlsOK {
			return false
		}
	default:
		return false
	}
	if w.base.Proxy != nil {
		if p, err := w.base.Proxy(req); p != nil || err != nil {
			return false
		}
	}
	return true
}

// exchange writes req on wc and reads the answer's headers.
func (w *watchConns) exchange(req *http.Request, wc *watchConn) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { wc.nc.Close() })
	bw := watchWriters.Get().(*bufio.Writer)
	bw.Reset(wc.nc)
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	watchWriters.Put(bw)
	var resp *http.Response
	if err == nil {
		wc.lr.N = w.headerLimit
		resp, err = http.ReadResponse(wc.br, req)
		if err != nil && wc.lr.N <= 0 {
			err = fmt.Errorf("answer from %s: status line and headers exceed %d bytes", req.URL.Host, w.headerLimit)
		}
		wc.lr.N = math.MaxInt64
	}
	if err != nil {
		stop()
		return nil, err
	}
	resp.Body = &watchBody{w: w, wc: wc, rc: resp.Body, ctx: ctx, stop: stop,
		keep: !resp.Close && !req.Close && !w.base.DisableKeepAlives}
	return resp, nil
}

// conn returns an open idle connection for key, or dials one; reused says
// which.
func (w *watchConns) conn(ctx context.Context, key string, u *url.URL) (wc *watchConn, reused bool, err error) {
	for {
		wc := w.take(key)
		if wc == nil {
			break
		}
		if wc.open() {
			return wc, true, nil
		}
		wc.nc.Close()
	}
	addr := hostPort(u)
	nc, err := w.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	if u.Scheme == "https" {
		if nc, err = w.handshake(ctx, nc, u); err != nil {
			return nil, false, err
		}
	}
	wc = &watchConn{key: key, nc: nc}
	wc.lr = io.LimitedReader{R: nc, N: math.MaxInt64}
	wc.br = bufio.NewReaderSize(&wc.lr, max(w.readBuffer, 16))
	return wc, false, nil
}

// handshake speaks TLS on nc as the base transport would, HTTP/1.1 only.
func (w *watchConns) handshake(ctx context.Context, nc net.Conn, u *url.URL) (net.Conn, error) {
	cfg := &tls.Config{}
	if w.base.TLSClientConfig != nil {
		cfg = w.base.TLSClientConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	if d := w.base.TLSHandshakeTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// open says whether an idle connection is still open: nothing may be
// waiting to be read on it, not even the member's end of the connection.
func (wc *watchConn) open() bool {
	if wc.br.Buffered() > 0 {
		return false
	}
	if err := wc.nc.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		return false
	}
	_, err := wc.br.Peek(1)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	return wc.nc.SetReadDeadline(time.Time{}) == nil
}

// take removes and returns the most recently used idle connection for key.
func (w *watchConns) take(key string) *watchConn {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.idle[key]
	if len(l) == 0 {
		return nil
	}
	wc := l[len(l)-1]
	l[len(l)-1] = nil
	w.idle[key] = l[:len(l)-1]
	return wc
}

// put keeps wc for the next request, or closes it when the pool is full.
func (w *watchConns) put(wc *watchConn) {
	wc.idleSince = time.Now()
	w.mu.Lock()
	if w.idle == nil {
		w.idle = map[string][]*watchConn{}
	}
	l := w.idle[wc.key]
	if len(l) >= max(w.maxIdle, 1) {
		w.mu.Unlock()
		wc.nc.Close()
		return
	}
	w.idle[wc.key] = append(l, wc)
	if w.idleTimeout > 0 && w.sweep == nil {
		w.sweep = time.AfterFunc(w.idleTimeout, w.expire)
	}
	w.mu.Unlock()
}

// expire closes the idle connections that outlived idleTimeout and plans
// the next sweep while any remain.
func (w *watchConns) expire() {
	now := time.Now()
	var old []*watchConn
	w.mu.Lock()
	w.sweep = nil
	var next time.Time
	for key, l := range w.idle {
		i := 0
		for i < len(l) && now.Sub(l[i].idleSince) >= w.idleTimeout {
			i++
		}
		old = append(old, l[:i]...)
		l = slices.Delete(l, 0, i)
		if len(l) == 0 {
			delete(w.idle, key)
			continue
		}
		w.idle[key] = l
		if next.IsZero() || l[0].idleSince.Before(next) {
			next = l[0].idleSince
		}
	}
	if !next.IsZero() {
		w.sweep = time.AfterFunc(next.Add(w.idleTimeout).Sub(now), w.expire)
	}
	w.mu.Unlock()
	for _, wc := range old {
		wc.nc.Close()
	}
}

// CloseIdleConnections closes the idle connections, its own and its
// base's.
func (w *watchConns) CloseIdleConnections() {
	w.mu.Lock()
	idle := w.idle
	w.idle = nil
	w.mu.Unlock()
	for _, l := range idle {
		for _, wc := range l {
			wc.nc.Close()
		}
	}
	w.base.CloseIdleConnections()
}

// CancelRequest does nothing: requests end with their context.
func (w *watchConns) CancelRequest(*http.Request) {}

// watchBody is the body of an answer read by the watch transport.
type watchBody struct {
	w    *watchConns
	wc   *watchConn
	rc   io.ReadCloser
	ctx  context.Context
	stop func() bool
	// keep says the connection may serve another request once the body
	// has been read to its end.
	keep bool
	// ended is set once the connection was given back or closed; eof
	// says the body was read to its end.
	ended, eof atomic.Bool
}

// Read reads the body from the connection; when the request's context has
// ended it says so instead of naming the closed connection.
func (b *watchBody) Read(p []byte) (int, error) {
	if b.eof.Load() {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.eof.Store(true)
		b.end(true)
	case err != nil:
		b.end(false)
		err = ctxOr(b.ctx, err)
	}
	return n, err
}

// Close closes the connection unless the body was read to its end. It
// never reads what is left of the body: a long poll's may never come.
func (b *watchBody) Close() error {
	b.end(false)
	return nil
}

// end gives the connection back to the pool when the body was read to its
// end and nothing else is on it, and closes it otherwise.
func (b *watchBody) end(eof bool) {
	if !b.ended.CompareAndSwap(false, true) {
		return
	}
	if b.stop() && eof && b.keep && b.wc.br.Buffered() == 0 {
		b.w.put(b.wc)
		return
	}
	b.wc.nc.Close()
}

// ctxOr returns ctx's error when ctx has ended (the error is then from the
// connection closed because of it), err otherwise.
func ctxOr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// hostPort is u's host with the scheme's port when it names none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}
