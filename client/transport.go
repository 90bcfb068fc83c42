// One attempt: its context, its registration with member health, the
// header timeout, redirects followed by hand, and the note that a one-shot
// write has been sent.

package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// headerTimeoutError says a member did not answer in time.
type headerTimeoutError struct {
	endpoint string
	timeout  time.Duration
}

func (e *headerTimeoutError) Error() string {
	return fmt.Sprintf("no response headers from %s within %v (HeaderTimeoutPerRequest)", e.endpoint, e.timeout)
}

// Timeout marks the error as a timeout for net.Error users.
func (e *headerTimeoutError) Timeout() bool { return true }

// attempt is what one attempt needs to know of its call.
type attempt struct {
	// member is the endpoint's name, for health.
	member string
	// watch sends through the watch transport; oneShot notes in sent when
	// the request has been written in full (from then on it may have been
	// applied); raft marks a write or quorum read for health.
	watch, oneShot, raft bool
	sent                 atomic.Bool
	// timedOut is set when the header timeout ended the attempt.
	timedOut atomic.Bool
	// w is the attempt's registration with member health while it waits
	// for headers.
	w waiter
	// body wraps the answer's body to end the attempt's registration with
	// member health when it is closed (and, for a watch, whose body
	// outlives the call, to release its context).
	body cancelOnClose
}

// RoundTrip sends one attempt of the call: it is the transport of rc's
// http.Client. The call has no CloseIdleConnections method, on purpose:
// go-retryablehttp calls it on its client after every failed call, and
// the idle connections to the healthy members must stay in the pool.
//
// While the attempt waits for the answer's headers it is registered with
// member health, which ends it (a *cutError) when the member stops
// answering or its proposal was lost. It bounds the header phase by
// Config.HeaderTimeoutPerRequest and follows redirects by
// Config.CheckRedirect.
func (st *call) RoundTrip(req *http.Request) (*http.Response, error) {
	if r := st.replay; r != nil {
		// The attempt was sent already (see attempts).
		st.replay = nil
		return r.resp, r.err
	}
	c := st.c
	a := &st.att
	a.member = st.endpoint()
	a.watch, a.oneShot = st.op.class == classWatch, st.op.class == classOneShot
	a.raft = st.raft
	tr := c.transport
	var ctx context.Context
	var cancel context.CancelFunc
	if a.watch {
		// A watch's body outlives its call: it gets a context of its own.
		tr = c.watchTransport
		ctx, cancel = context.WithCancel(req.Context())
	} else {
		// Live: an attempt that was ended renewed it before its call went on.
		ctx, cancel = st.actx, st.actx.cancelFunc()
	}
	if a.oneShot {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(info httptrace.WroteRequestInfo) {
				if info.Err == nil {
					a.sent.Store(true)
				}
			},
		})
	}
	if req.Context() != ctx {
		req = req.WithContext(ctx)
	}
	// A watch is bounded like any request until its headers arrive (etcd
	// sends them at once); the wait for the event afterwards is not.
	timeout := c.headerTimeout
	var timer *time.Timer
	if timeout > 0 {
		a.timedOut.Store(false)
		timer = time.AfterFunc(timeout, func() {
			a.timedOut.Store(true)
			cancel()
		})
	}
	a.w = waiter{start: time.Now(), raft: a.raft, write: a.raft && req.Method != http.MethodGet && req.Method != http.MethodHead, term: c.health.term.Load(), cancel: cancel, ctx: st.ctx}
	m := c.health.wait(a.member, &a.w)
	resp, err := c.follow(tr, req)
	if err != nil || a.watch {
		// A watch registers its wait for the event itself.
		m.done(&a.w)
	} else if a.raft {
		// The answer is on its way: its proposal was applied, but the body
		// may still stall on a member that stops answering.
		m.answering(&a.w)
	}
	if timer != nil && !timer.Stop() {
		// The timeout fired, or is firing: the attempt is ended.
		if !a.watch {
			st.actx.renew()
		}
		if err == nil {
			resp.Body.Close()
			err = context.Canceled
		}
	}
	if cut := a.w.cut.Load(); cut != cutNone && st.ctx.Err() == nil {
		if err == nil {
			resp.Body.Close()
		}
		m.done(&a.w)
		if a.watch {
			cancel()
		} else {
			st.actx.renew()
		}
		return nil, &cutError{endpoint: a.member, reason: cut}
	}
	if err != nil {
		m.done(&a.w)
		if a.watch {
			cancel()
		}
		if a.timedOut.Load() && st.ctx.Err() == nil {
			return nil, &headerTimeoutError{endpoint: req.URL.Host, timeout: timeout}
		}
		return nil, err
	}
	if a.watch {
		// A watch's body outlives its call object.
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	} else {
		// The call reads and closes the body before its object is reused;
		// until then the attempt stays registered with member health.
		a.body = cancelOnClose{ReadCloser: resp.Body, member: m, w: &a.w}
		resp.Body = &a.body
	}
	return resp, nil
}

// follow sends req through tr and follows redirects by hand: the same method and body,
// Config.CheckRedirect consulted before each, https→http refused, and the
// Authorization header dropped once the chain leaves the original host.
func (c *httpClusterClient) follow(tr http.RoundTripper, req *http.Request) (*http.Response, error) {
	origHost := req.URL.Host
	for via := 1; ; via++ {
		debugRequest(req)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		if !isRedirect(resp.StatusCode) {
			return resp, nil
		}
		loc := resp.Header.Get("Location")
		if loc == "" {
			// A 3xx without a Location is an answer, not a redirect.
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if err := c.checkRedirect(via); err != nil {
			return nil, err
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("redirect from %s to an invalid Location %q: %w", req.URL.Host, loc, err)
		}
		if next.Scheme != "http" && next.Scheme != "https" {
			return nil, fmt.Errorf("redirect from %s to %q refused: only http and https are followed", req.URL.Host, next.Redacted())
		}
		if req.URL.Scheme == "https" && next.Scheme == "http" {
			return nil, fmt.Errorf("redirect from %s to %s refused: it would downgrade https to http", req.URL.Host, next.Redacted())
		}
		nreq := req.Clone(req.Context())
		nreq.URL = next
		nreq.Host = ""
		if req.GetBody != nil {
			if nreq.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		if next.Host != origHost {
			nreq.Header.Del("Authorization")
		}
		req = nreq
	}
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// cancelOnClose ends an attempt's registration with member health, and
// releases a watch's context, once its body is done with.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
	member *memberHealth
	w      *waiter
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	if b.member != nil {
		b.member.done(b.w)
	}
	if b.cancel != nil {
		b.cancel()
	}
	return err
}

// attemptCtx is the context the attempts of a call are sent with: the
// caller's context, which member health and the header timeout can also
// end. A cancellable context made for every attempt would cost five
// allocations on every call of a healthy cluster; this one stays with the
// pooled call object and serves its attempts and its next calls, and is
// renewed in place after something ended an attempt.
//
// An attempt ends when inner, a context of its own, is cancelled: by a cut,
// by the header timeout, or when the caller's context ends (registered with
// context.AfterFunc, for contexts that can end). Value answers inner's keys
// before the caller's, so that the context net/http derives for each
// request registers with inner as a plain child, as it would with a
// context made by context.WithCancel.
type attemptCtx struct {
	// mu guards inner, cancel and parent: net/http looks at a request's
	// context after the request has ended (it unregisters its own context;
	// a dial may outlive the request), while the call object goes on.
	mu     sync.Mutex
	inner  context.Context
	cancel context.CancelFunc
	parent context.Context
	// stop ends the registration with the caller's context, if any.
	stop func() bool
	// bodyless is bodylessRequest with this context, made once: the keys
	// requests of the calls that use this context are copies of it (see
	// keysRequest). Nothing changes it.
	bodyless *http.Request
}

func newAttemptCtx() *attemptCtx {
	inner, cancel := context.WithCancel(context.Background())
	a := &attemptCtx{inner: inner, cancel: cancel, parent: context.Background()}
	a.bodyless = bodylessRequest.WithContext(a)
	return a
}

// Deadline is the caller's deadline.
func (a *attemptCtx) Deadline() (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.parent.Deadline()
}

// Done is closed when the attempt is ended.
func (a *attemptCtx) Done() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inner.Done()
}

// Err is the caller's context's error once the attempt is ended by it,
// context.Canceled when member health or the header timeout ended it.
func (a *attemptCtx) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inner.Err() == nil {
		return nil
	}
	if err := a.parent.Err(); err != nil {
		return err
	}
	return context.Canceled
}

// Value is inner's value for its own keys, the caller's for all others.
func (a *attemptCtx) Value(key any) any {
	a.mu.Lock()
	defer a.mu.Unlock()
	if v := a.inner.Value(key); v != nil {
		return v
	}
	return a.parent.Value(key)
}

// cancelFunc is what ends the current attempt.
func (a *attemptCtx) cancelFunc() context.CancelFunc {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cancel
}

// begin binds a to a call with the caller's ctx.
func (a *attemptCtx) begin(ctx context.Context) {
	a.mu.Lock()
	a.parent = ctx
	cancel := a.cancel
	a.mu.Unlock()
	if ctx.Done() != nil {
		a.stop = context.AfterFunc(ctx, cancel)
	}
}

// renew gives a new inner context to a call whose attempt was ended, for
// its next attempts.
func (a *attemptCtx) renew() {
	if a.stop != nil {
		a.stop()
		a.stop = nil
	}
	inner, cancel := context.WithCancel(context.Background())
	a.mu.Lock()
	a.inner, a.cancel = inner, cancel
	parent := a.parent
	a.mu.Unlock()
	a.begin(parent)
}

// end unbinds a from its call. It reports whether a may serve another
// call: nothing has ended it, and nothing can any more.
func (a *attemptCtx) end() bool {
	reusable := true
	if a.stop != nil {
		reusable = a.stop()
		a.stop = nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.parent = context.Background()
	return reusable && a.inner.Err() == nil
}
