package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestDecodeUserTakesNamesOrRoleObjects(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []string
		bad  bool
	}{
		{body: `{"user":"u","roles":["r1","r2"]}`, want: []string{"r1", "r2"}},
		{body: `{"user":"u","roles":[{"role":"r1","permissions":{"kv":{"read":["/a/*"],"write":null}}}]}`, want: []string{"r1"}},
		{body: `{"user":"u","roles":null}`, want: []string{}},
		{body: `{"user":"u"}`, want: []string{}},
		{body: `{"user":"u","roles":[]}`, want: []string{}},
		{body: `{"user":"u","roles":[42]}`, bad: true},
		{body: `{"user":"u","roles":[{"permissions":{}}]}`, bad: true},
		{body: `not json`, bad: true},
	} {
		res := &result{resp: &http.Response{StatusCode: 200, Header: http.Header{}}, body: []byte(tc.body), endpoint: "http://e"}
		u, err := decodeUser(res)
		if tc.bad {
			if !errors.Is(err, ErrInvalidJSON) {
				t.Errorf("decodeUser(%s) = %+v, %v; want ErrInvalidJSON", tc.body, u, err)
			}
			continue
		}
		if err != nil || u.User != "u" || u.Roles == nil || !slices.Equal(u.Roles, tc.want) {
			t.Errorf("decodeUser(%s) = %+v, %v; want roles %q", tc.body, u, err, tc.want)
		}
	}
}

// TestChangePasswordNeverCreates checks the request ChangePassword sends: a
// grant and a revoke of the same throw-away role with the password, which
// the server can only apply to an existing user.
func TestChangePasswordNeverCreates(t *testing.T) {
	f := newFakeEtcd(t, map[string]route{
		"PUT /v2/auth/users/u":     {200, `{"user":"u","roles":["r1"]}` + "\n"},
		"PUT /v2/auth/users/ghost": {404, `{"message":"auth: User ghost does not exist."}`},
	})
	users := NewAuthUserAPI(newTestClient(t, Config{}, f.endpoint()))
	ctx := context.Background()

	u, err := users.ChangePassword(ctx, "u", "New-secret-pw")
	if err != nil || !slices.Equal(u.Roles, []string{"r1"}) {
		t.Fatalf("ChangePassword = %+v, %v", u, err)
	}
	var body struct {
		User     string   `json:"user"`
		Password string   `json:"password"`
		Grant    []string `json:"grant"`
		Revoke   []string `json:"revoke"`
		Roles    []string `json:"roles"`
	}
	if err := json.Unmarshal([]byte(f.lastBody()), &body); err != nil {
		t.Fatal(err)
	}
	if body.User != "u" || body.Password != "New-secret-pw" || len(body.Grant) != 1 || !slices.Equal(body.Grant, body.Revoke) || body.Roles != nil {
		t.Errorf("ChangePassword sent %s; want the password with a grant and revoke of one role", f.lastBody())
	}
	if sent := f.sent(); !slices.Equal(sent, []string{"PUT /v2/auth/users/u"}) {
		t.Errorf("ChangePassword sent %q, want one PUT", sent)
	}

	_, err = users.ChangePassword(ctx, "ghost", "Ghost-secret-pw")
	if !IsUserNotFound(err) || IsRoleNotFound(err) {
		t.Errorf("ChangePassword of a missing user: %v, want IsUserNotFound", err)
	}
	if strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
	if _, err := users.ChangePassword(ctx, "u", ""); err == nil {
		t.Error("ChangePassword accepted an empty password")
	}
}

// TestGetUserTellsMissingUserFromMissingRole: both are a 404 from the
// server; the user list decides, and only without it the wording does.
func TestGetUserTellsMissingUserFromMissingRole(t *testing.T) {
	list := `{"users":[{"user":"bob"},{"user":"root","roles":[{"role":"root","permissions":{"kv":{"read":["/*"],"write":["/*"]}}}]}]}` + "\n"
	for _, tc := range []struct {
		name     string
		user     string
		message  string
		list     route
		wantRole bool
	}{
		{"holder of a deleted role", "bob", "auth: Role temp does not exist.", route{200, list}, true},
		{"missing user", "ghost", "auth: User ghost does not exist.", route{200, list}, false},
		{"missing user, odd wording", "ghost", "auth: Role-like wording", route{200, list}, false},
		{"list refused, role wording", "bob", "auth: Role temp does not exist.", route{500, `{"message":"Internal Server Error"}`}, true},
		{"list refused, user wording", "ghost", "auth: User ghost does not exist.", route{500, `{"message":"Internal Server Error"}`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEtcd(t, map[string]route{
				"GET /v2/auth/users/" + tc.user: {404, `{"message":"` + tc.message + `"}`},
				"GET /v2/auth/users":            tc.list,
			})
			_, err := NewAuthUserAPI(newTestClient(t, Config{}, f.endpoint())).GetUser(context.Background(), tc.user)
			if IsRoleNotFound(err) != tc.wantRole || IsUserNotFound(err) == tc.wantRole {
				t.Errorf("GetUser: %v; IsRoleNotFound=%v IsUserNotFound=%v, want role=%v", err, IsRoleNotFound(err), IsUserNotFound(err), tc.wantRole)
			}
		})
	}
}

func TestAddUserNeverChangesAPassword(t *testing.T) {
	t.Run("existing user", func(t *testing.T) {
		f := newFakeEtcd(t, map[string]route{
			"GET /v2/auth/users/u": {200, `{"user":"u"}` + "\n"},
		})
		err := NewAuthUserAPI(newTestClient(t, Config{}, f.endpoint())).AddUser(context.Background(), "u", "Secret-pw")
		if !errors.Is(err, ErrUserExists) {
			t.Errorf("AddUser of an existing user: %v, want ErrUserExists", err)
		}
		if sent := f.sent(); !slices.Equal(sent, []string{"GET /v2/auth/users/u"}) {
			t.Errorf("AddUser sent %q; no write may follow the read", sent)
		}
	})
	t.Run("created concurrently", func(t *testing.T) {
		f := newFakeEtcd(t, map[string]route{
			"GET /v2/auth/users/u": {404, `{"message":"auth: User u does not exist."}`},
			"GET /v2/auth/users":   {200, `{"users":null}` + "\n"},
			"PUT /v2/auth/users/u": {200, `{"user":"u","roles":null}` + "\n"},
		})
		err := NewAuthUserAPI(newTestClient(t, Config{}, f.endpoint())).AddUser(context.Background(), "u", "Secret-pw")
		if !errors.Is(err, ErrUserExists) || !strings.Contains(err.Error(), "set its password") {
			t.Errorf("AddUser answered by an update: %v, want ErrUserExists saying the password was set", err)
		}
		if strings.Contains(err.Error(), "Secret-pw") {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("created", func(t *testing.T) {
		f := newFakeEtcd(t, map[string]route{
			"GET /v2/auth/users/u": {404, `{"message":"auth: User u does not exist."}`},
			"GET /v2/auth/users":   {200, `{"users":null}` + "\n"},
			"PUT /v2/auth/users/u": {201, `{"user":"u","roles":null}` + "\n"},
		})
		if err := NewAuthUserAPI(newTestClient(t, Config{}, f.endpoint())).AddUser(context.Background(), "u", "Secret-pw"); err != nil {
			t.Errorf("AddUser: %v", err)
		}
		if body := f.lastBody(); body != `{"password":"Secret-pw","user":"u"}` {
			t.Errorf("AddUser sent %s", body)
		}
	})
}

func TestGrantUserRefusesMissingRoles(t *testing.T) {
	f := newFakeEtcd(t, map[string]route{
		"GET /v2/auth/roles/r1":   {200, `{"role":"r1","permissions":{"kv":{"read":null,"write":null}}}` + "\n"},
		"GET /v2/auth/roles/nope": {404, `{"message":"auth: Role nope does not exist."}`},
	})
	_, err := NewAuthUserAPI(newTestClient(t, Config{}, f.endpoint())).GrantUser(context.Background(), "u", []string{"r1", "nope"})
	if !IsRoleNotFound(err) || IsUserNotFound(err) {
		t.Errorf("GrantUser of a missing role: %v, want IsRoleNotFound", err)
	}
	for _, r := range f.sent() {
		if strings.HasPrefix(r, "PUT") {
			t.Errorf("GrantUser wrote %q although a role is missing", r)
		}
	}
}

func TestAuthNotFoundWhateverTheWording(t *testing.T) {
	f := newFakeEtcd(t, map[string]route{
		"DELETE /v2/auth/users/ghost": {404, `{"message":"auth: User ghost does not exist"}`},
		"PUT /v2/auth/users/ghost":    {404, `{"message":"auth: User ghost doesn't exist."}`},
		"DELETE /v2/auth/roles/nope":  {404, `{"message":"auth: Role nope doesn't exist."}`},
		"PUT /v2/auth/roles/nope":     {404, `{"message":"something else entirely"}`},
		"GET /v2/auth/roles/nope":     {404, `{"message":"auth: Role nope does not exist."}`},
	})
	c := newTestClient(t, Config{}, f.endpoint())
	users, roles := NewAuthUserAPI(c), NewAuthRoleAPI(c)
	ctx := context.Background()
	for name, err := range map[string]error{
		"RemoveUser": users.RemoveUser(ctx, "ghost"),
		"RevokeUser": func() error { _, err := users.RevokeUser(ctx, "ghost", []string{"r"}); return err }(),
	} {
		if !IsUserNotFound(err) || IsRoleNotFound(err) {
			t.Errorf("%s: %v, want IsUserNotFound", name, err)
		}
	}
	for name, err := range map[string]error{
		"RemoveRole":   roles.RemoveRole(ctx, "nope"),
		"GetRole":      func() error { _, err := roles.GetRole(ctx, "nope"); return err }(),
		"GrantRoleKV":  func() error { _, err := roles.GrantRoleKV(ctx, "nope", []string{"/a"}, WritePermission); return err }(),
		"RevokeRoleKV": func() error { _, err := roles.RevokeRoleKV(ctx, "nope", []string{"/a"}, ReadPermission); return err }(),
	} {
		if !IsRoleNotFound(err) || IsUserNotFound(err) {
			t.Errorf("%s: %v, want IsRoleNotFound", name, err)
		}
	}
}

func TestAuthInputIsCheckedBeforeSending(t *testing.T) {
	f := newFakeEtcd(t, nil)
	c := newTestClient(t, Config{}, f.endpoint())
	users, roles := NewAuthUserAPI(c), NewAuthRoleAPI(c)
	ctx := context.Background()
	for name, err := range map[string]error{
		"AddUser empty name":      users.AddUser(ctx, "", "pw"),
		"AddUser empty password":  users.AddUser(ctx, "u", ""),
		"AddUser slash":           users.AddUser(ctx, "a/b", "pw"),
		"GetUser dot":             func() error { _, err := users.GetUser(ctx, ".."); return err }(),
		"GrantUser no roles":      func() error { _, err := users.GrantUser(ctx, "u", nil); return err }(),
		"RevokeUser no roles":     func() error { _, err := users.RevokeUser(ctx, "u", nil); return err }(),
		"GrantRoleKV no prefixes": func() error { _, err := roles.GrantRoleKV(ctx, "r", nil, ReadPermission); return err }(),
		"GrantRoleKV bad type":    func() error { _, err := roles.GrantRoleKV(ctx, "r", []string{"/a"}, PermissionType(7)); return err }(),
		"AddRole slash":           roles.AddRole(ctx, "x/y"),
	} {
		if err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
	if n := f.hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
	if ReadWritePermission.String() != "readwrite" || PermissionType(9).String() != "PermissionType(9)" {
		t.Error("PermissionType.String")
	}
}

func TestRoleGrantSendsTheRightLists(t *testing.T) {
	f := newFakeEtcd(t, map[string]route{
		"PUT /v2/auth/roles/r": {200, `{"role":"r","permissions":{"kv":{"read":["/a/*"],"write":["/a/*"]}}}` + "\n"},
	})
	roles := NewAuthRoleAPI(newTestClient(t, Config{}, f.endpoint()))
	for _, tc := range []struct {
		pt   PermissionType
		want string
	}{
		{ReadPermission, `{"grant":{"kv":{"read":["/a/*"]}},"role":"r"}`},
		{WritePermission, `{"grant":{"kv":{"write":["/a/*"]}},"role":"r"}`},
		{ReadWritePermission, `{"grant":{"kv":{"read":["/a/*"],"write":["/a/*"]}},"role":"r"}`},
	} {
		r, err := roles.GrantRoleKV(context.Background(), "r", []string{"/a/*"}, tc.pt)
		if err != nil || r.Role != "r" || !slices.Equal(r.Permissions.KV.Write, []string{"/a/*"}) {
			t.Errorf("GrantRoleKV(%v) = %+v, %v", tc.pt, r, err)
		}
		if got := f.lastBody(); got != tc.want {
			t.Errorf("GrantRoleKV(%v) sent %s, want %s", tc.pt, got, tc.want)
		}
	}
}

// A password or name that is not valid UTF-8 would reach etcd through JSON
// with U+FFFD in place of the bad bytes: the user could never log in with
// what was given. It is refused before anything is sent, and the error does
// not show the password.
func TestAuthRefusesInvalidUTF8(t *testing.T) {
	f := newFakeEtcd(t, map[string]route{})
	c := newTestClient(t, Config{}, f.endpoint())
	users, roles := NewAuthUserAPI(c), NewAuthRoleAPI(c)
	ctx := context.Background()
	for _, tc := range []struct {
		name, want string
		call       func() error
	}{
		{"add user, password", `invalid password: not valid UTF-8 (user "u")`,
			func() error { return users.AddUser(ctx, "u", "Secret\xff-pw") }},
		{"change password", `invalid password: not valid UTF-8 (user "u")`,
			func() error { _, err := users.ChangePassword(ctx, "u", "Secret\xff-pw"); return err }},
		{"user name", "invalid username: not valid UTF-8 (byte 0xfe at offset 1)",
			func() error { return users.AddUser(ctx, "u\xfe", "Secret-pw") }},
		{"role name", "invalid role: not valid UTF-8",
			func() error { return roles.AddRole(ctx, "r\xc3") }},
	} {
		err := tc.call()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		} else if strings.Contains(err.Error(), "Secret") || strings.Contains(err.Error(), "0xff") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
	if sent := f.sent(); len(sent) != 0 {
		t.Errorf("refused calls sent %q", sent)
	}
}
