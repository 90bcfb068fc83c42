// Answers: reading a body within limits, turning a status into an error, and
// dispatching a keys answer to its decoder.

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// result is one answered call: the final response with its body read.
type result struct {
	resp     *http.Response
	body     []byte
	endpoint string
	method   string
	path     string
	// resource is what the call's HTTP errors are about (HTTPError.Resource).
	resource string
	// retried is set when an earlier attempt failed after it may have
	// reached a server: a write may then have been applied by that attempt.
	retried bool
	// earlier is that attempt's error.
	earlier error
	// head, when set, is what the index headers say, read already (a long
	// poll's, read before its event came); keysHeaders then uses it.
	head *keysHead
}

// decodeJSON decodes the body into v, or says the answer is not etcd's.
func (r *result) decodeJSON(v any) error {
	if len(r.body) == 0 {
		return newResponseError(r.endpoint, r.resp, r.body, ErrEmptyBody, "")
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return newResponseError(r.endpoint, r.resp, r.body, ErrInvalidJSON, err.Error())
	}
	return nil
}

// httpError turns a members/auth/stats error answer into an *HTTPError, or a
// *ResponseError when the body is not the {"message"} etcd sends.
// resource names what the call is about (see HTTPError.Resource).
func (r *result) httpError() error {
	return decodeHTTPError(r.endpoint, r.method, r.path, r.resource, r.resp, r.body)
}

// decodeHTTPError turns an error answer of the members, auth or stats API
// into an *HTTPError about resource, or a *ResponseError when the body is
// not the {"message"} etcd sends.
func decodeHTTPError(endpoint, method, path, resource string, resp *http.Response, body []byte) error {
	var m struct {
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Message == nil {
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		return newResponseError(endpoint, resp, body, ErrInvalidJSON, detail)
	}
	return &HTTPError{StatusCode: resp.StatusCode, Message: *m.Message, Endpoint: endpoint, Method: method, Path: path, Resource: resource}
}

// readBody reads a whole body, bounded by ctx (the request's context ends
// the read when ctx does) and by limit bytes when limit > 0.
func readBody(ctx context.Context, resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	var buf []byte
	if resp.ContentLength > 0 && resp.ContentLength < 64<<20 && (limit <= 0 || resp.ContentLength <= limit) {
		buf = make([]byte, 0, resp.ContentLength+1)
	} else {
		// Small: a long poll holds it while it waits.
		buf = make([]byte, 0, 256)
	}
	for {
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if limit > 0 && int64(len(buf)) > limit {
			return nil, &ResponseTooLargeError{Limit: limit}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// decodeKeysResult turns a keys answer into a Response or an error.
func decodeKeysResult(res *result) (*Response, error) {
	switch res.resp.StatusCode {
	case http.StatusOK, http.StatusCreated:
		if len(res.body) == 0 {
			if res.method == http.MethodHead {
				return keysHeaders(res, &Response{})
			}
			return nil, newResponseError(res.endpoint, res.resp, res.body, ErrEmptyBody, "")
		}
		r, err := decodeKeysBody(res.body)
		if err != nil || r.Action == "" {
			detail := "no action"
			if err != nil {
				detail = err.Error()
			}
			return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, detail)
		}
		return keysHeaders(res, r)
	}
	if e, ok := decodeKeysError(res.body); ok {
		return nil, e
	}
	if res.method == http.MethodHead && len(res.body) == 0 {
		// HEAD answers carry no body: keep what the status says.
		return nil, Error{Code: headStatusCode(res.resp.StatusCode), Message: http.StatusText(res.resp.StatusCode), Index: headerUint(res.resp.Header, "X-Etcd-Index")}
	}
	return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, "")
}

func headStatusCode(status int) int {
	switch status {
	case http.StatusNotFound:
		return ErrorCodeKeyNotFound
	case http.StatusUnauthorized:
		return ErrorCodeUnauthorized
	}
	return 0
}

// keysHeaders fills the index headers into r.
func keysHeaders(res *result, r *Response) (*Response, error) {
	if res.head != nil {
		res.head.fill(r)
		return r, nil
	}
	k, bad, v := readKeysHead(res.resp.Header)
	if bad != "" {
		return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, fmt.Sprintf("header %s: %q is not an index", bad, v))
	}
	k.fill(r)
	return r, nil
}

// keysHead is what the headers of a keys answer say of etcd's state.
type keysHead struct {
	index, raftIndex, raftTerm uint64
	clusterID                  string
}

// readKeysHead reads the index headers of h; bad names one that is not an
// index, and v is its value.
func readKeysHead(h http.Header) (k keysHead, bad, v string) {
	for _, f := range [...]struct {
		name string
		dst  *uint64
	}{{"X-Etcd-Index", &k.index}, {"X-Raft-Index", &k.raftIndex}, {"X-Raft-Term", &k.raftTerm}} {
		if v := headerValue(h, f.name); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return k, f.name, v
			}
			*f.dst = n
		}
	}
	k.clusterID = headerValue(h, "X-Etcd-Cluster-Id")
	return k, "", ""
}

func (k *keysHead) fill(r *Response) {
	r.Index, r.RaftIndex, r.RaftTerm, r.ClusterID = k.index, k.raftIndex, k.raftTerm, k.clusterID
}

// headerValue is h.Get(name) for a name already in canonical form, without
// canonicalising it again.
func headerValue(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func headerUint(h http.Header, name string) uint64 {
	n, _ := strconv.ParseUint(headerValue(h, name), 10, 64)
	return n
}

// decodeKeysError decodes etcd's keys error body.
func decodeKeysError(body []byte) (Error, bool) {
	var e struct {
		Code    *int   `json:"errorCode"`
		Message string `json:"message"`
		Cause   string `json:"cause"`
		Index   uint64 `json:"index"`
	}
	if len(body) == 0 || json.Unmarshal(body, &e) != nil || e.Code == nil {
		return Error{}, false
	}
	return Error{Code: *e.Code, Message: e.Message, Cause: e.Cause, Index: e.Index}, true
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

// decodeAnyError turns a 5xx answer into the server's own error: an etcd
// keys Error, an *HTTPError, or a *ResponseError when it is neither.
func decodeAnyError(endpoint, resource string, resp *http.Response, body []byte) error {
	if e, ok := decodeKeysError(body); ok {
		return e
	}
	return decodeHTTPError(endpoint, resp.Request.Method, resp.Request.URL.Path, resource, resp, body)
}
