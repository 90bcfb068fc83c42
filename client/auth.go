// AuthAPI and AuthStatusAPI: switching v2 auth on and off, and reading
// whether it is on.

package client

import (
	"context"
	"net/http"

	"github.com/meycoin/goetcd/generated"
)

// AuthAPI switches v2 auth on and off.
type AuthAPI interface {
	// Enable auth.
	Enable(ctx context.Context) error

	// Disable auth.
	Disable(ctx context.Context) error
}

// AuthStatusAPI is AuthAPI plus a way to read whether auth is on.
type AuthStatusAPI interface {
	AuthAPI
	// Enabled reports whether auth is enforced. It needs no credentials.
	Enabled(ctx context.Context) (bool, error)
}

// NewAuthAPI constructs a new AuthAPI that uses HTTP to interact with etcd's
// general auth features. The value returned also implements AuthStatusAPI.
func NewAuthAPI(c Client) AuthAPI { return &httpAuthAPI{c: c.cluster()} }

// NewAuthStatusAPI is NewAuthAPI, typed to offer Enabled as well.
func NewAuthStatusAPI(c Client) AuthStatusAPI { return &httpAuthAPI{c: c.cluster()} }

type httpAuthAPI struct {
	c *httpClusterClient
}

// Enable turns auth on. It needs a root user (create one with AddUser
// first; without one the server answers 409), and, once auth is on, the
// root credentials (a second Enable is a 409 "already enabled").
//
// Enabling creates a "guest" role with read and write access to every key
// unless a guest role exists already, so anonymous requests to the keys API
// keep working until that role's access is revoked (RevokeRoleKV on
// "guest") or the role is removed.
func (a *httpAuthAPI) Enable(ctx context.Context) error {
	req, err := generated.NewEnableAuthRequest(placeholderServer)
	if err != nil {
		return err
	}
	_, err = a.c.expect(ctx, req, operation{class: classOneShot, name: "enable auth", resource: "auth"}, http.StatusOK)
	return err
}

// Disable turns auth off; it needs the root credentials. Disabling auth
// when it is off is a 409 "already disabled".
func (a *httpAuthAPI) Disable(ctx context.Context) error {
	req, err := generated.NewDisableAuthRequest(placeholderServer)
	if err != nil {
		return err
	}
	_, err = a.c.expect(ctx, req, operation{class: classOneShot, name: "disable auth", resource: "auth"}, http.StatusOK)
	return err
}

// Enabled reports whether auth is on. It needs no credentials.
func (a *httpAuthAPI) Enabled(ctx context.Context) (bool, error) {
	req, err := generated.NewGetAuthStatusRequest(placeholderServer)
	if err != nil {
		return false, err
	}
	res, err := a.c.expect(ctx, req, operation{class: classRead, name: "get auth status", resource: "auth"}, http.StatusOK)
	if err != nil {
		return false, err
	}
	var s generated.AuthStatus
	if err := res.decodeJSON(&s); err != nil {
		return false, err
	}
	return s.Enabled, nil
}
