package client_test

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/meycoin/goetcd/api/version"
	"github.com/meycoin/goetcd/client"
)

// TestDocumentedAPI fails to compile when a name of the package doc is
// missing or has another signature than documented. It also checks the
// documented values of the constants and variables.
func TestDocumentedAPI(t *testing.T) {
	// Functions and constructors.
	var (
		_ func()                                     = client.EnablecURLDebug
		_ func()                                     = client.DisablecURLDebug
		_ func(error) bool                           = client.IsKeyNotFound
		_ func(error) bool                           = client.IsRoleNotFound
		_ func(error) bool                           = client.IsUserNotFound
		_ func(client.Config) (client.Client, error) = client.New
		_ func(client.Client) client.KeysAPI         = client.NewKeysAPI
		_ func(client.Client, string) client.KeysAPI = client.NewKeysAPIWithPrefix
		_ func(client.Client) client.MembersAPI      = client.NewMembersAPI
		_ func(client.Client) client.AuthAPI         = client.NewAuthAPI
		_ func(client.Client) client.AuthUserAPI     = client.NewAuthUserAPI
		_ func(client.Client) client.AuthRoleAPI     = client.NewAuthRoleAPI
		_ func() client.Discoverer                   = client.NewSRVDiscover
		_ client.CheckRedirectFunc                   = client.DefaultCheckRedirect
		_ client.CancelableTransport                 = client.DefaultTransport
		_ time.Duration                              = client.DefaultRequestTimeout
	)

	// Interfaces, by their method sets.
	var c client.Client
	var (
		_ func(context.Context) error                      = c.Sync
		_ func(context.Context, time.Duration) error       = c.AutoSync
		_ func() []string                                  = c.Endpoints
		_ func([]string) error                             = c.SetEndpoints
		_ func(context.Context) (*version.Versions, error) = c.GetVersion
	)
	var k client.KeysAPI
	var (
		_ func(context.Context, string, *client.GetOptions) (*client.Response, error)                   = k.Get
		_ func(context.Context, string, string, *client.SetOptions) (*client.Response, error)           = k.Set
		_ func(context.Context, string, *client.DeleteOptions) (*client.Response, error)                = k.Delete
		_ func(context.Context, string, string) (*client.Response, error)                               = k.Create
		_ func(context.Context, string, string, *client.CreateInOrderOptions) (*client.Response, error) = k.CreateInOrder
		_ func(context.Context, string, string) (*client.Response, error)                               = k.Update
		_ func(string, *client.WatcherOptions) client.Watcher                                           = k.Watcher
	)
	var w client.Watcher
	var _ func(context.Context) (*client.Response, error) = w.Next
	var m client.MembersAPI
	var (
		_ func(context.Context) ([]client.Member, error)        = m.List
		_ func(context.Context, string) (*client.Member, error) = m.Add
		_ func(context.Context, string) error                   = m.Remove
		_ func(context.Context, string, []string) error         = m.Update
		_ func(context.Context) (*client.Member, error)         = m.Leader
	)
	var a client.AuthAPI
	var (
		_ func(context.Context) error = a.Enable
		_ func(context.Context) error = a.Disable
	)
	var u client.AuthUserAPI
	var (
		_ func(context.Context, string, string) error                   = u.AddUser
		_ func(context.Context, string) error                           = u.RemoveUser
		_ func(context.Context, string) (*client.User, error)           = u.GetUser
		_ func(context.Context, string, []string) (*client.User, error) = u.GrantUser
		_ func(context.Context, string, []string) (*client.User, error) = u.RevokeUser
		_ func(context.Context, string, string) (*client.User, error)   = u.ChangePassword
		_ func(context.Context) ([]string, error)                       = u.ListUsers
	)
	var r client.AuthRoleAPI
	var (
		_ func(context.Context, string) error                                                  = r.AddRole
		_ func(context.Context, string) error                                                  = r.RemoveRole
		_ func(context.Context, string) (*client.Role, error)                                  = r.GetRole
		_ func(context.Context, string, []string, client.PermissionType) (*client.Role, error) = r.GrantRoleKV
		_ func(context.Context, string, []string, client.PermissionType) (*client.Role, error) = r.RevokeRoleKV
		_ func(context.Context) ([]string, error)                                              = r.ListRoles
	)
	var d client.Discoverer
	var _ func(string) ([]string, error) = d.Discover
	var ct client.CancelableTransport
	var (
		_ http.RoundTripper   = ct
		_ func(*http.Request) = ct.CancelRequest
	)

	// Types and their documented fields.
	_ = client.Config{
		Endpoints:               []string{"http://127.0.0.1:2379"},
		Transport:               client.DefaultTransport,
		CheckRedirect:           client.DefaultCheckRedirect,
		Username:                "u",
		Password:                "p",
		HeaderTimeoutPerRequest: time.Second,
		SelectionMode:           client.EndpointSelectionPrioritizeLeader,
	}
	_ = client.GetOptions{Recursive: true, Sort: true, Quorum: true}
	_ = client.SetOptions{PrevValue: "v", PrevIndex: 1, PrevExist: client.PrevExist, TTL: time.Second, Refresh: true, Dir: true, NoValueOnSuccess: true}
	_ = client.DeleteOptions{PrevValue: "v", PrevIndex: 1, Recursive: true, Dir: true}
	_ = client.CreateInOrderOptions{TTL: time.Second}
	_ = client.WatcherOptions{AfterIndex: 1, Recursive: true}
	_ = client.Response{Action: "get", Node: &client.Node{}, PrevNode: &client.Node{}, Index: 1, ClusterID: "x"}
	exp := time.Now()
	n := client.Node{Key: "/k", Dir: true, Value: "v", Nodes: client.Nodes{}, CreatedIndex: 1, ModifiedIndex: 2, Expiration: &exp, TTL: 3}
	var _ time.Duration = n.TTLDuration()
	var _ sort.Interface = client.Nodes{}
	_ = client.Member{ID: "1", Name: "n", PeerURLs: []string{}, ClientURLs: []string{}}
	_ = client.User{User: "u", Password: "p", Roles: []string{}, Grant: []string{}, Revoke: []string{}}
	_ = client.UserRoles{User: "u", Roles: []client.Role{}}
	role := client.Role{Role: "r", Permissions: client.Permissions{}, Grant: &client.Permissions{}, Revoke: &client.Permissions{}}
	var _ []string = role.Permissions.KV.Read
	var _ []string = role.Permissions.KV.Write
	ce := &client.ClusterError{Errors: []error{errors.New("x")}}
	var _ string = ce.Detail()
	var _ error = ce
	var _ error = client.Error{}

	// Constant and variable values as documented.
	codes := map[int]int{
		client.ErrorCodeKeyNotFound: 100, client.ErrorCodeTestFailed: 101, client.ErrorCodeNotFile: 102,
		client.ErrorCodeNotDir: 104, client.ErrorCodeNodeExist: 105, client.ErrorCodeRootROnly: 107,
		client.ErrorCodeDirNotEmpty: 108, client.ErrorCodePrevValueRequired: 201, client.ErrorCodeTTLNaN: 202,
		client.ErrorCodeIndexNaN: 203, client.ErrorCodeInvalidField: 209, client.ErrorCodeInvalidForm: 210,
		client.ErrorCodeRaftInternal: 300, client.ErrorCodeLeaderElect: 301, client.ErrorCodeWatcherCleared: 400,
		client.ErrorCodeEventIndexCleared: 401,
	}
	for got, want := range codes {
		if got != want {
			t.Errorf("error code constant %d, want %d", got, want)
		}
	}
	if client.PrevIgnore != "" || client.PrevExist != "true" || client.PrevNoExist != "false" {
		t.Error("PrevExistType constants differ from the documentation")
	}
	if client.EndpointSelectionRandom != 0 || client.EndpointSelectionPrioritizeLeader != 1 {
		t.Error("EndpointSelectionMode constants differ from the documentation")
	}
	if client.ReadPermission != 0 || client.WritePermission != 1 || client.ReadWritePermission != 2 {
		t.Error("PermissionType constants differ from the documentation")
	}
	if client.DefaultRequestTimeout != 5*time.Second {
		t.Errorf("DefaultRequestTimeout = %v", client.DefaultRequestTimeout)
	}
	for err, msg := range map[error]string{
		client.ErrNoEndpoints:      "client: no endpoints available",
		client.ErrTooManyRedirects: "client: too many redirects",
		client.ErrNoLeaderEndpoint: "client: no leader endpoint available",
		client.ErrInvalidJSON:      "client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint.",
		client.ErrEmptyBody:        "client: response body is empty",
	} {
		if err.Error() != msg {
			t.Errorf("error text %q, want %q", err.Error(), msg)
		}
	}
	for via, wantErr := range map[int]bool{1: false, 10: false, 11: true} {
		if err := client.DefaultCheckRedirect(via); (err != nil) != wantErr || (wantErr && err != client.ErrTooManyRedirects) {
			t.Errorf("DefaultCheckRedirect(%d) = %v", via, err)
		}
	}
	var e error = client.Error{Code: 100, Message: "Key not found", Cause: "/k", Index: 7}
	if !client.IsKeyNotFound(e) || e.Error() != "100: Key not found (/k) [7]" {
		t.Errorf("Error: %v", e)
	}
	if _, ok := e.(client.Error); !ok {
		t.Error("keys errors must be client.Error values, as with etcd's client")
	}
}
