// Errors: etcd's keys error codes, the typed errors of each family, their
// predicates and sentinels.

package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error codes the etcd v2 keys API answers with, in the "errorCode" field of
// its error body. The HTTP status that comes with each is fixed by the
// server: 100 → 404; 101 and 105 → 412; 102 and 108 → 403; 110 → 401;
// 300 and 301 → 500; every other code → 400 (104, 107 and 401 included).
const (
	ErrorCodeKeyNotFound  = 100
	ErrorCodeTestFailed   = 101
	ErrorCodeNotFile      = 102
	ErrorCodeNotDir       = 104
	ErrorCodeNodeExist    = 105
	ErrorCodeRootROnly    = 107
	ErrorCodeDirNotEmpty  = 108
	ErrorCodeUnauthorized = 110

	ErrorCodePrevValueRequired  = 201
	ErrorCodeTTLNaN             = 202
	ErrorCodeIndexNaN           = 203
	ErrorCodeInvalidField       = 209
	ErrorCodeInvalidForm        = 210
	ErrorCodeRefreshValue       = 211
	ErrorCodeRefreshTTLRequired = 212

	ErrorCodeRaftInternal = 300
	ErrorCodeLeaderElect  = 301

	ErrorCodeWatcherCleared    = 400
	ErrorCodeEventIndexCleared = 401
)

var (
	// ErrNoEndpoints is returned when a client has no endpoint to send to.
	ErrNoEndpoints = errors.New("client: no endpoints available")
	// ErrTooManyRedirects is returned when Config.CheckRedirect stops a
	// chain of redirects (by default after 10).
	ErrTooManyRedirects = errors.New("client: too many redirects")
	// ErrClusterUnavailable is wrapped by a *ClusterError: no endpoint gave a
	// usable answer.
	ErrClusterUnavailable = errors.New("client: etcd cluster is unavailable or misconfigured")
	// ErrNoLeaderEndpoint is returned by Sync in
	// EndpointSelectionPrioritizeLeader mode when no leader could be found
	// among the members; the error wraps the cause.
	ErrNoLeaderEndpoint = errors.New("client: no leader endpoint available")
	// ErrNoRequest is kept for compatibility; this client never returns it.
	ErrNoRequest = errors.New("client: no request to send")
)

var (
	// ErrInvalidJSON is wrapped by the error for an answer that is not an
	// etcd v2 answer (HTML, plain text, malformed JSON, the 404 of a server
	// with the v2 API switched off). The wrapping *ResponseError names the
	// endpoint, the status and the start of the body.
	ErrInvalidJSON = errors.New("client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint.")
	// ErrEmptyBody is wrapped by the error for a 2xx answer whose body is
	// empty where etcd always sends one (a long poll that the server or a
	// proxy closed early answers like this; the Watcher simply asks again).
	ErrEmptyBody = errors.New("client: response body is empty")
)

// Error is an error answered by the etcd v2 keys API: the body
// {"errorCode","message","cause","index"}. It is returned as a value, so both
// a type assertion err.(client.Error) and errors.As(err, &e) with
// var e client.Error find it.
type Error struct {
	// Code is the etcd error code, one of the ErrorCode constants.
	Code int `json:"errorCode"`
	// Message is the server's text for the code.
	Message string `json:"message"`
	// Cause says what the error is about, usually the key
	// (e.g. "/foo" for a missing key, "[old != new]" for a failed compare).
	Cause string `json:"cause"`
	// Index is the store index when the error happened; 0 for errors found
	// before the store was reached (bad parameters, auth, raft timeouts).
	Index uint64 `json:"index"`
}

// Error renders the error as "<code>: <message> (<cause>) [<index>]".
func (e Error) Error() string {
	return fmt.Sprintf("%v: %v (%v) [%v]", e.Code, e.Message, e.Cause, e.Index)
}

// HTTPError is an error answered by the members, auth or stats APIs: a
// status and the body {"message": ...}. It keeps the HTTP status, which is
// the only code these APIs give.
type HTTPError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the server's message, e.g. "auth: User u does not exist.".
	Message string
	// Endpoint is the member that answered.
	Endpoint string
	// Method and Path name the request (never its body or credentials).
	Method, Path string
	// Resource is what the status is about: "member", "user", "role",
	// "auth", "stats" or "" (the predicates IsUserNotFound, IsRoleNotFound,
	// IsMemberNotFound ... decide from StatusCode and Resource).
	Resource string
}

// Error names the request, the status and the server's message.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("client: %s %s on %s: %d %s: %s", e.Method, e.Path, e.Endpoint, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
	if e.StatusCode == http.StatusUnauthorized {
		s += " (credentials missing or refused: this call needs a user with the root role)"
	}
	return s
}

// ResponseError is returned for an answer that is not an etcd v2 answer: a
// body that is not the JSON etcd sends, an empty body where etcd always sends
// one, or a status the API never answers with. It wraps ErrInvalidJSON or
// ErrEmptyBody, so errors.Is works with those.
type ResponseError struct {
	// Endpoint is the member (or whatever listens there) that answered.
	Endpoint string
	// StatusCode and ContentType describe the answer.
	StatusCode  int
	ContentType string
	// Snippet is the start of the body, at most 120 bytes.
	Snippet string
	// Err is ErrInvalidJSON or ErrEmptyBody.
	Err error
	// Detail says what did not fit, e.g. the JSON syntax error.
	Detail string
}

// Error says what came back from where, and what that suggests.
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client: %s answered %d", e.Endpoint, e.StatusCode)
	if e.ContentType != "" {
		fmt.Fprintf(&b, " (%s)", e.ContentType)
	}
	if errors.Is(e.Err, ErrEmptyBody) {
		b.WriteString(" with an empty body")
	} else {
		b.WriteString(", which is not an etcd v2 answer")
		if e.Snippet != "" {
			fmt.Fprintf(&b, ": %q", e.Snippet)
		}
		if e.Detail != "" {
			fmt.Fprintf(&b, " (%s)", e.Detail)
		}
		if e.StatusCode == http.StatusNotFound {
			b.WriteString("; is the v2 API enabled on the server (--enable-v2=true, etcd 3.5 or older)?")
		}
	}
	return b.String()
}

// Unwrap gives ErrInvalidJSON or ErrEmptyBody.
func (e *ResponseError) Unwrap() error { return e.Err }

func newResponseError(endpoint string, resp *http.Response, body []byte, sentinel error, detail string) *ResponseError {
	snip := body
	if len(snip) > 120 {
		snip = snip[:120]
	}
	return &ResponseError{
		Endpoint:    endpoint,
		StatusCode:  resp.StatusCode,
		ContentType: resp.Header.Get("Content-Type"),
		Snippet:     strings.TrimSpace(string(snip)),
		Err:         sentinel,
		Detail:      detail,
	}
}

// ClusterError is returned when no endpoint gave a usable answer. Errors
// holds one error per attempt, each naming its endpoint, in the order they
// were tried. errors.Is and errors.As look through all of them, and
// errors.Is(err, ErrClusterUnavailable) holds.
type ClusterError struct {
	Errors []error
}

// Error is a one-line summary followed by each endpoint's cause.
func (ce *ClusterError) Error() string {
	s := ErrClusterUnavailable.Error()
	for i, e := range ce.Errors {
		s += fmt.Sprintf("; error #%d: %s", i, e)
	}
	return s
}

// Detail lists each attempt's error on its own line.
func (ce *ClusterError) Detail() string {
	var b strings.Builder
	for i, e := range ce.Errors {
		fmt.Fprintf(&b, "error #%d: %s\n", i, e)
	}
	return b.String()
}

// Unwrap gives the attempts' errors and ErrClusterUnavailable.
func (ce *ClusterError) Unwrap() []error {
	return append(append([]error(nil), ce.Errors...), ErrClusterUnavailable)
}

// EndpointError is one endpoint's failure inside a ClusterError or an
// OutcomeUnknownError.
type EndpointError struct {
	// Endpoint is the member the attempt went to.
	Endpoint string
	// Err is what went wrong: a transport error, a header timeout, or the
	// server's own error (Error or *HTTPError) for a 5xx answer.
	Err error
}

// Error names the endpoint and the cause.
func (e *EndpointError) Error() string { return fmt.Sprintf("endpoint %s: %v", e.Endpoint, e.Err) }

// Unwrap gives the cause.
func (e *EndpointError) Unwrap() error { return e.Err }

// ErrOutcomeUnknown is wrapped by every *OutcomeUnknownError.
var ErrOutcomeUnknown = errors.New("client: the request may or may not have been applied")

// OutcomeUnknownError is returned for a write that is not safe to send twice
// (create, in-order create, compare-and-swap, compare-and-delete, directory
// creation, member and auth changes) when it may have reached a server but no
// answer says whether it was applied: the connection broke after the request
// was sent, the member did not answer in time, or it answered with a 5xx
// such as etcd's "request timed out". The client does not resend such a
// write; read the key to find out. Err holds the cause (and errors.As finds
// an etcd Error in it when the server answered one).
type OutcomeUnknownError struct {
	// Op names the operation, e.g. "create /foo".
	Op string
	// Endpoint is where the request went.
	Endpoint string
	// Err is the cause.
	Err error
}

// Error says which write, where, and why its outcome is unknown.
func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("client: outcome of %s on %s unknown (not retried, it may have been applied): %v", e.Op, e.Endpoint, e.Err)
}

// Unwrap gives the cause and ErrOutcomeUnknown.
func (e *OutcomeUnknownError) Unwrap() []error { return []error{e.Err, ErrOutcomeUnknown} }

// IsOutcomeUnknown reports whether err says that a write may or may not have
// been applied (see OutcomeUnknownError).
func IsOutcomeUnknown(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }

// IsKeyNotFound returns true if the error code is ErrorCodeKeyNotFound.
func IsKeyNotFound(err error) bool { return hasErrorCode(err, ErrorCodeKeyNotFound) }

// IsEventIndexCleared reports whether err is etcd's errorCode 401: a watch
// asked for an index older than the server's 1000-event history. The
// Error's Index holds the server's current index.
func IsEventIndexCleared(err error) bool { return hasErrorCode(err, ErrorCodeEventIndexCleared) }

// IsUnauthorized reports whether the server refused the request for want of
// credentials, or because the credentials were wrong or lacked permission
// (keys errorCode 110, or HTTP 401 from the members and auth APIs).
func IsUnauthorized(err error) bool {
	if hasErrorCode(err, ErrorCodeUnauthorized) {
		return true
	}
	var he *HTTPError
	return errors.As(err, &he) && he.StatusCode == http.StatusUnauthorized
}

// IsUserNotFound returns true if the error means user not found of v2 API.
// It is decided from the HTTP status (404) and the resource the call was
// about, whatever the server's wording, for every call that names a user.
func IsUserNotFound(err error) bool { return hasStatus(err, http.StatusNotFound, "user") }

// IsRoleNotFound returns true if the error means role not found of v2 API.
// It holds for every call that names a role, and for GetUser when the user
// holds a role that no longer exists.
func IsRoleNotFound(err error) bool { return hasStatus(err, http.StatusNotFound, "role") }

// hasStatus reports whether err holds an *HTTPError with status about
// resource, looking at every endpoint's error of a ClusterError.
func hasStatus(err error, status int, resource string) bool {
	var he *HTTPError
	if errors.As(err, &he) && he.StatusCode == status && he.Resource == resource {
		return true
	}
	var ce *ClusterError
	if errors.As(err, &ce) {
		for _, e := range ce.Errors {
			if errors.As(e, &he) && he.StatusCode == status && he.Resource == resource {
				return true
			}
		}
	}
	return false
}

func hasErrorCode(err error, code int) bool {
	var e Error
	return errors.As(err, &e) && e.Code == code
}

// ResponseTooLargeError says an answer's body was larger than
// Config.MaxResponseBytes; it was not read further.
type ResponseTooLargeError struct {
	// Endpoint is the member that answered.
	Endpoint string
	// Limit is Config.MaxResponseBytes.
	Limit int64
}

// Error names the limit and the endpoint.
func (e *ResponseTooLargeError) Error() string {
	return fmt.Sprintf("client: the answer from %s is larger than Config.MaxResponseBytes (%d bytes); not read further", e.Endpoint, e.Limit)
}

// ErrInvalidArgument is matched by errors.Is for every input the client
// refuses before sending anything (an *InvalidArgumentError): the caller's
// input is wrong, as opposed to an answer of the server (Error, *HTTPError)
// or a cluster that could not be reached (*ClusterError,
// *OutcomeUnknownError).
var ErrInvalidArgument = errors.New("client: invalid argument")

// InvalidArgumentError is returned for an input the client refuses before
// anything is sent: a key with "." or ".." segments or invalid UTF-8, a
// value or PrevValue that is not valid UTF-8, options that contradict each
// other (PrevValue with Dir, Refresh with a value or without a positive
// TTL), an endpoint or peer URL that does not fit, a bad user or role name
// or password, a nil context. errors.Is(err, ErrInvalidArgument) holds for
// it. The README lists every refusal.
type InvalidArgumentError struct {
	// Field names the input: a parameter ("key", "dir", "value",
	// "username", "password", "role", "endpoint", "ctx", ...) or an option
	// field ("SetOptions.TTL", "Config.Endpoints", ...).
	Field string
	// Reason says what is wrong with it. It never holds a password, and
	// quotes an endpoint or peer URL with its user info masked.
	Reason string
	// Err is a sentinel the error matches as well, if any (ErrNoEndpoints
	// for an empty endpoint list).
	Err error
}

// Error names the field and the reason.
func (e *InvalidArgumentError) Error() string {
	return "client: invalid " + e.Field + ": " + e.Reason
}

// Is reports whether target is ErrInvalidArgument.
func (e *InvalidArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

// Unwrap gives Err.
func (e *InvalidArgumentError) Unwrap() error { return e.Err }

// invalidArg makes the error of a refused input. Every refusal goes through
// it, with a literal format (the tests find each call and make it refuse).
func invalidArg(field, format string, args ...any) *InvalidArgumentError {
	return &InvalidArgumentError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// errNilContext is returned by calls given a nil context.
var errNilContext = invalidArg("ctx", "nil context.Context (use context.Background())")
