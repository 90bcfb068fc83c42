package v3keys

// The gateway layer: the generated v3 client sends every request through
// client.Do (the shared cluster pipeline), with the retry class of the
// operation, the auth token in the Authorization header, and the answer
// decoded into the generated types or into a *GatewayError.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// placeholderServer is the base URL the generated request builders get;
// client.Do replaces scheme and host with each attempt's endpoint, so it
// never goes on the wire.
const placeholderServer = "http://etcd.invalid"

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// gRPC status codes the gateway answers with (in GatewayError.Code).
const (
	codeInvalidArgument    = 3
	codeNotFound           = 5
	codePermissionDenied   = 7
	codeFailedPrecondition = 9
	codeUnauthenticated    = 16
)

// Messages of etcd's auth errors that a token (re)fetch can cure.
const (
	msgUserEmpty      = "etcdserver: user name is empty"
	msgAuthNotEnabled = "etcdserver: authentication is not enabled"
)

// GatewayError is an error answered by etcd's v3 JSON gateway: the HTTP
// status and the gRPC status it carries (code and message). Errors of the
// v2 keys API (key not found, compare failed, ...) are client.Error values
// instead, made by this package from what it read.
type GatewayError struct {
	// Op names the v2 operation, e.g. "set /foo".
	Op string
	// Endpoint is the member that answered.
	Endpoint string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the gRPC status code (3 InvalidArgument, 5 NotFound, 7
	// PermissionDenied, 9 FailedPrecondition, 11 OutOfRange, 16
	// Unauthenticated, ...).
	Code int
	// Message is etcd's message, e.g. "etcdserver: request is too large".
	Message string
}

// Error names the operation, the member and etcd's answer.
func (e *GatewayError) Error() string {
	return fmt.Sprintf("v3keys: %s: %s answered %d (gRPC code %d): %s", e.Op, e.Endpoint, e.StatusCode, e.Code, e.Message)
}

// ErrNotGateway is wrapped by the error for an answer that is not what the
// v3 gateway sends (a proxy's page, malformed JSON, a field that is not a
// number where one is due).
var ErrNotGateway = errors.New("v3keys: the answer is not an etcd v3 gateway answer")

// classKey carries an operation's retry class in a request's context, from
// the operation to the doer.
type classKey struct{}

// doer is the generated client's HttpRequestDoer: every request goes
// through the shared cluster pipeline with its operation's class.
type doer struct{ c client.Client }

// Do sends req with the class its context carries (a read if none).
func (d doer) Do(req *http.Request) (*http.Response, error) {
	class, _ := req.Context().Value(classKey{}).(client.RequestClass)
	return client.Do(req.Context(), d.c, req, class)
}

// gateway sends the v3 requests of one KeysAPI.
type gateway struct {
	c       client.Client
	api     *v3gen.Client
	maxBody int64

	username, password string

	mu    sync.Mutex
	token string
	// authOff is set when the server answered that auth is not enabled:
	// requests go without a token, and none is fetched until a server
	// refuses one for want of it.
	authOff bool
	// tokenGen counts token fetches, so that callers that saw the same bad
	// token fetch a new one once, not once each.
	tokenGen uint64
}

func newGateway(c client.Client, maxBody int64, username, password string) (*gateway, error) {
	api, err := v3gen.NewClient(placeholderServer, v3gen.WithHTTPClient(doer{c}))
	if err != nil {
		return nil, err
	}
	return &gateway{c: c, api: api, maxBody: maxBody, username: username, password: password}, nil
}

// sendFunc sends one generated request with ctx and the request editor that
// adds the token.
type sendFunc func(ctx context.Context, edit v3gen.RequestEditorFn) (*http.Response, error)

// call sends a request with class and decodes a 200 answer into out. A
// token that the server no longer knows is fetched again once. op names
// the v2 operation in errors.
func (g *gateway) call(ctx context.Context, class client.RequestClass, op string, send sendFunc, out any) error {
	_, err := g.callResent(ctx, class, op, send, out)
	return err
}

// callResent is call that also returns client.ResentAfter of the answer:
// the failure after which the request was sent again, if it was.
func (g *gateway) callResent(ctx context.Context, class client.RequestClass, op string, send sendFunc, out any) (error, error) {
	resp, err := g.open(ctx, class, op, send)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return client.ResentAfter(resp), g.decode(ctx, resp, op, out)
}

// open sends a request and returns a 200 answer with its body unread, or
// the error any other answer means. It fetches a token first when there is
// a user and none yet, and once again when the server refuses the token.
func (g *gateway) open(ctx context.Context, class client.RequestClass, op string, send sendFunc) (*http.Response, error) {
	ctx = context.WithValue(ctx, classKey{}, class)
	for attempt := 0; ; attempt++ {
		token, gen, err := g.currentToken(ctx, op)
		if err != nil {
			return nil, err
		}
		edit := func(_ context.Context, req *http.Request) error {
			if token != "" {
				req.Header.Set("Authorization", token)
			}
			return nil
		}
		resp, err := send(ctx, edit)
		if err != nil {
			return nil, opError(op, err)
		}
		if resp.StatusCode == http.StatusOK {
			return resp, nil
		}
		gerr := g.errorAnswer(ctx, resp, op)
		var ge *GatewayError
		if attempt == 0 && g.username != "" && errors.As(gerr, &ge) && tokenRefused(ge) {
			g.dropToken(gen)
			continue
		}
		return nil, gerr
	}
}

// tokenRefused reports an answer that a new token may cure.
func tokenRefused(e *GatewayError) bool {
	return e.Code == codeUnauthenticated || (e.Code == codeInvalidArgument && e.Message == msgUserEmpty)
}

// currentToken returns the token to send ("" without a user, or when the
// server has auth disabled), fetching one when there is none.
func (g *gateway) currentToken(ctx context.Context, op string) (string, uint64, error) {
	if g.username == "" {
		return "", 0, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.token != "" || g.authOff {
		return g.token, g.tokenGen, nil
	}
	var out v3gen.AuthenticateResponse
	send := func(ctx context.Context, _ v3gen.RequestEditorFn) (*http.Response, error) {
		return g.api.Authenticate(ctx, v3gen.AuthenticateRequest{Name: g.username, Password: g.password})
	}
	ctx = context.WithValue(ctx, classKey{}, client.RequestRead)
	resp, err := send(ctx, nil)
	if err != nil {
		return "", 0, opError(op, fmt.Errorf("authenticating as %q: %w", g.username, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := g.errorAnswer(ctx, resp, op)
		var ge *GatewayError
		if errors.As(err, &ge) && ge.Code == codeFailedPrecondition && ge.Message == msgAuthNotEnabled {
			// Auth is off: requests go without a token (and the next
			// refusal, if auth is turned on, fetches one).
			g.authOff = true
			return "", g.tokenGen, nil
		}
		return "", 0, fmt.Errorf("v3keys: %s: authenticating as %q: %w", op, g.username, err)
	}
	if err := g.decode(ctx, resp, op, &out); err != nil {
		return "", 0, err
	}
	g.token = out.Token
	g.tokenGen++
	return g.token, g.tokenGen, nil
}

// generation is the number of the current token.
func (g *gateway) generation() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tokenGen
}

// dropToken forgets the token of generation gen, unless another caller has
// fetched a new one since.
func (g *gateway) dropToken(gen uint64) {
	g.mu.Lock()
	if g.tokenGen == gen {
		g.token, g.authOff = "", false
	}
	g.mu.Unlock()
}

// decode reads a 200 answer into out, bounded by Config.MaxResponseBytes.
func (g *gateway) decode(ctx context.Context, resp *http.Response, op string, out any) error {
	var r io.Reader = resp.Body
	var lr *io.LimitedReader
	if g.maxBody > 0 {
		lr = &io.LimitedReader{R: resp.Body, N: g.maxBody + 1}
		r = lr
	}
	var err error
	if txn, ok := out.(*v3gen.TxnResponse); ok {
		// Transactions carry the large answers (a recursive Get): read
		// whole and scanned by decodeTxn.
		var data []byte
		if data, err = readAnswer(r, resp.ContentLength); err == nil {
			if lr != nil && lr.N <= 0 {
				return &client.ResponseTooLargeError{Endpoint: endpointOf(resp), Limit: g.maxBody}
			}
			if err = decodeTxn(data, txn); err != nil {
				return fmt.Errorf("v3keys: %s: decoding the answer of %s: %w: %v", op, endpointOf(resp), ErrNotGateway, err)
			}
			return nil
		}
	} else {
		err = json.NewDecoder(r).Decode(out)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if lr != nil && lr.N <= 0 {
			return &client.ResponseTooLargeError{Endpoint: endpointOf(resp), Limit: g.maxBody}
		}
		return fmt.Errorf("v3keys: %s: decoding the answer of %s: %w: %v", op, endpointOf(resp), ErrNotGateway, err)
	}
	return nil
}

// readAnswer reads a whole answer, its buffer sized by the Content-Length
// when there is one.
func readAnswer(r io.Reader, length int64) ([]byte, error) {
	var b bytes.Buffer
	if length > 0 && length < 1<<30 {
		b.Grow(int(length) + bytes.MinRead)
	}
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// errorAnswer reads a non-200 answer into a *GatewayError (wrapped, for
// auth refusals, with the v2 keys error 110), or an error saying the
// answer is not the gateway's.
func (g *gateway) errorAnswer(ctx context.Context, resp *http.Response, op string) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("v3keys: %s: reading the answer of %s: %w", op, endpointOf(resp), err)
	}
	var st v3gen.Status
	if json.Unmarshal(body, &st) != nil || st.Message == "" {
		snip := string(body)
		if len(snip) > 120 {
			snip = snip[:120]
		}
		return fmt.Errorf("v3keys: %s: %s answered %d %q: %w (is the v3 API served there?)", op, endpointOf(resp), resp.StatusCode, snip, ErrNotGateway)
	}
	ge := &GatewayError{Op: op, Endpoint: endpointOf(resp), StatusCode: resp.StatusCode, Code: int(st.Code), Message: st.Message}
	if ge.Code == codePermissionDenied || ge.Code == codeUnauthenticated || (ge.Code == codeInvalidArgument && ge.Message == msgUserEmpty) {
		return &authError{ge}
	}
	return ge
}

// authError is a refusal for want of (valid) credentials: errors.As finds
// both the *GatewayError and the v2 keys error 110, so client.IsUnauthorized
// holds.
type authError struct{ *GatewayError }

func (e *authError) Unwrap() []error {
	return []error{e.GatewayError, client.Error{Code: client.ErrorCodeUnauthorized, Message: "The request requires user authentication", Cause: "Insufficient credentials"}}
}

// endpointOf names the member that answered resp.
func endpointOf(resp *http.Response) string {
	if resp.Request != nil && resp.Request.URL != nil {
		return resp.Request.URL.Scheme + "://" + resp.Request.URL.Host
	}
	return "the member"
}

// opError names the v2 operation in an error of the pipeline: an
// *OutcomeUnknownError gets it as its Op.
func opError(op string, err error) error {
	var ou *client.OutcomeUnknownError
	if errors.As(err, &ou) {
		ou.Op = op
	}
	return err
}

// num parses a 64-bit integer the gateway sent as a string ("" is 0).
func num(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a 64-bit integer", ErrNotGateway, s)
	}
	return n, nil
}

// unum parses an unsigned 64-bit integer the gateway sent as a string.
func unum(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not an unsigned 64-bit integer", ErrNotGateway, s)
	}
	return n, nil
}

// str formats a 64-bit integer the way the gateway takes it.
func str(n int64) string { return strconv.FormatInt(n, 10) }
