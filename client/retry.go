package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// opClass says what may be done when an attempt of an operation fails. The
// policy, by class and failure:
//
//	failure                                   read  idempotent  one-shot  watch
//	connection never made (refused, DNS, TLS)  next  next        next      next
//	request not fully sent                     next  next        next      next
//	sent, then reset / EOF / header timeout    next  next        UNKNOWN   next
//	5xx answer (e.g. 500/300 timed out)        next  next        UNKNOWN   next
//	redirect limit, bad redirect               next  next        next      next
//	context cancelled or expired               stop  stop        stop      stop
//	any other answer (2xx, 3xx, 4xx)           done  done        done      done
//
// "next" moves the request to the next endpoint (after a full round of the
// ring, with a capped, jittered exponential back-off); "UNKNOWN" stops and
// returns an *OutcomeUnknownError wrapping the cause, and moves the pin on so
// that the next call goes elsewhere. An idempotent delete that is resent
// after an attempt that may have reached a server, and then finds no key,
// also reports an *OutcomeUnknownError (the first attempt may have deleted
// it) rather than a bare "key not found".
//
// Reads are GET and HEAD of keys (quorum or not), members, auth, version
// and stats. Idempotent writes are those whose repetition cannot change the
// outcome: a plain Set of a value (with or without TTL or refresh), Update,
// an unconditional Delete, and password changes. One-shot writes are Create,
// CreateInOrder, compare-and-swap (PrevValue/PrevIndex), compare-and-delete,
// directory creation with Set (a second one answers "Not a file"), member
// add/update/remove and the other auth changes.
type opClass uint8

const (
	classRead opClass = iota
	classIdempotent
	classOneShot
	classWatch
)

// Retry timing. The first round over the ring goes without waiting; later
// rounds wait retryWaitMin, doubling, up to retryWaitMax, with jitter.
const (
	retryWaitMin = 50 * time.Millisecond
	retryWaitMax = 1 * time.Second
	// retryRounds is how many times each endpoint may be tried in one call.
	retryRounds = 2
)

// call is the state of one API call across its attempts.
type call struct {
	c      *httpClusterClient
	ctx    context.Context
	class  opClass
	op     string
	key    string // the key of a keys operation, if hasKey
	hasKey bool

	eps   []*url.URL
	names []string // the endpoints' names
	cur   int      // index in eps of the current attempt
	tries int
	path  string // the request path before an endpoint's base path
	raw   string // its escaped form, if it needs one

	errs    []error
	outcome error // set when a one-shot write may have been applied
	// maybeApplied is the first failure of an attempt that may have reached
	// a server (for idempotent writes, which are then resent).
	maybeApplied error

	// start is when the current attempt began (for the debug log).
	start time.Time

	// sent is set by the transport once the current attempt's request was
	// written in full: from then on a one-shot write may have been applied.
	sent atomic.Bool

	// rc runs the attempts: go-retryablehttp's loop, with this call's
	// checkRetry, backoff, prepareRetry and giveUp as its hooks and an
	// http.Client whose transport is this call. It is bound once per call
	// object and kept when the object is reused from callPool.
	rc *retryablehttp.Client
	// rreq wraps the request of a call without a body for rc.
	rreq retryablehttp.Request
}

// newCall makes a call object with its retry client bound to it.
func newCall() *call {
	st := new(call)
	st.rc = &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: st,
			// Redirects are followed by the attempt itself (follow), by
			// Config.CheckRedirect's rules.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		// Logger stays nil: go-retryablehttp prints nothing; each attempt
		// is logged by checkRetry to Config.Logger instead.
		RetryWaitMin: retryWaitMin,
		RetryWaitMax: retryWaitMax,
		CheckRetry:   st.checkRetry,
		Backoff:      st.backoff,
		PrepareRetry: st.prepareRetry,
		ErrorHandler: st.giveUp,
	}
	return st
}

// RoundTrip sends one attempt of the call: it is the transport of rc's
// http.Client. The call has no CloseIdleConnections method, on purpose:
// go-retryablehttp calls it on its client after every failed call, and
// the idle connections to the healthy members must stay in the pool.
func (st *call) RoundTrip(req *http.Request) (*http.Response, error) {
	return (&attemptTransport{c: st.c}).roundTrip(req, st)
}

// do sends req (built by the generated layer against placeholderServer) to
// the cluster and returns the answer with its body read. op names the
// operation in errors. Transport failures and 5xx answers are handled by the
// retry policy of class; every other answer is returned as is.
func (c *httpClusterClient) do(ctx context.Context, req *http.Request, class opClass, op string) (*result, error) {
	resp, st, err := c.send(ctx, req, class, op)
	if err != nil {
		return nil, err
	}
	return c.readResult(ctx, req.Method, op, resp, st)
}

// readResult reads the body of the answer send returned.
func (c *httpClusterClient) readResult(ctx context.Context, method, op string, resp *http.Response, st *call) (*result, error) {
	body, err := readBody(ctx, resp, c.maxBody)
	ep := st.endpoint()
	if err != nil {
		return nil, readError(ctx, ep, op, err)
	}
	res := &result{resp: resp, body: body, endpoint: ep, method: method, path: st.path}
	if st.maybeApplied != nil {
		res.retried, res.earlier = true, st.maybeApplied
	}
	return res, nil
}

// readError is the error of a call whose answer could not be read in full.
func readError(ctx context.Context, ep, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var tl *ResponseTooLargeError
	if errors.As(err, &tl) {
		tl.Endpoint = ep
		return tl
	}
	return &EndpointError{Endpoint: ep, Err: fmt.Errorf("reading the answer to %s: %w", op, err)}
}

// send is do without reading the body: the caller owns resp.Body. Watches
// use it to read a stream.
func (c *httpClusterClient) send(ctx context.Context, req *http.Request, class opClass, op string) (*http.Response, *call, error) {
	return c.sendKey(ctx, req, class, op, "", false)
}

// sendKey is send for an operation on a key: it is named op+" /"+key in
// errors and logs (made only when needed).
func (c *httpClusterClient) sendKey(ctx context.Context, req *http.Request, class opClass, op, key string, hasKey bool) (*http.Response, *call, error) {
	if ctx == nil {
		return nil, nil, errNilContext
	}
	eps, names, pin := c.snapshotNames()
	if len(eps) == 0 {
		return nil, nil, ErrNoEndpoints
	}
	st := callPool.Get().(*call)
	*st = call{c: c, ctx: ctx, class: class, op: op, key: key, hasKey: hasKey, eps: eps, names: names, cur: pin, path: req.URL.Path, raw: req.URL.RawPath, rc: st.rc}
	// Each endpoint may be tried retryRounds times.
	st.rc.RetryMax = retryRounds*len(eps) - 1
	if req.Context() != ctx {
		req = req.WithContext(ctx)
	}
	// The request is the caller's own, not sent yet: the first attempt may
	// point its URL at the endpoint in place.
	st.targetURL(req.URL)
	req.Host = ""
	if c.username != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	st.start = time.Now()
	// A request without a body needs nothing of FromRequest (which copies
	// the body so that each attempt can send it again): the call's own
	// wrapper serves.
	rreq := &st.rreq
	if req.Body == nil || req.Body == http.NoBody {
		rreq.Request = req
	} else {
		var err error
		if rreq, err = retryablehttp.FromRequest(req); err != nil {
			return nil, nil, fmt.Errorf("client: %s: %w", st.opName(), err)
		}
	}
	resp, err := st.rc.Do(rreq)
	if ctx.Err() != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, nil, ctx.Err()
	}
	if err != nil {
		return nil, nil, err
	}
	if st.cur != pin {
		c.repin(eps, st.cur)
	}
	return resp, st, nil
}

func (st *call) endpoint() string { return st.names[st.cur] }

// callPool keeps the state of finished calls for the next ones.
var callPool = sync.Pool{New: func() any { return newCall() }}

// release gives st back for another call once nothing uses it any more. A
// one-shot write's state is left to the collector: the transport may still
// report on it (WroteRequest) after the call returned.
func (st *call) release() {
	if st.class == classOneShot {
		return
	}
	*st = call{rc: st.rc}
	callPool.Put(st)
}

// opName names the operation in errors and logs, e.g. "get /foo".
func (st *call) opName() string {
	if !st.hasKey {
		return st.op
	}
	return st.op + " /" + st.key
}

// target points req at the current endpoint, below its base path.
func (st *call) target(req *http.Request) {
	u := *req.URL
	st.targetURL(&u)
	req.URL = &u
	req.Host = ""
}

// targetURL points u at the current endpoint, below its base path.
func (st *call) targetURL(u *url.URL) {
	ep := st.eps[st.cur]
	u.Scheme, u.Host = ep.Scheme, ep.Host
	u.Path, u.RawPath = st.path, st.raw
	if ep.Path != "" {
		u.Path = ep.Path + st.path
		if st.raw != "" {
			u.RawPath = ep.EscapedPath() + st.raw
		}
	}
}

// checkRetry applies the policy table above to one attempt's outcome.
func (st *call) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st.tries++
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	ep := st.endpoint()
	if err != nil {
		st.logAttempt(ep, 0, err, 0)
		st.errs = append(st.errs, &EndpointError{Endpoint: ep, Err: err})
		if st.maybeApplied == nil && !neverConnected(err) {
			st.maybeApplied = st.errs[len(st.errs)-1]
		}
		if st.class == classOneShot && st.sent.Load() && !neverConnected(err) {
			st.outcome = &OutcomeUnknownError{Op: st.opName(), Endpoint: ep, Err: err}
			st.logOutcome()
			return false, st.outcome
		}
		return true, nil
	}
	if resp.StatusCode < 500 {
		if st.logEnabled() {
			code := 0
			if resp.StatusCode >= 400 {
				code = peekErrorCode(resp)
			}
			st.logAttempt(ep, resp.StatusCode, nil, code)
		}
		return false, nil
	}
	// A 5xx: keep the server's own error for the caller, then give the
	// body back so that the last answer can still be returned whole.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	cause := decodeAnyError(ep, resp, body)
	if st.logEnabled() {
		code := 0
		if e, ok := cause.(Error); ok {
			code = e.Code
		}
		st.logAttempt(ep, resp.StatusCode, nil, code)
	}
	st.errs = append(st.errs, &EndpointError{Endpoint: ep, Err: cause})
	if st.maybeApplied == nil {
		st.maybeApplied = st.errs[len(st.errs)-1]
	}
	if st.class == classOneShot {
		st.outcome = &OutcomeUnknownError{Op: st.opName(), Endpoint: ep, Err: cause}
		st.logOutcome()
		return false, st.outcome
	}
	return true, nil
}

// backoff lets the first round over the ring go at once; later rounds back
// off exponentially with jitter.
func (st *call) backoff(min, max time.Duration, attempt int, _ *http.Response) time.Duration {
	round := (attempt + 1) / len(st.eps)
	if round == 0 || (attempt+1)%len(st.eps) != 0 {
		return 0
	}
	d := min << (round - 1)
	if d > max || d <= 0 {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// prepareRetry moves the request to the next endpoint.
func (st *call) prepareRetry(req *http.Request) error {
	st.cur = (st.cur + 1) % len(st.eps)
	st.sent.Store(false)
	st.start = time.Now()
	st.target(req)
	return nil
}

// giveUp is reached when the last allowed attempt failed or the policy
// stopped: it returns the one error that says why.
func (st *call) giveUp(resp *http.Response, err error, _ int) (*http.Response, error) {
	if resp != nil {
		resp.Body.Close()
	}
	if st.ctx.Err() != nil {
		return nil, st.ctx.Err()
	}
	if st.outcome != nil {
		// The pin moves on so that the next call tries another member.
		st.c.repin(st.eps, (st.cur+1)%len(st.eps))
		return nil, st.outcome
	}
	if len(st.errs) == 0 && err != nil {
		st.errs = append(st.errs, &EndpointError{Endpoint: st.endpoint(), Err: err})
	}
	return nil, &ClusterError{Errors: st.errs}
}

// neverConnected reports whether err proves that no connection was made, so
// the request cannot have reached a server.
func neverConnected(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var rh tls.RecordHeaderError
	return errors.As(err, &rh)
}

// decodeAnyError turns a 5xx answer into the server's own error: an etcd
// keys Error, an *HTTPError, or a *ResponseError when it is neither.
func decodeAnyError(endpoint string, resp *http.Response, body []byte) error {
	if e, ok := decodeKeysError(body); ok {
		return e
	}
	return decodeHTTPError(endpoint, resp.Request.Method, resp.Request.URL.Path, resp, body)
}

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

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, nil)
}

// roundTrip is RoundTrip for an attempt of st (nil for a request outside
// a call).
func (t *attemptTransport) roundTrip(req *http.Request, st *call) (*http.Response, error) {
	c := t.c
	tr := c.transport
	if st != nil && st.class == classWatch {
		tr = c.watchTransport
	}
	// A watch is bounded like any request until its headers arrive (etcd
	// sends them at once); the wait for the event afterwards is not.
	timeout := c.headerTimeout
	ctx := req.Context()
	if st != nil && st.class == classOneShot {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(info httptrace.WroteRequestInfo) {
				if info.Err == nil {
					st.sent.Store(true)
				}
			},
		})
	}
	if timeout <= 0 {
		if ctx != req.Context() {
			req = req.WithContext(ctx)
		}
		return t.follow(tr, req)
	}
	ctx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		cancel()
	})
	resp, err := t.follow(tr, req.WithContext(ctx))
	stopped := timer.Stop()
	if err == nil && !stopped {
		resp.Body.Close()
		err = context.Canceled
	}
	if err != nil {
		cancel()
		if timedOut.Load() && req.Context().Err() == nil {
			return nil, &headerTimeoutError{endpoint: req.URL.Host, timeout: timeout}
		}
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
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

// cancelOnClose releases an attempt's context once its body is done with.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
