// The connection transport: HTTP/1.1 on connections goetcd keeps itself,
// each request written and its answer read by the goroutine that sends it
// and reads its body.

package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// NewTransport returns the transport a Client sends its requests through
// when Config.Transport is an *http.Transport (DefaultTransport included),
// with t's settings. It speaks HTTP/1.1 on connections it keeps itself:
// the goroutine that sends a request writes it and reads the answer, where
// net/http's Transport hands both to two goroutines it keeps per
// connection, so a request costs fewer goroutine switches and less CPU.
//
// It dials with t's DialContext and speaks TLS with t's TLSClientConfig
// and TLSHandshakeTimeout. It opens at most t.MaxConnsPerHost connections
// per member (none when 0; a request over the cap waits for a connection to
// come free), keeps up to t.MaxIdleConnsPerHost idle ones per member (2
// when 0) for t.IdleConnTimeout, checks that an idle connection is still
// open before it reuses it, and sends a request again on a new connection
// when a reused one turns out closed — a write only when none of it was
// written. Status line and headers are bounded by t.MaxResponseHeaderBytes
// (1 MiB when 0). A request it does not send this way goes through t
// itself: one that t's Proxy sends through a proxy, https when t dials TLS
// itself or may speak HTTP/2, a scheme other than http and https, one
// cancelled through the deprecated Request.Cancel channel rather than its
// context, and every request when t sets a ResponseHeaderTimeout (the
// Client bounds the wait for headers with Config.HeaderTimeoutPerRequest).
func NewTransport(t *http.Transport) CancelableTransport {
	return &conns{base: t}
}

// NewWatchTransport returns the transport a Client makes for its watches
// when Config.WatchTransport is nil and its Transport is an *http.Transport:
// NewTransport of WatchTransportFor(t), so without a cap on connections,
// with a 1 KiB read buffer per connection and room for 1,024 idle
// connections per member. A waiting watcher costs its own goroutine, which
// reads the answer, the buffer and its connection, where net/http's
// Transport adds two goroutines per connection.
func NewWatchTransport(t *http.Transport) CancelableTransport {
	return NewTransport(WatchTransportFor(t))
}

// defaultDialer dials when the base transport has no DialContext, as
// DefaultTransport's does.
var defaultDialer = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}

// headerLimit bounds the status line and headers of an answer read by the
// connection transport when its base sets no MaxResponseHeaderBytes.
const headerLimit = 1 << 20

// conns is the transport NewTransport returns.
type conns struct {
	// base sends what conns does not, and is where its settings are read
	// from, each time they are needed (as net/http's Transport, it may be
	// set up after it was handed over, before its first request).
	base *http.Transport

	mu sync.Mutex
	// members holds the connections of each scheme and address.
	members map[memberKey]*member
	// sweep closes idle connections that outlived idleTimeout.
	sweep *time.Timer
}

// memberKey is a scheme and address.
type memberKey struct {
	https bool
	addr  string
}

// member is what conns keeps of one scheme and address.
type member struct {
	// idle are the idle connections, the most recently used last.
	idle []*conn
	// open counts the connections open, idle or not.
	open int
	// waiting are the requests waiting for a connection under the cap: each
	// is sent an idle connection, or nil when it may dial one.
	waiting []chan *conn
}

// conn is one connection of the transport.
type conn struct {
	key memberKey
	nc  net.Conn
	// lr bounds what the answer's headers may read from nc; br reads
	// through it.
	lr        io.LimitedReader
	br        *bufio.Reader
	idleSince time.Time
	// written counts the bytes of the current request written to nc.
	written int64
	// peekFn, peekBuf, gone and peeked serve peerGone.
	peekFn  func(fd uintptr) bool
	peekBuf [1]byte
	gone    bool
	peeked  int
}

// Write writes to the connection, counting what was written.
func (c *conn) Write(p []byte) (int, error) {
	n, err := c.nc.Write(p)
	c.written += int64(n)
	return n, err
}

// writers are the buffers requests are written through, by size, shared
// by all connection transports: a request is written at once, so no
// connection needs one of its own.
var writers sync.Map // int -> *sync.Pool

// writerPool returns the pool of the buffers of size bytes.
func writerPool(size int) *sync.Pool {
	p, ok := writers.Load(size)
	if !ok {
		p, _ = writers.LoadOrStore(size, &sync.Pool{New: func() any { return bufio.NewWriterSize(nil, size) }})
	}
	return p.(*sync.Pool)
}

// RoundTrip sends req and reads its answer's status and headers; the body
// is read from the connection as the caller reads it. The connection goes
// back to the idle pool when the body has been read to its end, and is
// closed when the body is closed before that or req's context ends.
func (w *conns) RoundTrip(req *http.Request) (*http.Response, error) {
	if !w.serves(req) {
		return w.base.RoundTrip(req)
	}
	ctx := req.Context()
	key := memberKey{https: req.URL.Scheme == "https", addr: hostPort(req.URL)}
	bodyless := req.Body == nil || req.Body == http.NoBody
	for {
		c, reused, err := w.conn(ctx, key, req.URL)
		if err == nil && ctx.Err() != nil {
			// Ended while it waited for a connection: the connection
			// stays good for others.
			w.put(c)
			err = ctx.Err()
		}
		if err != nil {
			if !bodyless {
				req.Body.Close()
			}
			return nil, ctxOr(ctx, err)
		}
		resp, err := w.exchange(req, c)
		if err == nil {
			return resp, nil
		}
		w.drop(c)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A reused connection the member closed while it was idle: the
		// request is sent again on another, if it may be — when nothing of
		// it was written, or it is a bodyless GET or HEAD.
		replay := c.written == 0 || bodyless && (req.Method == http.MethodGet || req.Method == http.MethodHead)
		if !reused || !replay {
			return nil, err
		}
		if !bodyless {
			// What was read of the body for the lost attempt is gone: the
			// request goes again with the body afresh, or not at all.
			if req.GetBody == nil {
				return nil, err
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			again := *req
			again.Body = body
			req = &again
		}
	}
}

// serves says whether req is sent by conns itself.
func (w *conns) serves(req *http.Request) bool {
	b := w.base
	if b.ResponseHeaderTimeout > 0 || req.Cancel != nil {
		return false
	}
	switch req.URL.Scheme {
	case "http":
	case "https":
		if b.DialTLSContext != nil || b.DialTLS != nil || b.ForceAttemptHTTP2 ||
			b.TLSClientConfig != nil && slices.Contains(b.TLSClientConfig.NextProtos, "h2") {
			return false
		}
	default:
		return false
	}
	if b.Proxy != nil {
		if p, err := b.Proxy(req); p != nil || err != nil {
			return false
		}
	}
	return true
}

// exchange writes req on c and reads the answer's headers.
func (w *conns) exchange(req *http.Request, c *conn) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	size := w.base.WriteBufferSize
	if size <= 0 {
		size = 4 << 10 // as net/http's
	}
	pool := writerPool(size)
	bw := pool.Get().(*bufio.Writer)
	bw.Reset(c)
	c.written = 0
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	pool.Put(bw)
	if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{Err: err})
	}
	var resp *http.Response
	if err == nil {
		limit := w.base.MaxResponseHeaderBytes
		if limit <= 0 {
			limit = headerLimit
		}
		c.lr.N = limit
		resp, err = http.ReadResponse(c.br, req)
		if err != nil && c.lr.N <= 0 {
			err = fmt.Errorf("answer from %s: status line and headers exceed %d bytes", req.URL.Host, limit)
		}
		c.lr.N = math.MaxInt64
	}
	if err != nil {
		stop()
		return nil, err
	}
	keep := !resp.Close && !req.Close && !w.base.DisableKeepAlives
	if resp.Body == http.NoBody {
		// Nothing more to read: the connection is free at once.
		w.release(c, stop, keep)
		return resp, nil
	}
	resp.Body = &connBody{w: w, c: c, rc: resp.Body, ctx: ctx, stop: stop, keep: keep}
	return resp, nil
}

// conn returns an open idle connection for key, or dials one — once the cap
// leaves room for it; reused says which.
func (w *conns) conn(ctx context.Context, key memberKey, u *url.URL) (c *conn, reused bool, err error) {
	for {
		c, dial, wait := w.take(key)
		if wait != nil {
			select {
			case c = <-wait:
				dial = c == nil
			case <-ctx.Done():
				w.giveUp(key, wait)
				return nil, false, ctx.Err()
			}
		}
		if dial {
			break
		}
		if c.isOpen() {
			return c, true, nil
		}
		w.drop(c)
	}
	dial := w.base.DialContext
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	nc, err := dial(ctx, "tcp", key.addr)
	if err == nil && key.https {
		nc, err = w.handshake(ctx, nc, u)
	}
	if err != nil {
		w.closed(key)
		return nil, false, err
	}
	c = &conn{key: key, nc: nc}
	c.lr = io.LimitedReader{R: nc, N: math.MaxInt64}
	size := w.base.ReadBufferSize
	if size <= 0 {
		size = 4 << 10 // as net/http's
	}
	c.br = bufio.NewReaderSize(&c.lr, size)
	return c, false, nil
}

// take returns the most recently used idle connection for key; or, with
// dial set, room under the cap to dial one (counted as open); or a channel
// to wait on for either.
func (w *conns) take(key memberKey) (c *conn, dial bool, wait chan *conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.member(key)
	if n := len(m.idle); n > 0 {
		c = m.idle[n-1]
		m.idle[n-1] = nil
		m.idle = m.idle[:n-1]
		return c, false, nil
	}
	if w.base.MaxConnsPerHost <= 0 || m.open < w.base.MaxConnsPerHost {
		m.open++
		return nil, true, nil
	}
	wait = make(chan *conn, 1)
	m.waiting = append(m.waiting, wait)
	return nil, false, wait
}

// giveUp takes a request that stopped waiting off key's list; what it was
// sent meanwhile goes to the next.
func (w *conns) giveUp(key memberKey, wait chan *conn) {
	w.mu.Lock()
	m := w.member(key)
	if i := slices.Index(m.waiting, wait); i >= 0 {
		m.waiting = slices.Delete(m.waiting, i, i+1)
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	if c := <-wait; c != nil {
		w.put(c)
	} else {
		w.closed(key)
	}
}

// member returns what is kept of key; w.mu is held.
func (w *conns) member(key memberKey) *member {
	m := w.members[key]
	if m == nil {
		if w.members == nil {
			w.members = map[memberKey]*member{}
		}
		m = &member{}
		w.members[key] = m
	}
	return m
}

// handshake speaks TLS on nc as the base transport would, HTTP/1.1 only.
func (w *conns) handshake(ctx context.Context, nc net.Conn, u *url.URL) (net.Conn, error) {
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

// isOpen says whether an idle connection is still open: nothing may be
// waiting to be read on it, not even the member's end of the connection.
func (c *conn) isOpen() bool {
	return c.br.Buffered() == 0 && !c.peerGone()
}

// put keeps c for the next request: it goes to a request waiting under the
// cap, or to the idle pool; it is closed when the pool is full.
func (w *conns) put(c *conn) {
	c.idleSince = time.Now()
	w.mu.Lock()
	m := w.member(c.key)
	if len(m.waiting) > 0 {
		wait := m.waiting[0]
		m.waiting = m.waiting[1:]
		w.mu.Unlock()
		wait <- c
		return
	}
	maxIdle := w.base.MaxIdleConnsPerHost
	if maxIdle == 0 {
		maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	if len(m.idle) >= maxIdle {
		w.mu.Unlock()
		w.drop(c)
		return
	}
	m.idle = append(m.idle, c)
	if d := w.base.IdleConnTimeout; d > 0 && w.sweep == nil {
		w.sweep = time.AfterFunc(d, w.expire)
	}
	w.mu.Unlock()
}

// drop closes c, which is neither idle nor in use any more.
func (w *conns) drop(c *conn) {
	c.nc.Close()
	w.closed(c.key)
}

// closed counts a connection of key closed (or never opened): a request
// waiting under the cap may dial in its place.
func (w *conns) closed(key memberKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.member(key)
	if len(m.waiting) > 0 {
		wait := m.waiting[0]
		m.waiting = m.waiting[1:]
		wait <- nil
		return
	}
	m.open--
}

// expire closes the idle connections that outlived idleTimeout and plans
// the next sweep while any remain.
func (w *conns) expire() {
	now, timeout := time.Now(), w.base.IdleConnTimeout
	var old []*conn
	w.mu.Lock()
	w.sweep = nil
	var next time.Time
	for _, m := range w.members {
		i := 0
		for i < len(m.idle) && now.Sub(m.idle[i].idleSince) >= timeout {
			i++
		}
		old = append(old, m.idle[:i]...)
		m.idle = slices.Delete(m.idle, 0, i)
		if len(m.idle) > 0 && (next.IsZero() || m.idle[0].idleSince.Before(next)) {
			next = m.idle[0].idleSince
		}
	}
	if !next.IsZero() {
		w.sweep = time.AfterFunc(next.Add(timeout).Sub(now), w.expire)
	}
	w.mu.Unlock()
	for _, c := range old {
		w.drop(c)
	}
}

// CloseIdleConnections closes the idle connections, its own and its
// base's.
func (w *conns) CloseIdleConnections() {
	var idle []*conn
	w.mu.Lock()
	for _, m := range w.members {
		idle = append(idle, m.idle...)
		m.idle = nil
	}
	w.mu.Unlock()
	for _, c := range idle {
		w.drop(c)
	}
	w.base.CloseIdleConnections()
}

// CancelRequest does nothing: requests end with their context.
func (w *conns) CancelRequest(*http.Request) {}

// connBody is the body of an answer read by the connection transport.
type connBody struct {
	w    *conns
	c    *conn
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
func (b *connBody) Read(p []byte) (int, error) {
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
func (b *connBody) Close() error {
	b.end(false)
	return nil
}

// end gives the connection back when the body was read to its end and
// nothing else is on it, and closes it otherwise.
func (b *connBody) end(eof bool) {
	if !b.ended.CompareAndSwap(false, true) {
		return
	}
	b.w.release(b.c, b.stop, eof && b.keep)
}

// release frees c once its answer has been read: back to the pool when it
// may serve another request (keep), its request's context did not end
// (stop unregisters the close on it) and nothing unasked waits on it;
// closed otherwise.
func (w *conns) release(c *conn, stop func() bool, keep bool) {
	if stop() && keep && c.br.Buffered() == 0 {
		w.put(c)
		return
	}
	w.drop(c)
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
