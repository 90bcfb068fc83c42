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
	_, err = authCall(ctx, a.c, req, classOneShot, "enable auth", "auth", http.StatusOK)
	return err
}

// Disable turns auth off; it needs the root credentials. Disabling auth
// when it is off is a 409 "already disabled".
func (a *httpAuthAPI) Disable(ctx context.Context) error {
	req, err := generated.NewDisableAuthRequest(placeholderServer)
	if err != nil {
		return err
	}
	_, err = authCall(ctx, a.c, req, classOneShot, "disable auth", "auth", http.StatusOK)
	return err
}

// Enabled reports whether auth is on. It needs no credentials.
func (a *httpAuthAPI) Enabled(ctx context.Context) (bool, error) {
	req, err := generated.NewGetAuthStatusRequest(placeholderServer)
	if err != nil {
		return false, err
	}
	res, err := authCall(ctx, a.c, req, classRead, "get auth status", "auth", http.StatusOK)
	if err != nil {
		return false, err
	}
	var s generated.AuthStatus
	if err := res.decodeJSON(&s); err != nil {
		return false, err
	}
	return s.Enabled, nil
}

// authCall sends an auth or members request and checks its status; any other
// status becomes an *HTTPError about resource (a 401 also says whether
// credentials were sent).
func authCall(ctx context.Context, c *httpClusterClient, req *http.Request, class opClass, op, resource string, ok ...int) (*result, error) {
	res, err := c.do(ctx, req, class, op)
	if err != nil {
		return nil, tagResource(err, resource)
	}
	for _, s := range ok {
		if res.resp.StatusCode == s {
			return res, nil
		}
	}
	return nil, explainUnauthorized(c, res.httpError(resource))
}

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

// checkName refuses names that would not stay one path segment (the server
// answers 400 "Invalid path" for those).
func checkName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("client: empty %s name", kind)
	}
	if strings.Contains(name, "/") || name == "." || name == ".." {
		return fmt.Errorf("client: %s name %q cannot contain '/' or be a dot segment", kind, name)
	}
	return checkUTF8(kind+" name", name)
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
	if err := checkName("user", username); err != nil {
		return err
	}
	if password == "" {
		return fmt.Errorf("client: add user %q: empty password", username)
	}
	if err := checkUTF8(fmt.Sprintf("the password of user %q", username), password); err != nil {
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
	res, err := authCall(ctx, u.c, req, classOneShot, "add user "+username, "user", http.StatusCreated, http.StatusOK)
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
	if err := checkName("user", username); err != nil {
		return err
	}
	req, err := generated.NewDeleteUserRequest(placeholderServer, username)
	if err != nil {
		return err
	}
	_, err = authCall(ctx, u.c, req, classOneShot, "remove user "+username, "user", http.StatusOK)
	return err
}

// GetUser reads a user and the names of its roles. The server refuses to
// read a user that holds a role that no longer exists, with the same 404 as
// for a missing user; GetUser then lists the users to tell the two apart,
// and the error satisfies IsRoleNotFound (the user exists) or
// IsUserNotFound (it does not). Only if that list cannot be read either
// does it fall back on the server's wording.
func (u *httpAuthUserAPI) GetUser(ctx context.Context, username string) (*User, error) {
	if err := checkName("user", username); err != nil {
		return nil, err
	}
	req, err := generated.NewGetUserRequest(placeholderServer, username)
	if err != nil {
		return nil, err
	}
	res, err := u.c.do(ctx, req, classRead, "get user "+username)
	if err != nil {
		return nil, tagResource(err, "user")
	}
	switch res.resp.StatusCode {
	case http.StatusOK:
		return decodeUser(res)
	case http.StatusNotFound:
		return nil, u.missingUserOrRole(ctx, username, res)
	}
	return nil, explainUnauthorized(u.c, res.httpError("user"))
}

// missingUserOrRole decides what the 404 of a user read is about: the
// user list shows every existing user, including one whose roles cannot
// be resolved.
func (u *httpAuthUserAPI) missingUserOrRole(ctx context.Context, username string, res *result) error {
	err := res.httpError("user")
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
	if err := checkName("user", username); err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, fmt.Errorf("client: grant roles to user %q: no roles given", username)
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
	if err := checkName("user", username); err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, fmt.Errorf("client: revoke roles from user %q: no roles given", username)
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
	res, err := authCall(ctx, u.c, req, class, verb+" user "+username, "user", http.StatusOK, http.StatusCreated)
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
	if err := checkName("user", username); err != nil {
		return nil, err
	}
	if password == "" {
		return nil, fmt.Errorf("client: change password of user %q: empty password", username)
	}
	if err := checkUTF8(fmt.Sprintf("the password of user %q", username), password); err != nil {
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
	res, err := authCall(ctx, u.c, req, classRead, "list users", "user", http.StatusOK)
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

// PermissionType says which permission lists a role change touches.
type PermissionType int

const (
	// ReadPermission is read access.
	ReadPermission PermissionType = iota
	// WritePermission is write access.
	WritePermission
	// ReadWritePermission is both.
	ReadWritePermission
)

// String names the permission type as the constants do, e.g. "read".
func (p PermissionType) String() string {
	switch p {
	case ReadPermission:
		return "read"
	case WritePermission:
		return "write"
	case ReadWritePermission:
		return "readwrite"
	}
	return fmt.Sprintf("PermissionType(%d)", int(p))
}

// rwPermission is the read and write key patterns of a role. A pattern is a
// key path, or a prefix when it ends in "*" ("/app/*" covers "/app/a" but not
// "/app" itself). The server keeps both lists sorted.
type rwPermission struct {
	Read  []string `json:"read"`
	Write []string `json:"write"`
}

// Permissions are a role's permissions on the key space.
type Permissions struct {
	KV rwPermission `json:"kv"`
}

// Role is a v2 auth role. The API fills Role and Permissions; Grant and
// Revoke are the server's request fields and are never set in answers.
type Role struct {
	Role        string       `json:"role"`
	Permissions Permissions  `json:"permissions"`
	Grant       *Permissions `json:"grant,omitempty"`
	Revoke      *Permissions `json:"revoke,omitempty"`
}

// AuthRoleAPI manages v2 auth roles. Every call needs root credentials once
// auth is on. The role "root" always exists and cannot be changed or
// removed (403). Every call that names a role reports a missing one with an
// error for which IsRoleNotFound holds.
type AuthRoleAPI interface {
	// AddRole adds a role.
	AddRole(ctx context.Context, role string) error

	// RemoveRole removes a role.
	RemoveRole(ctx context.Context, role string) error

	// GetRole retrieves role details.
	GetRole(ctx context.Context, role string) (*Role, error)

	// GrantRoleKV grants a role some permission prefixes for the KV store.
	GrantRoleKV(ctx context.Context, role string, prefixes []string, permType PermissionType) (*Role, error)

	// RevokeRoleKV revokes some permission prefixes for a role on the KV store.
	RevokeRoleKV(ctx context.Context, role string, prefixes []string, permType PermissionType) (*Role, error)

	// ListRoles lists roles.
	ListRoles(ctx context.Context) ([]string, error)
}

// NewAuthRoleAPI constructs a new AuthRoleAPI that uses HTTP to interact with
// etcd's role creation and modification features.
func NewAuthRoleAPI(c Client) AuthRoleAPI { return &httpAuthRoleAPI{c: c.cluster()} }

type httpAuthRoleAPI struct {
	c *httpClusterClient
}

// AddRole creates a role without permissions (an existing role is a 409).
func (r *httpAuthRoleAPI) AddRole(ctx context.Context, role string) error {
	if err := checkName("role", role); err != nil {
		return err
	}
	req, err := generated.NewSetRoleRequest(placeholderServer, role, generated.RoleRequest{Role: role})
	if err != nil {
		return err
	}
	_, err = authCall(ctx, r.c, req, classOneShot, "add role "+role, "role", http.StatusCreated)
	return err
}

// RemoveRole deletes a role. Users holding it keep the name, which makes
// GetUser fail for them (IsRoleNotFound) until it is revoked; removing
// "guest" ends anonymous access while auth is on.
func (r *httpAuthRoleAPI) RemoveRole(ctx context.Context, role string) error {
	if err := checkName("role", role); err != nil {
		return err
	}
	req, err := generated.NewDeleteRoleRequest(placeholderServer, role)
	if err != nil {
		return err
	}
	_, err = authCall(ctx, r.c, req, classOneShot, "remove role "+role, "role", http.StatusOK)
	return err
}

// GetRole reads a role and its permissions.
func (r *httpAuthRoleAPI) GetRole(ctx context.Context, role string) (*Role, error) {
	if err := checkName("role", role); err != nil {
		return nil, err
	}
	req, err := generated.NewGetRoleRequest(placeholderServer, role)
	if err != nil {
		return nil, err
	}
	res, err := authCall(ctx, r.c, req, classRead, "get role "+role, "role", http.StatusOK)
	if err != nil {
		return nil, err
	}
	return decodeRole(res)
}

func decodeRole(res *result) (*Role, error) {
	var out Role
	if err := res.decodeJSON(&out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GrantRoleKV adds key patterns to a role's read, write or both lists and
// returns the resulting role. Granting a pattern the role has already is a
// 409.
func (r *httpAuthRoleAPI) GrantRoleKV(ctx context.Context, role string, prefixes []string, permType PermissionType) (*Role, error) {
	return r.modify(ctx, role, "grant", prefixes, permType)
}

// RevokeRoleKV removes key patterns from a role's read, write or both lists
// and returns the resulting role. When that changes nothing (the role does
// not have the patterns) the server answers 400.
func (r *httpAuthRoleAPI) RevokeRoleKV(ctx context.Context, role string, prefixes []string, permType PermissionType) (*Role, error) {
	return r.modify(ctx, role, "revoke", prefixes, permType)
}

func (r *httpAuthRoleAPI) modify(ctx context.Context, role, verb string, prefixes []string, permType PermissionType) (*Role, error) {
	if err := checkName("role", role); err != nil {
		return nil, err
	}
	if len(prefixes) == 0 {
		return nil, fmt.Errorf("client: %s permissions of role %q: no key patterns given", verb, role)
	}
	kv := generated.KVPermissions{}
	switch permType {
	case ReadPermission:
		kv.Read = &prefixes
	case WritePermission:
		kv.Write = &prefixes
	case ReadWritePermission:
		kv.Read, kv.Write = &prefixes, &prefixes
	default:
		return nil, fmt.Errorf("client: %s permissions of role %q: unknown PermissionType %d", verb, role, int(permType))
	}
	body := generated.RoleRequest{Role: role}
	if verb == "grant" {
		body.Grant = &generated.Permissions{Kv: &kv}
	} else {
		body.Revoke = &generated.Permissions{Kv: &kv}
	}
	req, err := generated.NewSetRoleRequest(placeholderServer, role, body)
	if err != nil {
		return nil, err
	}
	res, err := authCall(ctx, r.c, req, classOneShot, verb+" permissions of role "+role, "role", http.StatusOK)
	if err != nil {
		return nil, err
	}
	return decodeRole(res)
}

// ListRoles lists the role names, sorted ("root" is always there, "guest"
// once auth has been enabled).
func (r *httpAuthRoleAPI) ListRoles(ctx context.Context) ([]string, error) {
	req, err := generated.NewListRolesRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := authCall(ctx, r.c, req, classRead, "list roles", "role", http.StatusOK)
	if err != nil {
		return nil, err
	}
	var list struct {
		Roles []struct {
			Role string `json:"role"`
		} `json:"roles"`
	}
	if err := res.decodeJSON(&list); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list.Roles))
	for _, role := range list.Roles {
		names = append(names, role.Role)
	}
	return names, nil
}
