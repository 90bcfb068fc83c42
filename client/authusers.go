// AuthUserAPI: the v2 auth users (add, remove, read, grant and revoke roles,
// change passwords, list).

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/meycoin/goetcd/generated"
)

// User is a v2 auth user. The API fills User and Roles (role names); the
// password is never returned. Grant and Revoke are the server's request
// fields and are never set in answers.
type User struct {
	User     string   `json:"user"`
	Password string   `json:"password,omitempty"`
	Roles    []string `json:"roles"`
	Grant    []string `json:"grant,omitempty"`
	Revoke   []string `json:"revoke,omitempty"`
}

// UserRoles is a user with its roles in full, as the server answers a GET
// of a user (GetUser keeps only the role names).
type UserRoles struct {
	User  string `json:"user"`
	Roles []Role `json:"roles"`
}

// AuthUserAPI manages v2 auth users. Every call needs root credentials once
// auth is on (a user cannot even read itself or change its own password).
// Every call that names a user reports a missing one with an error for
// which IsUserNotFound holds, and a missing role with one for which
// IsRoleNotFound holds; both are decided from the HTTP status and what the
// call is about, never from the server's wording (which differs by method).
type AuthUserAPI interface {
	// AddUser adds a user.
	AddUser(ctx context.Context, username string, password string) error

	// RemoveUser removes a user.
	RemoveUser(ctx context.Context, username string) error

	// GetUser retrieves user details.
	GetUser(ctx context.Context, username string) (*User, error)

	// GrantUser grants a user some permission roles.
	GrantUser(ctx context.Context, username string, roles []string) (*User, error)

	// RevokeUser revokes some permission roles from a user.
	RevokeUser(ctx context.Context, username string, roles []string) (*User, error)

	// ChangePassword changes the user's password.
	ChangePassword(ctx context.Context, username string, password string) (*User, error)

	// ListUsers lists the users.
	ListUsers(ctx context.Context) ([]string, error)
}

// NewAuthUserAPI constructs a new AuthUserAPI that uses HTTP to interact with
// etcd's user creation and modification features.
func NewAuthUserAPI(c Client) AuthUserAPI { return &httpAuthUserAPI{c: c.cluster()} }

type httpAuthUserAPI struct {
	c *httpClusterClient
}

// checkName refuses user and role names (field says which) that would not
// stay one path segment (the server answers 400 "Invalid path" for those)
// or are not valid UTF-8.
func checkName(field, name string) error {
	if name == "" {
		return invalidArg(field, "empty name")
	}
	if strings.Contains(name, "/") || name == "." || name == ".." {
		return invalidArg(field, "%q cannot contain '/' or be a dot segment", name)
	}
	return checkUTF8(field, name)
}

// checkPassword refuses a password etcd would not take (empty) or would
// never accept as given: the password goes to etcd as JSON, which carries
// U+FFFD in place of bytes that are not valid UTF-8. The error never holds
// the password, nor any byte of it.
func checkPassword(username, password string) error {
	if password == "" {
		return invalidArg("password", "empty (user %q)", username)
	}
	if !utf8.ValidString(password) {
		return invalidArg("password", "not valid UTF-8 (user %q): it goes to etcd as JSON, with U+FFFD in place of the bad bytes, so the password as given would never be accepted", username)
	}
	return nil
}

// ErrUserExists is wrapped by AddUser's error when the user exists already.
var ErrUserExists = errors.New("client: user already exists")

// AddUser creates a user with a password; it never changes an existing
// user's password. The server's own call creates or updates, so AddUser
// first reads the user and returns an error wrapping ErrUserExists if it
// exists (also when it holds a role that no longer exists). Only should
// another client create the same user between that read and the write does
// the server update instead of create; AddUser then returns an error
// wrapping ErrUserExists that says this call set the password, rather than
// report success. The write is never sent twice (IsOutcomeUnknown when its
// outcome is unknown).
func (u *httpAuthUserAPI) AddUser(ctx context.Context, username, password string) error {
	if err := checkName("username", username); err != nil {
		return err
	}
	if err := checkPassword(username, password); err != nil {
		return err
	}
	switch _, err := u.GetUser(ctx, username); {
	case err == nil:
		return fmt.Errorf("client: add user %q: %w (use ChangePassword to change its password)", username, ErrUserExists)
	case IsRoleNotFound(err):
		return fmt.Errorf("client: add user %q: %w (it holds a role that no longer exists)", username, ErrUserExists)
	case !IsUserNotFound(err):
		return err
	}
	req, err := generated.NewSetUserRequest(placeholderServer, username, generated.UserRequest{User: username, Password: &password})
	if err != nil {
		return err
	}
	res, err := u.c.expect(ctx, req, operation{class: classOneShot, name: "add user " + username, resource: "user"}, http.StatusCreated, http.StatusOK)
	if err != nil {
		return err
	}
	if res.resp.StatusCode == http.StatusOK {
		return fmt.Errorf("client: add user %q: %w: another client created it at the same time, and this call set its password", username, ErrUserExists)
	}
	return nil
}

// RemoveUser deletes a user. The root user cannot be removed while auth is
// on (403).
func (u *httpAuthUserAPI) RemoveUser(ctx context.Context, username string) error {
	if err := checkName("username", username); err != nil {
		return err
	}
	req, err := generated.NewDeleteUserRequest(placeholderServer, username)
	if err != nil {
		return err
	}
	_, err = u.c.expect(ctx, req, operation{class: classOneShot, name: "remove user " + username, resource: "user"}, http.StatusOK)
	return err
}

// GetUser reads a user and the names of its roles. The server refuses to
// read a user that holds a role that no longer exists, with the same 404 as
// for a missing user; GetUser then lists the users to tell the two apart,
// and the error satisfies IsRoleNotFound (the user exists) or
// IsUserNotFound (it does not). Only if that list cannot be read either
// does it fall back on the server's wording.
func (u *httpAuthUserAPI) GetUser(ctx context.Context, username string) (*User, error) {
	if err := checkName("username", username); err != nil {
		return nil, err
	}
	req, err := generated.NewGetUserRequest(placeholderServer, username)
	if err != nil {
		return nil, err
	}
	res, err := u.c.do(ctx, req, operation{class: classRead, name: "get user " + username, resource: "user"})
	if err != nil {
		return nil, err
	}
	switch res.resp.StatusCode {
	case http.StatusOK:
		return decodeUser(res)
	case http.StatusNotFound:
		return nil, u.missingUserOrRole(ctx, username, res)
	}
	return nil, u.c.statusError(res)
}

// missingUserOrRole decides what the 404 of a user read is about: the
// user list shows every existing user, including one whose roles cannot
// be resolved.
func (u *httpAuthUserAPI) missingUserOrRole(ctx context.Context, username string, res *result) error {
	err := res.httpError()
	var he *HTTPError
	if !errors.As(err, &he) {
		return err
	}
	names, lerr := u.ListUsers(ctx)
	switch {
	case lerr == nil && slices.Contains(names, username):
		he.Resource = "role"
	case lerr == nil:
	case strings.HasPrefix(he.Message, "auth: Role "):
		he.Resource = "role"
	}
	return err
}

// decodeUser decodes a user whose roles are names (as PUT answers) or role
// objects (as GET answers); absent or null roles give an empty list.
func decodeUser(res *result) (*User, error) {
	var raw struct {
		User  string            `json:"user"`
		Roles []json.RawMessage `json:"roles"`
	}
	if err := res.decodeJSON(&raw); err != nil {
		return nil, err
	}
	usr := &User{User: raw.User, Roles: make([]string, 0, len(raw.Roles))}
	for _, r := range raw.Roles {
		var name string
		if json.Unmarshal(r, &name) == nil {
			usr.Roles = append(usr.Roles, name)
			continue
		}
		var role struct {
			Role *string `json:"role"`
		}
		if err := json.Unmarshal(r, &role); err != nil || role.Role == nil {
			return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, "a role is neither a name nor a role object")
		}
		usr.Roles = append(usr.Roles, *role.Role)
	}
	return usr, nil
}

// GrantUser adds roles to a user and returns the user with all its roles.
// The server stores any role name, even one that does not exist, which
// then makes every read of the user fail; GrantUser therefore reads each
// role first and returns an error for which IsRoleNotFound holds, granting
// nothing, when one is missing. A missing user gives IsUserNotFound;
// granting a role the user holds already is a 409.
func (u *httpAuthUserAPI) GrantUser(ctx context.Context, username string, roles []string) (*User, error) {
	if err := checkName("username", username); err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, invalidArg("roles", "none given (grant to user %q)", username)
	}
	rapi := httpAuthRoleAPI{c: u.c}
	for _, r := range roles {
		if _, err := rapi.GetRole(ctx, r); err != nil {
			return nil, fmt.Errorf("client: grant role %q to user %q: %w", r, username, err)
		}
	}
	return u.modify(ctx, username, "grant roles to", classOneShot, generated.UserRequest{User: username, Grant: &roles})
}

// RevokeUser removes roles from a user and returns the user with the roles
// it keeps. Revoking a role the user does not hold is a 409; a role that no
// longer exists can still be revoked (which repairs a user that GetUser
// cannot read). A missing user gives IsUserNotFound.
func (u *httpAuthUserAPI) RevokeUser(ctx context.Context, username string, roles []string) (*User, error) {
	if err := checkName("username", username); err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, invalidArg("roles", "none given (revoke from user %q)", username)
	}
	return u.modify(ctx, username, "revoke roles from", classOneShot, generated.UserRequest{User: username, Revoke: &roles})
}

// modify sends a change of user username (checked by the caller) and
// decodes the user the server answers.
func (u *httpAuthUserAPI) modify(ctx context.Context, username, verb string, class opClass, body generated.UserRequest) (*User, error) {
	req, err := generated.NewSetUserRequest(placeholderServer, username, body)
	if err != nil {
		return nil, err
	}
	res, err := u.c.expect(ctx, req, operation{class: class, name: verb + " user " + username, resource: "user"}, http.StatusOK, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	if res.resp.StatusCode == http.StatusCreated {
		// Only a create answers 201, and these requests never ask for one.
		return nil, fmt.Errorf("client: %s user %q: the server created the user instead of changing it", verb, username)
	}
	return decodeUser(res)
}

// ChangePassword sets a user's password and returns the user with its
// roles; it never creates a user. The server's plain password write creates
// a missing user, so ChangePassword sends the password together with a
// grant and a revoke of the same throw-away role name: that makes the
// server take its update path, which refuses a missing user (an error for
// which IsUserNotFound holds) and leaves the roles as they were. The write
// is atomic on the server, so there is no window in which a user can be
// created, and it works for a user holding a role that no longer exists.
func (u *httpAuthUserAPI) ChangePassword(ctx context.Context, username, password string) (*User, error) {
	if err := checkName("username", username); err != nil {
		return nil, err
	}
	if err := checkPassword(username, password); err != nil {
		return nil, err
	}
	placeholder := []string{placeholderRole()}
	body := generated.UserRequest{User: username, Password: &password, Grant: &placeholder, Revoke: &placeholder}
	// Setting the same password twice has the same effect as once, so the
	// write may be resent to another member.
	return u.modify(ctx, username, "change password of", classIdempotent, body)
}

// placeholderRole returns a role name no user holds: a grant and revoke of
// it cancel out within one server-side update.
func placeholderRole() string {
	return fmt.Sprintf("goetcd.change-password.%016x", rand.Uint64())
}

// ListUsers lists the user names, sorted.
func (u *httpAuthUserAPI) ListUsers(ctx context.Context) ([]string, error) {
	req, err := generated.NewListUsersRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := u.c.expect(ctx, req, operation{class: classRead, name: "list users", resource: "user"}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var list struct {
		Users []struct {
			User string `json:"user"`
		} `json:"users"`
	}
	if err := res.decodeJSON(&list); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list.Users))
	for _, usr := range list.Users {
		names = append(names, usr.User)
	}
	return names, nil
}
