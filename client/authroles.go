// AuthRoleAPI: the v2 auth roles and their key permissions.

package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/meycoin/goetcd/generated"
)

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
	_, err = r.c.expect(ctx, req, operation{class: classOneShot, name: "add role " + role, resource: "role"}, http.StatusCreated)
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
	_, err = r.c.expect(ctx, req, operation{class: classOneShot, name: "remove role " + role, resource: "role"}, http.StatusOK)
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
	res, err := r.c.expect(ctx, req, operation{class: classRead, name: "get role " + role, resource: "role"}, http.StatusOK)
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
		return nil, invalidArg("prefixes", "no key patterns given (%s permissions of role %q)", verb, role)
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
		return nil, invalidArg("permType", "unknown PermissionType %d (%s permissions of role %q)", int(permType), verb, role)
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
	res, err := r.c.expect(ctx, req, operation{class: classOneShot, name: verb + " permissions of role " + role, resource: "role"}, http.StatusOK)
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
	res, err := r.c.expect(ctx, req, operation{class: classRead, name: "list roles", resource: "role"}, http.StatusOK)
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
