// The one call shape of the members, auth and status APIs: send a request
// as an operation, check the status, and turn any other status into an
// error that is complete when built.

package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// expect sends req as op and returns the answer when its status is one of
// ok. Any other status becomes an *HTTPError about op.resource (a 401 also
// says whether credentials were sent).
func (c *httpClusterClient) expect(ctx context.Context, req *http.Request, op operation, ok ...int) (*result, error) {
	res, err := c.do(ctx, req, op)
	if err != nil {
		return nil, err
	}
	for _, s := range ok {
		if res.resp.StatusCode == s {
			return res, nil
		}
	}
	return nil, c.statusError(res)
}

// statusError is the error of an answer whose status the call did not
// expect: an *HTTPError (explained when it is a 401) or a *ResponseError.
func (c *httpClusterClient) statusError(res *result) error {
	return explainUnauthorized(c.username, res.httpError())
}

// explainUnauthorized adds to a 401 what the client sent, so the caller
// knows whether credentials were missing or refused. The password is never
// part of the text.
func explainUnauthorized(username string, err error) error {
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
		return err
	}
	if username == "" {
		return fmt.Errorf("client: no credentials were sent (Config.Username is empty): %w", err)
	}
	return fmt.Errorf("client: the credentials of user %q were refused or lack the needed role: %w", username, err)
}
