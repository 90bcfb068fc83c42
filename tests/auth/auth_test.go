package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// Passwords are distinct and easy to find in an error text.
const (
	rootPW   = "Root-secret-pw-0"
	alicePW  = "Alice-secret-pw-1"
	alicePW2 = "Alice-secret-pw-2"
	otherPW  = "Other-secret-pw-3"
	wrongPW  = "Wrong-secret-pw-4"
	bobPW    = "Bob-secret-pw-5"
	bobPW2   = "Bob-secret-pw-6"
	ghostPW  = "Ghost-secret-pw-7"
)

// httpStatus returns the HTTP status an members/auth error carries, or 0.
func httpStatus(err error) int {
	var he *client.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

// keysCode returns the etcd error code of a keys error, or 0.
func keysCode(err error) int {
	var e client.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func sameStrings(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// TestAuth runs the whole auth scenario on a one-member cluster per server
// version: create root, a role with a read-only and a read-write prefix and
// a user holding it; the not-found predicates of every call; enable auth;
// revoke the guest role's access; check reads and writes inside and outside
// the prefixes; refused and missing credentials; a password change; disable
// auth.
func TestAuth(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			// Each version has its own cluster; they overlap their waits.
			t.Parallel()
			began := time.Now()
			cl := etcdtest.StartCluster(t, s, 1)
			eps := cl.Endpoints()
			anon := newIdentity(t, eps, "anonymous", "", "")
			root := newIdentity(t, eps, "root", "root", rootPW)
			wrongRoot := newIdentity(t, eps, "root with a wrong password", "root", wrongPW)
			alice := newIdentity(t, eps, "alice", "alice", alicePW)
			alice2 := newIdentity(t, eps, "alice with her new password", "alice", alicePW2)
			aliceOther := newIdentity(t, eps, "alice with the password of the refused AddUser", "alice", otherPW)
			var log errorLog

			t.Run("setup", func(t *testing.T) { testSetup(t, anon, root, &log) })
			// The not-found answers do not depend on auth being on; with it
			// off the server skips a bcrypt check per request, which is most
			// of this test's time on a busy machine.
			t.Run("not found", func(t *testing.T) { testNotFound(t, root, &log) })
			t.Run("dangling role", func(t *testing.T) { testDanglingRole(t, root, &log) })
			t.Run("enable", func(t *testing.T) { testEnable(t, anon, root, &log) })
			t.Run("permissions", func(t *testing.T) { testPermissions(t, anon, root, wrongRoot, alice, aliceOther, &log) })
			t.Run("unauthorized", func(t *testing.T) { testUnauthorized(t, anon, root, wrongRoot, alice, &log) })
			t.Run("password", func(t *testing.T) { testPassword(t, root, alice, alice2, &log) })
			t.Run("disable", func(t *testing.T) { testDisable(t, anon, root, alice2, &log) })

			log.checkNoSecrets(t, rootPW, alicePW, alicePW2, otherPW, wrongPW, bobPW, bobPW2, ghostPW)
			for _, id := range []*identity{anon, root, wrongRoot, alice, alice2, aliceOther} {
				checkContract(t, id.name, id.tr)
			}
			t.Logf("%s: %v", s, time.Since(began).Round(time.Millisecond))
		})
	}
}

// testSetup creates root, the role "app" (read /app/ro/*, read and write
// /app/rw/*) and alice holding it, while auth is still off.
func testSetup(t *testing.T, anon, root *identity, log *errorLog) {
	ctx := t.Context()
	if on, err := anon.auth.Enabled(ctx); err != nil || on {
		t.Fatalf("Enabled on a fresh server = %v, %v", on, err)
	}
	err := log.keep(anon.auth.Enable(ctx))
	if httpStatus(err) != http.StatusConflict || client.IsUnauthorized(err) {
		t.Errorf("Enable without a root user: %v, want a 409", err)
	}

	if err := anon.users.AddUser(ctx, "root", rootPW); err != nil {
		t.Fatalf("AddUser(root): %v", err)
	}
	if u, err := anon.users.GetUser(ctx, "root"); err != nil || u.User != "root" || !slices.Equal(u.Roles, []string{"root"}) {
		t.Errorf("GetUser(root) = %+v, %v; want the root role", u, err)
	}

	if err := anon.roles.AddRole(ctx, "app"); err != nil {
		t.Fatalf("AddRole(app): %v", err)
	}
	r, err := anon.roles.GrantRoleKV(ctx, "app", []string{"/app/ro/*"}, client.ReadPermission)
	if err != nil || !slices.Equal(r.Permissions.KV.Read, []string{"/app/ro/*"}) || len(r.Permissions.KV.Write) != 0 {
		t.Errorf("GrantRoleKV(read) = %+v, %v", r, err)
	}
	r, err = anon.roles.GrantRoleKV(ctx, "app", []string{"/app/rw/*"}, client.ReadWritePermission)
	if err != nil || !slices.Equal(r.Permissions.KV.Read, []string{"/app/ro/*", "/app/rw/*"}) || !slices.Equal(r.Permissions.KV.Write, []string{"/app/rw/*"}) {
		t.Errorf("GrantRoleKV(read-write) = %+v, %v", r, err)
	}
	if got, err := anon.roles.GetRole(ctx, "app"); err != nil || got.Role != "app" || !slices.Equal(got.Permissions.KV.Read, r.Permissions.KV.Read) || !slices.Equal(got.Permissions.KV.Write, r.Permissions.KV.Write) {
		t.Errorf("GetRole(app) = %+v, %v; want %+v", got, err, r)
	}
	_, err = log.keep2(anon.roles.GrantRoleKV(ctx, "app", []string{"/app/rw/*"}, client.WritePermission))
	if httpStatus(err) != http.StatusConflict || client.IsRoleNotFound(err) {
		t.Errorf("duplicate GrantRoleKV: %v, want a 409", err)
	}
	err = log.keep(anon.roles.AddRole(ctx, "app"))
	if httpStatus(err) != http.StatusConflict || client.IsRoleNotFound(err) {
		t.Errorf("AddRole of an existing role: %v, want a 409", err)
	}

	if err := anon.users.AddUser(ctx, "alice", alicePW); err != nil {
		t.Fatalf("AddUser(alice): %v", err)
	}
	if u, err := anon.users.GrantUser(ctx, "alice", []string{"app"}); err != nil || !slices.Equal(u.Roles, []string{"app"}) {
		t.Errorf("GrantUser(alice, app) = %+v, %v", u, err)
	}
	if u, err := anon.users.GetUser(ctx, "alice"); err != nil || u.User != "alice" || !slices.Equal(u.Roles, []string{"app"}) {
		t.Errorf("GetUser(alice) = %+v, %v", u, err)
	}
	// AddUser must not change the password of an existing user; the
	// permission tests show that alicePW still works and otherPW does not.
	err = log.keep(anon.users.AddUser(ctx, "alice", otherPW))
	if !errors.Is(err, client.ErrUserExists) {
		t.Errorf("AddUser of an existing user: %v, want ErrUserExists", err)
	}

	for key, value := range map[string]string{"/app/ro/k": "ro", "/app/rw/k": "rw", "/other/k": "other"} {
		if _, err := anon.keys.Set(ctx, key, value, nil); err != nil {
			t.Fatalf("Set(%s) before auth: %v", key, err)
		}
	}
}

// keep2 is keep for calls that also return a value.
func (l *errorLog) keep2(_ any, err error) (any, error) { return nil, l.keep(err) }

// testEnable turns auth on and closes the guest role's access.
func testEnable(t *testing.T, anon, root *identity, log *errorLog) {
	ctx := t.Context()
	if err := anon.auth.Enable(ctx); err != nil {
		t.Fatalf("Enable: %v", err)
	}
	if on, err := anon.auth.Enabled(ctx); err != nil || !on {
		t.Errorf("Enabled after Enable = %v, %v (it needs no credentials)", on, err)
	}
	err := log.keep(anon.auth.Enable(ctx))
	if !client.IsUnauthorized(err) || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("Enable without credentials once auth is on: %v, want a 401 saying no credentials were sent", err)
	}
	err = log.keep(root.auth.Enable(ctx))
	if httpStatus(err) != http.StatusConflict {
		t.Errorf("second Enable: %v, want 409 (already enabled)", err)
	}

	if roles, err := root.roles.ListRoles(ctx); err != nil || !sameStrings(roles, []string{"app", "guest", "root"}) {
		t.Errorf("ListRoles after Enable = %v, %v; want app, guest and root", roles, err)
	}
	guest, err := root.roles.GetRole(ctx, "guest")
	if err != nil || !slices.Equal(guest.Permissions.KV.Read, []string{"/*"}) || !slices.Equal(guest.Permissions.KV.Write, []string{"/*"}) {
		t.Fatalf("the guest role after Enable = %+v, %v; want read and write /*", guest, err)
	}
	if _, err := anon.keys.Get(ctx, "/other/k", nil); err != nil {
		t.Errorf("anonymous Get while the guest role is open: %v", err)
	}
	guest, err = root.roles.RevokeRoleKV(ctx, "guest", []string{"/*"}, client.ReadWritePermission)
	if err != nil || len(guest.Permissions.KV.Read) != 0 || len(guest.Permissions.KV.Write) != 0 {
		t.Fatalf("RevokeRoleKV(guest) = %+v, %v; want no permissions left", guest, err)
	}
	_, err = anon.keys.Get(ctx, "/other/k", nil)
	if !client.IsUnauthorized(log.keep(err)) || keysCode(err) != client.ErrorCodeUnauthorized {
		t.Errorf("anonymous Get after the guest role was closed: %v, want errorCode 110", err)
	}
}

// testPermissions checks reads and writes inside and outside alice's
// prefixes, and with missing or wrong credentials.
func testPermissions(t *testing.T, anon, root, wrongRoot, alice, aliceOther *identity, log *errorLog) {
	ctx := t.Context()
	get := func(id *identity, key string) error {
		_, err := id.keys.Get(ctx, key, nil)
		return err
	}
	set := func(id *identity, key string) error {
		_, err := id.keys.Set(ctx, key, "by "+id.name, nil)
		return err
	}
	del := func(id *identity, key string) error {
		_, err := id.keys.Delete(ctx, key, nil)
		return err
	}
	for _, tc := range []struct {
		what    string
		op      func() error
		allowed bool
	}{
		{"alice reads /app/ro/k (read-only prefix)", func() error { return get(alice, "/app/ro/k") }, true},
		{"alice writes /app/ro/k (read-only prefix)", func() error { return set(alice, "/app/ro/k") }, false},
		{"alice reads /app/rw/k (read-write prefix)", func() error { return get(alice, "/app/rw/k") }, true},
		{"alice writes /app/rw/k2 (read-write prefix)", func() error { return set(alice, "/app/rw/k2") }, true},
		{"alice deletes /app/rw/k2 (read-write prefix)", func() error { return del(alice, "/app/rw/k2") }, true},
		{"alice reads /app/ro (the prefix's own directory)", func() error { return get(alice, "/app/ro") }, false},
		{"alice reads /other/k (outside)", func() error { return get(alice, "/other/k") }, false},
		{"alice writes /other/k2 (outside)", func() error { return set(alice, "/other/k2") }, false},
		{"alice deletes /other/k (outside)", func() error { return del(alice, "/other/k") }, false},
		{"alice with the refused AddUser's password reads /app/ro/k", func() error { return get(aliceOther, "/app/ro/k") }, false},
		{"anonymous reads /app/ro/k", func() error { return get(anon, "/app/ro/k") }, false},
		{"anonymous writes /app/rw/k3", func() error { return set(anon, "/app/rw/k3") }, false},
		{"root with a wrong password reads /app/ro/k", func() error { return get(wrongRoot, "/app/ro/k") }, false},
		{"root writes /other/k", func() error { return set(root, "/other/k") }, true},
	} {
		err := log.keep(tc.op())
		switch {
		case tc.allowed && err != nil:
			t.Errorf("%s: %v, want success", tc.what, err)
		case !tc.allowed && (!client.IsUnauthorized(err) || keysCode(err) != client.ErrorCodeUnauthorized):
			t.Errorf("%s: %v, want errorCode 110 (IsUnauthorized)", tc.what, err)
		}
	}
	if r, err := alice.keys.Get(ctx, "/app/rw/k", nil); err != nil || r.Node.Value != "rw" {
		t.Errorf("alice reads /app/rw/k = %+v, %v", r, err)
	}
}

// testUnauthorized checks the 401s of the auth and members APIs: they are
// typed, say whether credentials were sent, and show no password.
func testUnauthorized(t *testing.T, anon, root, wrongRoot, alice *identity, log *errorLog) {
	ctx := t.Context()
	_, err := anon.users.ListUsers(ctx)
	if !client.IsUnauthorized(log.keep(err)) || httpStatus(err) != http.StatusUnauthorized || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("ListUsers without credentials: %v, want a 401 saying none were sent", err)
	}
	_, err = wrongRoot.users.ListUsers(ctx)
	if !client.IsUnauthorized(log.keep(err)) || !strings.Contains(err.Error(), `user "root"`) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("ListUsers with a wrong password: %v, want a 401 saying root's credentials were refused", err)
	}
	_, err = alice.users.ListUsers(ctx)
	if !client.IsUnauthorized(log.keep(err)) {
		t.Errorf("ListUsers as a user without the root role: %v, want a 401", err)
	}
	_, err = alice.users.ChangePassword(ctx, "alice", wrongPW)
	if !client.IsUnauthorized(log.keep(err)) || client.IsUserNotFound(err) {
		t.Errorf("alice changes her own password: %v, want a 401 (only root may)", err)
	}
	_, err = anon.users.GetUser(ctx, "alice")
	if !client.IsUnauthorized(log.keep(err)) || client.IsUserNotFound(err) || client.IsRoleNotFound(err) {
		t.Errorf("GetUser without credentials: %v, want a 401 and no not-found", err)
	}
	_, err = anon.roles.GetRole(ctx, "app")
	if !client.IsUnauthorized(log.keep(err)) || client.IsRoleNotFound(err) {
		t.Errorf("GetRole without credentials: %v, want a 401", err)
	}
	err = log.keep(wrongRoot.auth.Disable(ctx))
	if !client.IsUnauthorized(err) {
		t.Errorf("Disable with a wrong password: %v, want a 401", err)
	}
	// Member changes need root too; an unknown id keeps the check safe.
	err = log.keep(anon.member.Remove(ctx, "abcdef0123456"))
	if !client.IsUnauthorized(err) || client.IsMemberNotFound(err) {
		t.Errorf("member Remove without credentials: %v, want a 401", err)
	}
	err = log.keep(root.member.Remove(ctx, "abcdef0123456"))
	if !client.IsMemberNotFound(err) {
		t.Errorf("member Remove of an unknown id as root: %v, want a 404", err)
	}
	if list, err := anon.member.List(ctx); err != nil || len(list) != 1 {
		t.Errorf("member List needs no credentials: %v, %v", list, err)
	}
}

// testPassword changes alice's password: the new one works, the old one
// is refused.
func testPassword(t *testing.T, root, alice, alice2 *identity, log *errorLog) {
	ctx := t.Context()
	u, err := root.users.ChangePassword(ctx, "alice", alicePW2)
	if err != nil || u.User != "alice" || !slices.Equal(u.Roles, []string{"app"}) {
		t.Fatalf("ChangePassword(alice) = %+v, %v; want alice keeping her role", u, err)
	}
	if _, err := alice2.keys.Get(ctx, "/app/ro/k", nil); err != nil {
		t.Errorf("Get with the new password: %v", err)
	}
	_, err = alice.keys.Get(ctx, "/app/ro/k", nil)
	if !client.IsUnauthorized(log.keep(err)) {
		t.Errorf("Get with the old password: %v, want a 401", err)
	}
	if u, err := root.users.GetUser(ctx, "alice"); err != nil || !slices.Equal(u.Roles, []string{"app"}) {
		t.Errorf("GetUser(alice) after the password change = %+v, %v", u, err)
	}
	// With auth on, too, a missing user is reported and not created.
	_, err = root.users.ChangePassword(ctx, "ghost", ghostPW)
	if !client.IsUserNotFound(log.keep(err)) || client.IsUnauthorized(err) {
		t.Errorf("ChangePassword of a missing user with auth on: %v, want IsUserNotFound", err)
	}
	if users, err := root.users.ListUsers(ctx); err != nil || !sameStrings(users, []string{"alice", "root"}) {
		t.Errorf("ListUsers = %v, %v; want alice and root only", users, err)
	}
}

// testNotFound checks IsUserNotFound and IsRoleNotFound on every call that
// names a missing user or role, whatever the server's wording.
func testNotFound(t *testing.T, root *identity, log *errorLog) {
	ctx := t.Context()
	userCalls := map[string]func() error{
		"GetUser":        func() error { _, err := root.users.GetUser(ctx, "ghost"); return err },
		"RemoveUser":     func() error { return root.users.RemoveUser(ctx, "ghost") },
		"GrantUser":      func() error { _, err := root.users.GrantUser(ctx, "ghost", []string{"app"}); return err },
		"RevokeUser":     func() error { _, err := root.users.RevokeUser(ctx, "ghost", []string{"app"}); return err },
		"ChangePassword": func() error { _, err := root.users.ChangePassword(ctx, "ghost", ghostPW); return err },
	}
	for name, call := range userCalls {
		err := log.keep(call())
		if !client.IsUserNotFound(err) || client.IsRoleNotFound(err) || httpStatus(err) != http.StatusNotFound {
			t.Errorf("%s of a missing user: %v, want a 404 for which only IsUserNotFound holds", name, err)
		}
	}
	// ChangePassword must not have created the user.
	users, err := root.users.ListUsers(ctx)
	if err != nil || slices.Contains(users, "ghost") {
		t.Errorf("ListUsers after ChangePassword of a missing user = %v, %v; it must not be created", users, err)
	}
	if _, err := root.users.GetUser(ctx, "ghost"); !client.IsUserNotFound(log.keep(err)) {
		t.Errorf("GetUser(ghost) after ChangePassword: %v, want still not found", err)
	}

	roleCalls := map[string]func() error{
		"GetRole":    func() error { _, err := root.roles.GetRole(ctx, "nope"); return err },
		"RemoveRole": func() error { return root.roles.RemoveRole(ctx, "nope") },
		"GrantRoleKV": func() error {
			_, err := root.roles.GrantRoleKV(ctx, "nope", []string{"/x/*"}, client.ReadPermission)
			return err
		},
		"RevokeRoleKV": func() error {
			_, err := root.roles.RevokeRoleKV(ctx, "nope", []string{"/x/*"}, client.ReadWritePermission)
			return err
		},
		"GrantUser of a missing role": func() error { _, err := root.users.GrantUser(ctx, "alice", []string{"nope"}); return err },
	}
	for name, call := range roleCalls {
		err := log.keep(call())
		if !client.IsRoleNotFound(err) || client.IsUserNotFound(err) || httpStatus(err) != http.StatusNotFound {
			t.Errorf("%s: %v, want a 404 for which only IsRoleNotFound holds", name, err)
		}
	}
	// The refused grant left alice as she was, readable.
	if u, err := root.users.GetUser(ctx, "alice"); err != nil || !slices.Equal(u.Roles, []string{"app"}) {
		t.Errorf("GetUser(alice) after a grant of a missing role = %+v, %v", u, err)
	}
	if roles, err := root.roles.ListRoles(ctx); err != nil || !sameStrings(roles, []string{"app", "root"}) {
		t.Errorf("ListRoles = %v, %v; want app and root", roles, err)
	}
}

// testDanglingRole deletes a role that a user holds: reading the user then
// fails with IsRoleNotFound (not IsUserNotFound), AddUser still sees the
// user, and ChangePassword and RevokeUser still work on it.
func testDanglingRole(t *testing.T, root *identity, log *errorLog) {
	ctx := t.Context()
	if err := root.roles.AddRole(ctx, "temp"); err != nil {
		t.Fatal(err)
	}
	if err := root.users.AddUser(ctx, "bob", bobPW); err != nil {
		t.Fatal(err)
	}
	if _, err := root.users.GrantUser(ctx, "bob", []string{"temp"}); err != nil {
		t.Fatal(err)
	}
	if err := root.roles.RemoveRole(ctx, "temp"); err != nil {
		t.Fatal(err)
	}
	_, err := root.users.GetUser(ctx, "bob")
	if !client.IsRoleNotFound(log.keep(err)) || client.IsUserNotFound(err) {
		t.Errorf("GetUser of a user holding a deleted role: %v, want IsRoleNotFound only", err)
	}
	if err := log.keep(root.users.AddUser(ctx, "bob", otherPW)); !errors.Is(err, client.ErrUserExists) {
		t.Errorf("AddUser of a user holding a deleted role: %v, want ErrUserExists", err)
	}
	if users, err := root.users.ListUsers(ctx); err != nil || !sameStrings(users, []string{"alice", "bob", "root"}) {
		t.Errorf("ListUsers = %v, %v; want alice, bob and root", users, err)
	}
	if u, err := root.users.ChangePassword(ctx, "bob", bobPW2); err != nil || !slices.Equal(u.Roles, []string{"temp"}) {
		t.Errorf("ChangePassword of a user holding a deleted role = %+v, %v", u, err)
	}
	if u, err := root.users.RevokeUser(ctx, "bob", []string{"temp"}); err != nil || len(u.Roles) != 0 {
		t.Errorf("RevokeUser of the deleted role = %+v, %v", u, err)
	}
	if u, err := root.users.GetUser(ctx, "bob"); err != nil || u.User != "bob" || len(u.Roles) != 0 {
		t.Errorf("GetUser(bob) after the revoke = %+v, %v", u, err)
	}
	_, err = root.users.RevokeUser(ctx, "bob", []string{"temp"})
	if httpStatus(log.keep(err)) != http.StatusConflict || client.IsRoleNotFound(err) || client.IsUserNotFound(err) {
		t.Errorf("RevokeUser of a role not held: %v, want a 409", err)
	}
	if err := root.users.RemoveUser(ctx, "bob"); err != nil {
		t.Errorf("RemoveUser(bob): %v", err)
	}
	if err := root.users.RemoveUser(ctx, "bob"); !client.IsUserNotFound(log.keep(err)) {
		t.Errorf("second RemoveUser(bob): %v, want IsUserNotFound", err)
	}
}

// testDisable turns auth off again: only root may, and afterwards
// everything is open.
func testDisable(t *testing.T, anon, root, alice *identity, log *errorLog) {
	ctx := t.Context()
	err := log.keep(root.users.RemoveUser(ctx, "root"))
	if httpStatus(err) != http.StatusForbidden || client.IsUserNotFound(err) {
		t.Errorf("RemoveUser(root) while auth is on: %v, want a 403", err)
	}
	if err := log.keep(alice.auth.Disable(ctx)); !client.IsUnauthorized(err) {
		t.Errorf("Disable as a user without the root role: %v, want a 401", err)
	}
	if err := log.keep(anon.auth.Disable(ctx)); !client.IsUnauthorized(err) || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("Disable without credentials: %v, want a 401 saying none were sent", err)
	}
	if err := root.auth.Disable(ctx); err != nil {
		t.Fatalf("Disable as root: %v", err)
	}
	if on, err := anon.auth.Enabled(ctx); err != nil || on {
		t.Errorf("Enabled after Disable = %v, %v", on, err)
	}
	if err := log.keep(root.auth.Disable(ctx)); httpStatus(err) != http.StatusConflict {
		t.Errorf("second Disable: %v, want a 409 (already disabled)", err)
	}
	if _, err := anon.keys.Set(ctx, "/other/open", "again", nil); err != nil {
		t.Errorf("anonymous Set after Disable: %v", err)
	}
	if users, err := anon.users.ListUsers(ctx); err != nil || !sameStrings(users, []string{"alice", "root"}) {
		t.Errorf("anonymous ListUsers after Disable = %v, %v", users, err)
	}
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := anon.users.RemoveUser(ctx2, "root"); err != nil {
		t.Errorf("RemoveUser(root) after Disable: %v", err)
	}
}
