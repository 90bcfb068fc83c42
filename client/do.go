// Do: a request of another API of the same members sent through the Client's
// pipeline.

package client

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// RequestClass says what the request pipeline may do when an attempt of a
// request sent with Do fails: the classes of the retry policy (see the
// package's retry table in the README).
type RequestClass uint8

const (
	// RequestRead is a read: any failure moves it to the next member.
	RequestRead RequestClass = RequestClass(classRead)
	// RequestIdempotent is a write whose repetition cannot change the
	// outcome: it is resent to the next member like a read.
	RequestIdempotent RequestClass = RequestClass(classIdempotent)
	// RequestOneShot is a write that is never sent twice once it may have
	// reached a server: such a failure ends the call with an
	// *OutcomeUnknownError.
	RequestOneShot RequestClass = RequestClass(classOneShot)
	// RequestWatch is a long poll or stream: it goes through
	// Config.WatchTransport and is resent like a read. While its answer's
	// body is open, the member it came from is watched by member health,
	// as the package's own watches are (see Do).
	RequestWatch RequestClass = RequestClass(classWatch)
)

// Do sends req to the cluster c through the same pipeline as the package's
// own calls: endpoint selection and pinning, credentials, redirects, and
// the retry policy of class. It is for packages built on a Client that
// speak another API of the same members (such as etcd's v3 JSON gateway).
//
// req.URL gives the path and query; its scheme and host, if any, are
// replaced by each attempt's endpoint (below the endpoint's base path). A
// request with a body must have GetBody set (http.NewRequest does that for
// the usual readers) so that it can be sent again. The caller owns the
// answer's Body and must close it. Answers with a status below 500 are
// returned as they are; transport failures and 5xx answers follow the
// policy and end in a *ClusterError, an *OutcomeUnknownError or the
// context's error.
//
// The body of a RequestWatch answer stays registered with the Client's
// member health until it is closed, as a Watcher's wait is: when its member
// stops answering the health probes (a hung or frozen machine keeps its
// sockets open but sends nothing), health ends the body's reads with an
// error (one whose Timeout method reports true), and the Client's next
// request goes to another member. The caller then opens the stream again
// from where it was.
func Do(ctx context.Context, c Client, req *http.Request, class RequestClass) (*http.Response, error) {
	if c == nil {
		return nil, invalidArg("c", "nil Client")
	}
	if req == nil || req.URL == nil {
		return nil, invalidArg("req", "nil request or URL")
	}
	if class > RequestWatch {
		return nil, invalidArg("class", "unknown RequestClass %d", class)
	}
	u := *req.URL
	req = req.Clone(req.Context())
	req.URL = &u
	hc := c.cluster()
	op := operation{class: opClass(class), name: req.Method + " " + u.Path, foreign: true}
	// The call object is not released: the caller reads the body, which the
	// object holds, after Do returns.
	if class != RequestWatch {
		resp, st, err := hc.send(ctx, req, op)
		if err != nil {
			return nil, err
		}
		if st.maybeApplied != nil {
			resp.Body = &resentBody{ReadCloser: resp.Body, earlier: st.maybeApplied}
		}
		return resp, nil
	}
	// Health ends a stream's wait by cancelling the context its body is
	// read under.
	wctx, cancel := context.WithCancel(ctx)
	resp, st, err := hc.send(wctx, req, op)
	if err != nil {
		cancel()
		return nil, err
	}
	b := &watchedBody{body: resp.Body, c: hc, endpoint: st.endpoint(), cancel: cancel}
	b.w = waiter{start: time.Now(), watch: true, cancel: cancel, ctx: wctx}
	b.m = hc.health.wait(b.endpoint, &b.w)
	resp.Body = b
	return resp, nil
}

// watchedBody is the body of a RequestWatch answer sent with Do, registered
// with member health until it is closed.
type watchedBody struct {
	body     io.ReadCloser
	c        *httpClusterClient
	endpoint string
	cancel   context.CancelFunc
	m        *memberHealth
	w        waiter
	once     sync.Once
}

// Read reads the stream; once health has ended the wait, the error says so
// and the Client's pin leaves the member.
func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err != nil {
		if cut := b.w.cut.Load(); cut != cutNone {
			b.c.skipPin(b.endpoint)
			return n, &cutError{endpoint: b.endpoint, reason: cut}
		}
	}
	return n, err
}

// Close ends the registration and the request.
func (b *watchedBody) Close() error {
	b.once.Do(func() {
		b.m.done(&b.w)
		b.cancel()
	})
	return b.body.Close()
}

// ResentAfter returns, for an answer that Do returned, the failure of an
// earlier attempt of the same request that may have reached a member (it
// was resent after that failure), or nil when no earlier attempt may have.
// A caller whose idempotent write was resent uses it as the package's own
// Delete does: a resent delete that finds no key has an unknown outcome,
// since the earlier attempt may have deleted it.
func ResentAfter(resp *http.Response) error {
	if resp == nil {
		return nil
	}
	if b, ok := resp.Body.(*resentBody); ok {
		return b.earlier
	}
	return nil
}

// resentBody marks the body of an answer to a request that was resent
// after an attempt that may have reached a member.
type resentBody struct {
	io.ReadCloser
	earlier error
}
