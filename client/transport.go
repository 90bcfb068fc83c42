// One attempt: the header timeout, redirects followed by hand, and the note
// that a one-shot write has been sent.

package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// attemptTransport sends one attempt: it bounds the header phase by
// Config.HeaderTimeoutPerRequest, follows redirects by Config.CheckRedirect,
// and notes when a request has been written in full.
type attemptTransport struct {
	c *httpClusterClient
}

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
	// w is the attempt's registration with member health while it waits
	// for headers.
	w waiter
	// body wraps the answer's body to release the attempt's context when
	// it is closed (not for watches, whose body outlives the call).
	body cancelOnClose
}

// roundTrip sends one attempt. While it waits for the answer's headers it
// is registered with member health, which ends it (a *cutError) when the
// member stops answering or its proposal was lost.
func (t *attemptTransport) roundTrip(req *http.Request, a *attempt) (*http.Response, error) {
	c := t.c
	tr := c.transport
	if a.watch {
		tr = c.watchTransport
	}
	// A watch is bounded like any request until its headers arrive (etcd
	// sends them at once); the wait for the event afterwards is not.
	timeout := c.headerTimeout
	ctx := req.Context()
	if a.oneShot {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(info httptrace.WroteRequestInfo) {
				if info.Err == nil {
					a.sent.Store(true)
				}
			},
		})
	}
	ctx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	var timer *time.Timer
	if timeout > 0 {
		timer = time.AfterFunc(timeout, func() {
			timedOut.Store(true)
			cancel()
		})
	}
	a.w = waiter{start: time.Now(), raft: a.raft, cancel: cancel, ctx: ctx}
	m := c.health.wait(a.member, &a.w)
	resp, err := t.follow(tr, req.WithContext(ctx))
	if err != nil || a.watch {
		// A watch registers its wait for the event itself.
		m.done(&a.w)
	} else {
		// The answer is on its way: its proposal, if any, was applied, but
		// the body may still stall on a member that stops answering.
		m.answering(&a.w)
	}
	if timer != nil && !timer.Stop() && err == nil {
		resp.Body.Close()
		err = context.Canceled
	}
	if cut := a.w.cut.Load(); cut != cutNone && req.Context().Err() == nil {
		if err == nil {
			resp.Body.Close()
		}
		m.done(&a.w)
		cancel()
		return nil, &cutError{endpoint: a.member, reason: cut}
	}
	if err != nil {
		m.done(&a.w)
		cancel()
		if timedOut.Load() && req.Context().Err() == nil {
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
		a.body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel, member: m, w: &a.w}
		resp.Body = &a.body
	}
	return resp, nil
}

// follow sends req through tr and follows redirects by hand: the same method and body,
// Config.CheckRedirect consulted before each, https→http refused, and the
// Authorization header dropped once the chain leaves the original host.
func (t *attemptTransport) follow(tr http.RoundTripper, req *http.Request) (*http.Response, error) {
	c := t.c
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

// cancelOnClose releases an attempt's context, and its registration with
// member health when it has one, once its body is done with.
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
	b.cancel()
	return err
}
