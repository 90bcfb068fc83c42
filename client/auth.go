package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
// first), and, once auth is on, the root credentials. Note that enabling
// creates a "guest" role with read and write access to every key, so
// anonymous requests keep working until that role's access is revoked.
func (a *httpAuthAPI) Enable(ctx context.Context) error {
	req, err := generated.NewEnableAuthRequest(placeholderServer)
	if err != nil {
		return err
	}
	_, err = authCall(ctx, a.c, req, classOneShot, "enable auth", "auth", http.StatusOK)
	return err
}

// Disable turns auth off; it needs the root credentials.
func (a *httpAuthAPI) Disable(ctx context.Context) error {
	req, err := generated.NewDisableAuthRequest(placeholderServer)
	if err != nil {
		return err
	}
	_, err = authCall(ctx, a.c, req, classOneShot, "disable auth", "auth", http.StatusOK)
	return err
}

// Enabled reports whether auth is on.
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
// status becomes an *HTTPError about resource.
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
	return nil, res.httpError(resource)
}

// User is a v2 auth user as the user API answers it.
type User struct {
	User     string   `json:"user"`
	Password string   `json:"password,omitempty"`
	Roles    []string `json:"roles"`
	Grant    []string `json:"grant,omitempty"`
	Revoke   []string `json:"revoke,omitempty"`
}

// UserRoles is a user with its roles in full, as GET of a user answers.
type UserRoles struct {
	User  string `json:"user"`
	Roles []Role `json:"roles"`
}

// AuthUserAPI manages v2 auth users. Every call needs root credentials once
// auth is on.
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

// checkName refuses names that would not stay one path segment.
func checkName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("client: empty %s name", kind)
	}
	if strings.Contains(name, "/") || name == "." || name == ".." {
		return fmt.Errorf("client: %s name %q cannot contain '/' or be a dot segment", kind, name)
	}
	return nil
}

// ErrUserExists is wrapped by AddUser's error when the user exists already.
var ErrUserExists = errors.New("client: user already exists")

// AddUser creates a user with a password; it never changes an existing
// user. The server's own call creates or updates, so AddUser first checks
// that the name is free and returns an error wrapping ErrUserExists if it is
// not. Should another client create the same user between that check and
// the write, the server reports an update instead of a create; AddUser then
// says so in its error (the password was changed) rather than report
// success.
func (u *httpAuthUserAPI) AddUser(ctx context.Context, username, password string) error {
	if err := checkName("user", username); err != nil {
		return err
	}
	if password == "" {
		return fmt.Errorf("client: AddUser %q: empty password", username)
	}
	if _, err := u.GetUser(ctx, username); err == nil {
		return fmt.Errorf("client: AddUser %q: %w (use ChangePassword to change its password)", username, ErrUserExists)
	} else if !IsUserNotFound(err) && !IsRoleNotFound(err) {
		return err
	} else if IsRoleNotFound(err) {
		return fmt.Errorf("client: AddUser %q: %w (it holds a role that no longer exists)", username, ErrUserExists)
	}
	req, err := generated.NewPutUserRequest(placeholderServer, username, generated.UserRequest{User: username, Password: &password})
	if err != nil {
		return err
	}
	res, err := authCall(ctx, u.c, req, classOneShot, "add user "+username, "user", http.StatusCreated, http.StatusOK)
	if err != nil {
		return err
	}
	if res.resp.StatusCode == http.StatusOK {
		return fmt.Errorf("client: AddUser %q: %w: it was created concurrently by another client, and this call changed its password", username, ErrUserExists)
	}
	return nil
}

// RemoveUser deletes a user.
func (u *httpAuthUserAPI) RemoveUser(ctx context.Context, username string) error {
	if err := checkName("user", username); err != nil {
		return err
	}
	req, err := generated.NewRemoveUserRequest(placeholderServer, username)
	if err != nil {
		return err
	}
	_, err = authCall(ctx, u.c, req, classOneShot, "remove user "+username, "user", http.StatusOK)
	return err
}

// GetUser reads a user and the names of its roles. If the user holds a role
// that no longer exists, the server refuses the read: the error then
// satisfies IsRoleNotFound, not IsUserNotFound.
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
	if res.resp.StatusCode != http.StatusOK {
		resource := "user"
		var m struct{ Message string }
		if json.Unmarshal(res.body, &m) == nil && strings.HasPrefix(m.Message, "auth: Role ") {
			resource = "role"
		}
		return nil, res.httpError(resource)
	}
	return decodeUser(res)
}

// decodeUser decodes a user whose roles are names or role objects.
func decodeUser(res *result) (*User, error) {
	var raw struct {
		User  string            `json:"user"`
		Roles []json.RawMessage `json:"roles"`
	}
	if err := res.decodeJSON(&raw); err != nil {
		return nil, err
	}
	usr := &User{User: raw.User, Roles: []string{}}
	for _, r := range raw.Roles {
		var name string
		if json.Unmarshal(r, &name) == nil {
			usr.Roles = append(usr.Roles, name)
			continue
		}
		var role struct {
			Role string `json:"role"`
		}
		if err := json.Unmarshal(r, &role); err != nil {
			return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, "role is neither a name nor a role object")
		}
		usr.Roles = append(usr.Roles, role.Role)
	}
	return usr, nil
}

// GrantUser adds roles to a user (role names are not checked by the server;
// granting a role held already is a 409).
func (u *httpAuthUserAPI) GrantUser(ctx context.Context, username string, roles []string) (*User, error) {
	return u.modify(ctx, username, "grant roles to", generated.UserRequest{User: username, Grant: &roles})
}

// RevokeUser removes roles from a user (revoking a role not held is a 409).
func (u *httpAuthUserAPI) RevokeUser(ctx context.Context, username string, roles []string) (*User, error) {
	return u.modify(ctx, username, "revoke roles from", generated.UserRequest{User: username, Revoke: &roles})
}

func (u *httpAuthUserAPI) modify(ctx context.Context, username, verb string, body generated.UserRequest) (*User, error) {
	if err := checkName("user", username); err != nil {
		return nil, err
	}
	req, err := generated.NewPutUserRequest(placeholderServer, username, body)
	if err != nil {
		return nil, err
	}
	res, err := authCall(ctx, u.c, req, classOneShot, verb+" user "+username, "user", http.StatusOK)
	if err != nil {
		return nil, err
	}
	return decodeUser(res)
}

// ChangePassword sets a user's password; it never creates a user. The
// server's own call creates a missing user, so ChangePassword checks that the
// user exists first (an error with IsUserNotFound otherwise); should the user
// be deleted between that check and the write, the user the server then
// creates is removed again and the error says so.
func (u *httpAuthUserAPI) ChangePassword(ctx context.Context, username, password string) (*User, error) {
	if password == "" {
		return nil, fmt.Errorf("client: ChangePassword %q: empty password", username)
	}
	if _, err := u.GetUser(ctx, username); err != nil && !IsRoleNotFound(err) {
		return nil, err
	}
	req, err := generated.NewPutUserRequest(placeholderServer, username, generated.UserRequest{User: username, Password: &password})
	if err != nil {
		return nil, err
	}
	res, err := authCall(ctx, u.c, req, classIdempotent, "change password of user "+username, "user", http.StatusOK, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	if res.resp.StatusCode == http.StatusCreated {
		rmErr := u.RemoveUser(ctx, username)
		return nil, errors.Join(&HTTPError{StatusCode: http.StatusNotFound, Message: "user was deleted concurrently; the user the password change created was removed again", Endpoint: res.endpoint, Method: res.method, Path: res.path, Resource: "user"}, rmErr)
	}
	return decodeUser(res)
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

// rwPermission is the read and write key patterns of a role. A pattern is a
// key path, or a prefix when it ends in "*" ("/app/*" covers "/app/a" but not
// "/app" itself).
type rwPermission struct {
	Read  []string `json:"read"`
	Write []string `json:"write"`
}

// Permissions are a role's permissions on the key space.
type Permissions struct {
	KV rwPermission `json:"kv"`
}

// Role is a v2 auth role.
type Role struct {
	Role        string       `json:"role"`
	Permissions Permissions  `json:"permissions"`
	Grant       *Permissions `json:"grant,omitempty"`
	Revoke      *Permissions `json:"revoke,omitempty"`
}

// AuthRoleAPI manages v2 auth roles. Every call needs root credentials once
// auth is on.
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
	req, err := generated.NewPutRoleRequest(placeholderServer, role, generated.RoleRequest{Role: role})
	if err != nil {
		return err
	}
	_, err = authCall(ctx, r.c, req, classOneShot, "add role "+role, "role", http.StatusCreated)
	return err
}

// RemoveRole deletes a role.
func (r *httpAuthRoleAPI) RemoveRole(ctx context.Context, role string) error {
	if err := checkName("role", role); err != nil {
		return err
	}
	req, err := generated.NewRemoveRoleRequest(placeholderServer, role)
	if err != nil {
		return err
	}
	_, err = authCall(ctx, r.c, req, classOneShot, "remove role "+role, "role", http.StatusOK)
	return err
}

// GetRole reads a role.
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

// GrantRoleKV adds key patterns to a role's read, write or both lists.
func (r *httpAuthRoleAPI) GrantRoleKV(ctx context.Context, role string, prefixes []string, permType PermissionType) (*Role, error) {
	return r.modify(ctx, role, "grant", prefixes, permType)
}

// RevokeRoleKV removes key patterns from a role's read, write or both lists.
func (r *httpAuthRoleAPI) RevokeRoleKV(ctx context.Context, role string, prefixes []string, permType PermissionType) (*Role, error) {
	return r.modify(ctx, role, "revoke", prefixes, permType)
}

func (r *httpAuthRoleAPI) modify(ctx context.Context, role, verb string, prefixes []string, permType PermissionType) (*Role, error) {
	if err := checkName("role", role); err != nil {
		return nil, err
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
		return nil, fmt.Errorf("client: %s role %q: unknown PermissionType %d", verb, role, permType)
	}
	body := generated.RoleRequest{Role: role}
	if verb == "grant" {
		body.Grant = &generated.Permissions{Kv: &kv}
	} else {
		body.Revoke = &generated.Permissions{Kv: &kv}
	}
	req, err := generated.NewPutRoleRequest(placeholderServer, role, body)
	if err != nil {
		return nil, err
	}
	res, err := authCall(ctx, r.c, req, classOneShot, verb+" permissions of role "+role, "role", http.StatusOK)
	if err != nil {
		return nil, err
	}
	return decodeRole(res)
}

// ListRoles lists the role names, sorted (root is always there).
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
