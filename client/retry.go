// The request pipeline: one call's attempts across the endpoints through go-
// retryablehttp, with the retry policy table as its hooks.

package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// logEnabled reports whether per-attempt records are wanted.
func (st *call) logEnabled() bool {
	return st.c.logger != nil && st.c.logger.Enabled(st.ctx, slog.LevelDebug)
}

// stamp notes when the current attempt begins, for its record; without a
// logger there is none.
func (st *call) stamp() {
	if st.c.logger != nil {
		st.start = time.Now()
	}
}

// logAttempt writes one attempt's record: never a value or a credential.
func (st *call) logAttempt(endpoint string, status int, err error, code int) {
	if !st.logEnabled() {
		return
	}
	attrs := []slog.Attr{
		slog.String("op", st.opName()),
		slog.String("endpoint", endpoint),
		slog.Int("attempt", st.tries),
		slog.Duration("latency", time.Since(st.start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.Int("status", status))
	}
	if code != 0 {
		attrs = append(attrs, slog.Int("etcd_code", code))
	}
	st.c.logger.LogAttrs(st.ctx, slog.LevelDebug, "etcd attempt", attrs...)
}

// logOutcome warns that a one-shot write may or may not have been applied.
func (st *call) logOutcome() {
	if st.c.logger == nil {
		return
	}
	st.c.logger.LogAttrs(context.WithoutCancel(st.ctx), slog.LevelWarn, "etcd write outcome unknown",
		slog.String("op", st.opName()), slog.String("endpoint", st.endpoint()), slog.String("cause", st.outcome.Error()))
}

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

// operation describes one API call to the pipeline: its class in the retry
// table, how errors and logs name it, and what its HTTP errors are about.
type operation struct {
	class opClass
	// name is the operation in errors and logs ("get", "list members").
	name string
	// key is a keys operation's key (canonical, without the leading
	// slash), if hasKey: errors and logs say name+" /"+key.
	key    string
	hasKey bool
	// resource is what the call's HTTP errors are about (HTTPError.Resource).
	resource string
	// member, when set, is the only member asked, and its answer, a 5xx
	// included, is the answer: the status of one member.
	member *url.URL
	// foreign marks a request of another API of the members (Do): member
	// health watches it for liveness only, since what tells a lost v2
	// proposal (/health, /v2/members/leader, the v2 raft term) may not be
	// served where it goes (etcd 3.6 has no v2 API).
	foreign bool
}

// call is the state of one API call across its attempts.
type call struct {
	c   *httpClusterClient
	ctx context.Context
	op  operation

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

	// start is when the current attempt began (for the debug log; set
	// only with a logger).
	start time.Time

	// att is the current attempt; its sent is set by the transport once the
	// request was written in full: from then on a one-shot write may have
	// been applied.
	att attempt
	// raft marks a write or quorum read: its answer waits on a proposal.
	raft bool
	// actx is the context of the call's attempts (watches excepted), kept
	// with the call object for its next calls.
	actx *attemptCtx

	// rc runs the attempts: go-retryablehttp's loop, with this call's
	// checkRetry, backoff, prepareRetry and giveUp as its hooks and an
	// http.Client whose transport is this call. It is bound once per call
	// object and kept when the object is reused from callPool.
	rc *retryablehttp.Client
	// rreq wraps the request of a call without a body for rc.
	rreq retryablehttp.Request
	// replay, when set, is the outcome of the first attempt, sent by
	// attempts before rc ran: rc's first attempt is that one.
	replay *replayed
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

// do sends req (built by the generated layer against placeholderServer) to
// the cluster and returns the answer with its body read. Transport failures
// and 5xx answers are handled by the retry policy of op's class; every
// other answer is returned as is.
func (c *httpClusterClient) do(ctx context.Context, req *http.Request, op operation) (*result, error) {
	resp, st, err := c.send(ctx, req, op)
	if err != nil {
		return nil, err
	}
	defer st.release()
	return st.readResult(ctx, req.Method, resp)
}

// readResult reads the body of the answer send returned.
func (st *call) readResult(ctx context.Context, method string, resp *http.Response) (*result, error) {
	body, err := readBody(ctx, resp, st.c.maxBody)
	ep := st.endpoint()
	if err != nil {
		return nil, readError(ctx, ep, st.opName(), err)
	}
	res := &result{resp: resp, body: body, endpoint: ep, method: method, path: st.path, resource: st.op.resource}
	if st.maybeApplied != nil {
		res.retried, res.earlier = true, st.maybeApplied
	}
	return res, nil
}

// send is do without reading the body: the caller owns resp.Body and
// releases st when done with it. Keys calls use it to decode as the answer
// arrives, watches to wait on it.
func (c *httpClusterClient) send(ctx context.Context, req *http.Request, op operation) (*http.Response, *call, error) {
	st, err := c.takeCall(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.sendCall(st, req, op)
}

// takeCall takes a call object for a call with the caller's ctx. A request
// built with its context (st.ctxFor) is sent without another copy.
func (c *httpClusterClient) takeCall(ctx context.Context) (*call, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	st := callPool.Get().(*call)
	st.c, st.ctx = c, ctx
	if st.actx == nil {
		st.actx = newAttemptCtx()
	}
	st.actx.begin(ctx)
	return st, nil
}

// ctxFor is the context to build a request of op with: the call's attempt
// context, but a watch's own (its body outlives the call).
func (st *call) ctxFor(class opClass) context.Context {
	if class == classWatch {
		return st.ctx
	}
	return st.actx
}

// sendCall is send with a call object taken by takeCall; on error, st is
// released.
func (c *httpClusterClient) sendCall(st *call, req *http.Request, op operation) (*http.Response, *call, error) {
	ctx := st.ctx
	eps, names, pin := c.snapshotNames()
	if op.member != nil {
		eps, names, pin = []*url.URL{op.member}, []string{op.member.String()}, 0
	}
	if len(eps) == 0 {
		st.release()
		return nil, nil, ErrNoEndpoints
	}
	*st = call{c: c, ctx: ctx, op: op, eps: eps, names: names, cur: pin, path: req.URL.Path, raw: req.URL.RawPath, rc: st.rc, actx: st.actx}
	if op.member == nil {
		// Start at the pinned member, or past it while it is down.
		st.cur = c.health.pick(names, pin)
	}
	st.raft = !op.foreign && (req.Method != http.MethodGet && req.Method != http.MethodHead || strings.Contains(req.URL.RawQuery, "quorum=true"))
	// Each endpoint may be tried retryRounds times; a single member once.
	st.rc.RetryMax = retryRounds*len(eps) - 1
	if op.member != nil {
		st.rc.RetryMax = 0
	}
	if rctx := st.ctxFor(op.class); req.Context() != rctx {
		req = req.WithContext(rctx)
	}
	// The request is the caller's own, not sent yet: the first attempt may
	// point its URL at the endpoint in place.
	st.targetURL(req.URL)
	req.Host = ""
	if c.username != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	st.stamp()
	resp, err := st.attempts(req)
	if ctx.Err() != nil {
		if resp != nil {
			resp.Body.Close()
		}
		st.release()
		return nil, nil, ctx.Err()
	}
	if err != nil {
		st.release()
		if op.member != nil {
			// One member was asked: its own error is the answer.
			var ce *ClusterError
			if errors.As(err, &ce) && len(ce.Errors) == 1 {
				err = ce.Errors[0]
			}
		}
		return nil, nil, err
	}
	if st.cur != pin && op.member == nil {
		c.repin(eps, st.cur)
	}
	return resp, st, nil
}

// attempts sends req by the retry policy: the call's first attempt goes
// straight to the call's RoundTrip; rc (go-retryablehttp) runs the call
// from there when that attempt did not end it, with the attempt's outcome
// as its own first attempt (see replay).
//
// Nothing is skipped that the first attempt would have had through rc:
// rc's http.Client hands a request with a URL, a header, no user info, no
// RequestURI and no deadline to its transport as it is, and its answer
// back as it is (redirects are followed in RoundTrip, and what is left of
// a 3xx is the answer); rc rewinds no body before the first attempt of a
// request without one, and the package's own requests with a body (made
// for the call, with GetBody) send that body first. A request of Do with a
// body goes through rc whole, which sends a copy of the body as it is when
// the call begins, in every attempt.
func (st *call) attempts(req *http.Request) (*http.Response, error) {
	hasBody := req.Body != nil && req.Body != http.NoBody
	if req.RequestURI != "" || hasBody && (req.GetBody == nil || st.op.foreign) {
		rreq, err := st.retryable(req)
		if err != nil {
			return nil, err
		}
		return st.rc.Do(rreq)
	}
	resp, err := st.RoundTrip(req)
	if err == nil && (resp.StatusCode < 500 || st.op.member != nil) {
		// An answer: the policy ends the call with it (or with the
		// context's error, as rc would).
		if _, err := st.checkRetry(st.ctx, resp, nil); err != nil {
			return st.giveUp(resp, err, st.tries)
		}
		return resp, nil
	}
	// The policy decides on this attempt and on the next ones in rc's
	// loop: the request it goes on with is a copy (the transport may still
	// close the first one's body) with a body of its own.
	if hasBody {
		next := *req
		var berr error
		if next.Body, berr = req.GetBody(); berr != nil {
			if resp != nil {
				resp.Body.Close()
			}
			return nil, fmt.Errorf("client: %s: %w", st.opName(), berr)
		}
		req = &next
	}
	rreq, ferr := st.retryable(req)
	if ferr != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, ferr
	}
	st.replay = &replayed{resp: resp, err: err}
	return st.rc.Do(rreq)
}

// replayed is the outcome of a call's first attempt, which RoundTrip gives
// to rc as the outcome of rc's first attempt.
type replayed struct {
	resp *http.Response
	err  error
}

// retryable wraps req for rc. A request without a body needs nothing of
// FromRequest (which copies the body so that each attempt can send it
// again): the call's own wrapper serves.
func (st *call) retryable(req *http.Request) (*retryablehttp.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		st.rreq.Request = req
		return &st.rreq, nil
	}
	rreq, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", st.opName(), err)
	}
	return rreq, nil
}

func (st *call) endpoint() string { return st.names[st.cur] }

// callPool keeps the state of finished calls for the next ones.
var callPool = sync.Pool{New: func() any { return newCall() }}

// release gives st back for another call once nothing uses it any more,
// with its attempt context if nothing has ended it. A one-shot write's
// state is left to the collector: the transport may still report on it
// (WroteRequest) after the call returned.
func (st *call) release() {
	actx := st.actx
	if !actx.end() {
		actx = nil
	}
	if st.op.class == classOneShot {
		return
	}
	*st = call{rc: st.rc, actx: actx}
	callPool.Put(st)
}

// opName names the operation in errors and logs, e.g. "get /foo".
func (st *call) opName() string {
	if !st.op.hasKey {
		return st.op.name
	}
	return st.op.name + " /" + st.op.key
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
func (st *call) checkRetry(_ context.Context, resp *http.Response, err error) (bool, error) {
	ctx := st.ctx
	st.tries++
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	ep := st.endpoint()
	if err != nil {
		if _, cut := err.(*cutError); !cut {
			st.c.health.observe(ep, err)
		} else if err.(*cutError).reason == cutLost && st.c.health.leaderLost != nil {
			st.c.health.leaderLost()
		}
		st.logAttempt(ep, 0, err, 0)
		st.errs = append(st.errs, &EndpointError{Endpoint: ep, Err: err})
		if st.maybeApplied == nil && !neverConnected(err) {
			st.maybeApplied = st.errs[len(st.errs)-1]
		}
		if st.op.class == classOneShot && st.att.sent.Load() && !neverConnected(err) {
			st.outcome = &OutcomeUnknownError{Op: st.opName(), Endpoint: ep, Err: err}
			st.logOutcome()
			return false, st.outcome
		}
		return true, nil
	}
	st.c.health.observe(ep, nil)
	if resp.StatusCode < 500 || st.op.member != nil {
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
	cause := decodeAnyError(ep, st.op.resource, resp, body)
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
	if st.op.class == classOneShot {
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
	st.cur = st.c.health.pick(st.names, (st.cur+1)%len(st.eps))
	st.att.sent.Store(false)
	st.stamp()
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

// sent is what sendKey returned.
type sent struct {
	resp *http.Response
	st   *call
	err  error
}

// sendAside sends a watch request from a goroutine of its own, which ends
// once the answer's headers are in. Sending goes deep (go-retryablehttp,
// net/http's client and transport); the goroutine that then waits on the
// long poll, for minutes perhaps, keeps a small stack, which counts with
// thousands of watches.
func (c *httpClusterClient) sendAside(ctx context.Context, req *http.Request, key string) (*http.Response, *call, error) {
	ch := make(chan sent, 1)
	go func() {
		resp, st, err := c.send(ctx, req, operation{class: classWatch, name: "watch", key: key, hasKey: true})
		ch <- sent{resp, st, err}
	}()
	r := <-ch
	return r.resp, r.st, r.err
}
