// Do: a request of another API of the same members sent through the Client's
// pipeline.

package client

import (
	"context"
	"net/http"
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
	// Config.WatchTransport and is resent like a read.
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
	// The call object is not released: the caller reads the body, which the
	// object holds, after Do returns.
	resp, _, err := c.cluster().send(ctx, req, operation{class: opClass(class), name: req.Method + " " + u.Path, foreign: true})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
