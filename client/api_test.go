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
	var (
		_ func(client.Client, context.Context) error                      = client.Client.Sync
		_ func(client.Client, context.Context, time.Duration) error       = client.Client.AutoSync
		_ func(client.Client) []string                                    = client.Client.Endpoints
		_ func(client.Client, []string) error                             = client.Client.SetEndpoints
		_ func(client.Client, context.Context) (*version.Versions, error) = client.Client.GetVersion
	)
	var (
		_ func(client.KeysAPI, context.Context, string, *client.GetOptions) (*client.Response, error)                   = client.KeysAPI.Get
		_ func(client.KeysAPI, context.Context, string, string, *client.SetOptions) (*client.Response, error)           = client.KeysAPI.Set
		_ func(client.KeysAPI, context.Context, string, *client.DeleteOptions) (*client.Response, error)                = client.KeysAPI.Delete
		_ func(client.KeysAPI, context.Context, string, string) (*client.Response, error)                               = client.KeysAPI.Create
		_ func(client.KeysAPI, context.Context, string, string, *client.CreateInOrderOptions) (*client.Response, error) = client.KeysAPI.CreateInOrder
		_ func(client.KeysAPI, context.Context, string, string) (*client.Response, error)                               = client.KeysAPI.Update
		_ func(client.KeysAPI, string, *client.WatcherOptions) client.Watcher                                           = client.KeysAPI.Watcher
	)
	var _ func(client.Watcher, context.Context) (*client.Response, error) = client.Watcher.Next
	var (
		_ func(client.MembersAPI, context.Context) ([]client.Member, error)        = client.MembersAPI.List
		_ func(client.MembersAPI, context.Context, string) (*client.Member, error) = client.MembersAPI.Add
		_ func(client.MembersAPI, context.Context, string) error                   = client.MembersAPI.Remove
		_ func(client.MembersAPI, context.Context, string, []string) error         = client.MembersAPI.Update
		_ func(client.MembersAPI, context.Context) (*client.Member, error)         = client.MembersAPI.Leader
	)
	var (
		_ func(client.AuthAPI, context.Context) error = client.AuthAPI.Enable
		_ func(client.AuthAPI, context.Context) error = client.AuthAPI.Disable
	)
	var (
		_ func(client.AuthUserAPI, context.Context, string, string) error                   = client.AuthUserAPI.AddUser
		_ func(client.AuthUserAPI, context.Context, string) error                           = client.AuthUserAPI.RemoveUser
		_ func(client.AuthUserAPI, context.Context, string) (*client.User, error)           = client.AuthUserAPI.GetUser
		_ func(client.AuthUserAPI, context.Context, string, []string) (*client.User, error) = client.AuthUserAPI.GrantUser
		_ func(client.AuthUserAPI, context.Context, string, []string) (*client.User, error) = client.AuthUserAPI.RevokeUser
		_ func(client.AuthUserAPI, context.Context, string, string) (*client.User, error)   = client.AuthUserAPI.ChangePassword
		_ func(client.AuthUserAPI, context.Context) ([]string, error)                       = client.AuthUserAPI.ListUsers
	)
	var (
		_ func(client.AuthRoleAPI, context.Context, string) error                                                  = client.AuthRoleAPI.AddRole
		_ func(client.AuthRoleAPI, context.Context, string) error                                                  = client.AuthRoleAPI.RemoveRole
		_ func(client.AuthRoleAPI, context.Context, string) (*client.Role, error)                                  = client.AuthRoleAPI.GetRole
		_ func(client.AuthRoleAPI, context.Context, string, []string, client.PermissionType) (*client.Role, error) = client.AuthRoleAPI.GrantRoleKV
		_ func(client.AuthRoleAPI, context.Context, string, []string, client.PermissionType) (*client.Role, error) = client.AuthRoleAPI.RevokeRoleKV
		_ func(client.AuthRoleAPI, context.Context) ([]string, error)                                              = client.AuthRoleAPI.ListRoles
	)
	var _ func(client.Discoverer, string) ([]string, error) = client.Discoverer.Discover
	var (
		_ http.RoundTripper                               = client.CancelableTransport(nil)
		_ func(client.CancelableTransport, *http.Request) = client.CancelableTransport.CancelRequest
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
