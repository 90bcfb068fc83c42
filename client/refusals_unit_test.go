package client

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// refusalEnv is what a refusal case calls: a client whose transport records
// every request (so that "nothing was sent" can be checked) and the APIs
// over it.
type refusalEnv struct {
	tr    *cannedTransport
	c     *httpClusterClient
	keys  KeysAPI
	users AuthUserAPI
	roles AuthRoleAPI
	mems  MembersAPI
	ctx   context.Context
}

// secretPassword is the password of the refusal cases: no error may hold
// it, nor any part of it.
const secretPassword = "hunter2-secret"

// refusals is every input the client refuses before sending anything, with
// the field the error must name. TestRefusalsCoverEveryRefusal checks that
// every place in the package that makes such a refusal is reached by one.
var refusals = []struct {
	name  string
	field string
	call  func(e *refusalEnv) error
}{
	// Keys.
	{"key with a .. segment", "key", func(e *refusalEnv) error { _, err := e.keys.Get(e.ctx, "/a/../b", nil); return err }},
	{"key with a . segment", "key", func(e *refusalEnv) error { _, err := e.keys.Set(e.ctx, "/a/./b", "v", nil); return err }},
	{"key .. on Delete", "key", func(e *refusalEnv) error { _, err := e.keys.Delete(e.ctx, "..", nil); return err }},
	{"key .. on Create", "key", func(e *refusalEnv) error { _, err := e.keys.Create(e.ctx, "x/..", "v"); return err }},
	{"key .. on Update", "key", func(e *refusalEnv) error { _, err := e.keys.Update(e.ctx, "../x", "v"); return err }},
	{"key .. on Watcher", "key", func(e *refusalEnv) error { _, err := e.keys.Watcher("/a/..", nil).Next(e.ctx); return err }},
	{"key not UTF-8", "key", func(e *refusalEnv) error { _, err := e.keys.Get(e.ctx, "/k\xff", nil); return err }},
	{"dir .. on CreateInOrder", "dir", func(e *refusalEnv) error { _, err := e.keys.CreateInOrder(e.ctx, "/q/..", "v", nil); return err }},
	{"dir not UTF-8 on CreateInOrder", "dir", func(e *refusalEnv) error {
		_, err := e.keys.CreateInOrder(e.ctx, "/q\xc3(", "v", nil)
		return err
	}},
	{"value not UTF-8 on Set", "value", func(e *refusalEnv) error { _, err := e.keys.Set(e.ctx, "/k", "v\xff", nil); return err }},
	{"value not UTF-8 on CreateInOrder", "value", func(e *refusalEnv) error {
		_, err := e.keys.CreateInOrder(e.ctx, "/q", "\x80", nil)
		return err
	}},
	{"SetOptions.PrevValue not UTF-8", "SetOptions.PrevValue", func(e *refusalEnv) error {
		_, err := e.keys.Set(e.ctx, "/k", "v", &SetOptions{PrevValue: "\xed\xa0\x80"})
		return err
	}},
	{"DeleteOptions.PrevValue not UTF-8", "DeleteOptions.PrevValue", func(e *refusalEnv) error {
		_, err := e.keys.Delete(e.ctx, "/k", &DeleteOptions{PrevValue: "a\xffb"})
		return err
	}},
	{"SetOptions.PrevExist unknown", "SetOptions.PrevExist", func(e *refusalEnv) error {
		_, err := e.keys.Set(e.ctx, "/k", "v", &SetOptions{PrevExist: "maybe"})
		return err
	}},
	{"PrevValue with Dir", "SetOptions.PrevValue", func(e *refusalEnv) error {
		_, err := e.keys.Set(e.ctx, "/d", "", &SetOptions{Dir: true, PrevValue: "x"})
		return err
	}},
	{"Refresh with a value", "SetOptions.Refresh", func(e *refusalEnv) error {
		_, err := e.keys.Set(e.ctx, "/k", "v", &SetOptions{Refresh: true, TTL: 5 * time.Second})
		return err
	}},
	{"Refresh without a TTL", "SetOptions.TTL", func(e *refusalEnv) error {
		_, err := e.keys.Set(e.ctx, "/k", "", &SetOptions{Refresh: true})
		return err
	}},
	{"Refresh with a negative TTL", "SetOptions.TTL", func(e *refusalEnv) error {
		_, err := e.keys.Set(e.ctx, "/k", "", &SetOptions{Refresh: true, TTL: -time.Second})
		return err
	}},
	{"Refresh with Dir", "SetOptions.Refresh", func(e *refusalEnv) error {
		_, err := e.keys.Set(e.ctx, "/d", "", &SetOptions{Refresh: true, Dir: true, TTL: 5 * time.Second})
		return err
	}},

	// Contexts.
	{"nil context on Get", "ctx", func(e *refusalEnv) error { _, err := e.keys.Get(nil, "/k", nil); return err }},
	{"nil context on Watcher.Next", "ctx", func(e *refusalEnv) error { _, err := e.keys.Watcher("/k", nil).Next(nil); return err }},
	{"nil context on members List", "ctx", func(e *refusalEnv) error { _, err := e.mems.List(nil); return err }},
	{"nil context on Sync", "ctx", func(e *refusalEnv) error { return e.c.Sync(nil) }},
	{"nil context on AutoSync", "ctx", func(e *refusalEnv) error { return e.c.AutoSync(nil, time.Second) }},

	// Config and endpoints.
	{"no endpoints", "endpoints", func(e *refusalEnv) error { _, err := New(Config{Transport: e.tr}); return err }},
	{"SetEndpoints with none", "endpoints", func(e *refusalEnv) error { return e.c.SetEndpoints(nil) }},
	{"endpoint not a URL", "endpoint", func(e *refusalEnv) error { return e.c.SetEndpoints([]string{"http://[::1"}) }},
	{"endpoint with user info that is not a URL", "endpoint", func(e *refusalEnv) error {
		return e.c.SetEndpoints([]string{"http://u:" + secretPassword + "@[::1"})
	}},
	{"endpoint without scheme", "endpoint", func(e *refusalEnv) error { return e.c.SetEndpoints([]string{"example.com"}) }},
	{"endpoint host:port without scheme", "endpoint", func(e *refusalEnv) error { return e.c.SetEndpoints([]string{"localhost:2379"}) }},
	{"endpoint with another scheme", "endpoint", func(e *refusalEnv) error { return e.c.SetEndpoints([]string{"ftp://h:2379"}) }},
	{"endpoint without host", "endpoint", func(e *refusalEnv) error { return e.c.SetEndpoints([]string{"http:///v2"}) }},
	{"endpoint with user info", "endpoint", func(e *refusalEnv) error {
		_, err := New(Config{Endpoints: []string{"http://root:" + secretPassword + "@h:2379"}, Transport: e.tr})
		return err
	}},
	{"endpoint with user info holding a /", "endpoint", func(e *refusalEnv) error {
		// Parses as host "root:2379" and path "/hunter2-secret@h".
		return e.c.SetEndpoints([]string{"http://root:2379/" + secretPassword + "@h"})
	}},
	{"endpoint with a query", "endpoint", func(e *refusalEnv) error { return e.c.SetEndpoints([]string{"http://h:2379?x=1"}) }},
	{"endpoint with an empty port", "endpoint", func(e *refusalEnv) error { return e.c.SetEndpoints([]string{"http://h:"}) }},
	{"member status endpoint", "endpoint", func(e *refusalEnv) error { _, err := NewMemberStatusAPI(e.c, "h:2379"); return err }},
	{"Config.MaxResponseBytes negative", "Config.MaxResponseBytes", func(e *refusalEnv) error {
		_, err := New(Config{Endpoints: []string{fuzzEndpoint}, Transport: e.tr, MaxResponseBytes: -1})
		return err
	}},
	{"Config.HeaderTimeoutPerRequest negative", "Config.HeaderTimeoutPerRequest", func(e *refusalEnv) error {
		_, err := New(Config{Endpoints: []string{fuzzEndpoint}, Transport: e.tr, HeaderTimeoutPerRequest: -time.Second})
		return err
	}},
	{"Config.SelectionMode unknown", "Config.SelectionMode", func(e *refusalEnv) error {
		_, err := New(Config{Endpoints: []string{fuzzEndpoint}, Transport: e.tr, SelectionMode: 7})
		return err
	}},
	{"AutoSync interval zero", "interval", func(e *refusalEnv) error { return e.c.AutoSync(e.ctx, 0) }},
	{"SRV discovery without domain", "domain", func(e *refusalEnv) error { _, err := NewSRVDiscover().Discover("."); return err }},

	// Do.
	{"Do nil Client", "c", func(e *refusalEnv) error { _, err := Do(e.ctx, nil, &http.Request{}, RequestRead); return err }},
	{"Do nil request", "req", func(e *refusalEnv) error { _, err := Do(e.ctx, e.c, nil, RequestRead); return err }},
	{"Do unknown class", "class", func(e *refusalEnv) error {
		req, _ := http.NewRequest(http.MethodGet, "/v3/kv/range", nil)
		_, err := Do(e.ctx, e.c, req, RequestWatch+1)
		return err
	}},

	// Members.
	{"peer URL not a URL", "peerURL", func(e *refusalEnv) error { _, err := e.mems.Add(e.ctx, "http://[::1"); return err }},
	{"peer URL scheme", "peerURL", func(e *refusalEnv) error { _, err := e.mems.Add(e.ctx, "ftp://h:2380"); return err }},
	{"peer URL without port", "peerURL", func(e *refusalEnv) error { _, err := e.mems.Add(e.ctx, "http://h"); return err }},
	{"peer URL with a path", "peerURLs", func(e *refusalEnv) error {
		return e.mems.Update(e.ctx, "8e9e05c52164694d", []string{"http://h:2380/p"})
	}},
	{"peer URL with user info", "peerURLs", func(e *refusalEnv) error {
		return e.mems.Update(e.ctx, "8e9e05c52164694d", []string{"http://u:" + secretPassword + "@h:2380"})
	}},
	{"no peer URLs", "peerURLs", func(e *refusalEnv) error { return e.mems.Update(e.ctx, "8e9e05c52164694d", nil) }},
	{"member id empty", "memberID", func(e *refusalEnv) error { return e.mems.Remove(e.ctx, "") }},
	{"member id not hexadecimal", "memberID", func(e *refusalEnv) error { return e.mems.Update(e.ctx, "../x", []string{"http://h:2380"}) }},

	// Users and roles.
	{"user name empty", "username", func(e *refusalEnv) error { _, err := e.users.GetUser(e.ctx, ""); return err }},
	{"user name with /", "username", func(e *refusalEnv) error { return e.users.RemoveUser(e.ctx, "a/b") }},
	{"user name ..", "username", func(e *refusalEnv) error { return e.users.AddUser(e.ctx, "..", secretPassword) }},
	{"user name not UTF-8", "username", func(e *refusalEnv) error { _, err := e.users.RevokeUser(e.ctx, "u\xff", []string{"r"}); return err }},
	{"AddUser empty password", "password", func(e *refusalEnv) error { return e.users.AddUser(e.ctx, "u", "") }},
	{"AddUser password not UTF-8", "password", func(e *refusalEnv) error { return e.users.AddUser(e.ctx, "u", secretPassword+"\xff") }},
	{"ChangePassword empty", "password", func(e *refusalEnv) error { _, err := e.users.ChangePassword(e.ctx, "u", ""); return err }},
	{"ChangePassword not UTF-8", "password", func(e *refusalEnv) error {
		_, err := e.users.ChangePassword(e.ctx, "u", "\xc3"+secretPassword)
		return err
	}},
	{"GrantUser no roles", "roles", func(e *refusalEnv) error { _, err := e.users.GrantUser(e.ctx, "u", nil); return err }},
	{"GrantUser bad role name", "role", func(e *refusalEnv) error { _, err := e.users.GrantUser(e.ctx, "u", []string{"r/x"}); return err }},
	{"RevokeUser no roles", "roles", func(e *refusalEnv) error { _, err := e.users.RevokeUser(e.ctx, "u", []string{}); return err }},
	{"role name empty", "role", func(e *refusalEnv) error { return e.roles.AddRole(e.ctx, "") }},
	{"role name .", "role", func(e *refusalEnv) error { return e.roles.RemoveRole(e.ctx, ".") }},
	{"role name not UTF-8", "role", func(e *refusalEnv) error { _, err := e.roles.GetRole(e.ctx, "\xff"); return err }},
	{"GrantRoleKV no prefixes", "prefixes", func(e *refusalEnv) error {
		_, err := e.roles.GrantRoleKV(e.ctx, "r", nil, ReadPermission)
		return err
	}},
	{"RevokeRoleKV unknown PermissionType", "permType", func(e *refusalEnv) error {
		_, err := e.roles.RevokeRoleKV(e.ctx, "r", []string{"/a/*"}, PermissionType(9))
		return err
	}},
}

// TestRefusedBeforeSending walks every refusal: the error matches
// ErrInvalidArgument, is an *InvalidArgumentError naming the field (in its
// Field and in its text), is not an etcd Error, never holds the password,
// and nothing was sent.
func TestRefusedBeforeSending(t *testing.T) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			e := newRefusalEnv(t)
			err := tc.call(e)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("errors.Is(err, ErrInvalidArgument) = false for %T: %v", err, err)
			}
			var ia *InvalidArgumentError
			if !errors.As(err, &ia) {
				t.Fatalf("errors.As finds no *InvalidArgumentError in %T: %v", err, err)
			}
			if ia.Field != tc.field {
				t.Errorf("Field = %q, want %q (%v)", ia.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
			if ia.Reason == "" {
				t.Errorf("no reason: %v", err)
			}
			var ke Error
			if errors.As(err, &ke) {
				t.Errorf("a refusal looks like an etcd error: %+v", ke)
			}
			if IsOutcomeUnknown(err) || errors.Is(err, ErrClusterUnavailable) {
				t.Errorf("a refusal looks like a failure to reach the cluster: %v", err)
			}
			for _, part := range []string{secretPassword, "hunter2"} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("error holds the password (%q): %v", part, err)
				}
			}
			validUTF8Error(t, err)
			if len(e.tr.reqs) != 0 {
				t.Errorf("%d requests went out for a refused input, the first %s %s", len(e.tr.reqs), e.tr.reqs[0].Method, e.tr.reqs[0].URL)
			}
		})
	}
	// Control: a valid call over the same kind of client does go out, so
	// the counting above can see a request.
	e := newRefusalEnv(t)
	if _, err := e.keys.Get(e.ctx, "/k", nil); err != nil || len(e.tr.reqs) != 1 {
		t.Fatalf("a valid Get: %v, %d requests, want 1", err, len(e.tr.reqs))
	}
}

func newRefusalEnv(t *testing.T) *refusalEnv {
	t.Helper()
	tr := &cannedTransport{answers: []cannedAnswer{{status: 200, body: []byte(`{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}`)}}}
	c := cannedClient(t, tr, Config{})
	return &refusalEnv{tr: tr, c: c, keys: NewKeysAPI(c), users: NewAuthUserAPI(c), roles: NewAuthRoleAPI(c), mems: NewMembersAPI(c), ctx: fuzzCtx(t)}
}

// TestRefusalsCoverEveryRefusal finds every invalidArg call of the
// package's source (each place that refuses an input before sending) and
// checks that some case of refusals reaches it: the case's error reason
// must match the call's format.
func TestRefusalsCoverEveryRefusal(t *testing.T) {
	sites := refusalSites(t)
	if len(sites) < 20 {
		t.Fatalf("found only %d invalidArg calls in the package source", len(sites))
	}
	hit := map[string]bool{}
	for _, tc := range refusals {
		e := newRefusalEnv(t)
		var ia *InvalidArgumentError
		if !errors.As(tc.call(e), &ia) {
			continue // TestRefusedBeforeSending reports it
		}
		var matched []string
		for pos, re := range sites {
			if re.MatchString(ia.Reason) {
				matched = append(matched, pos)
			}
		}
		if len(matched) != 1 {
			t.Errorf("%s: reason %q matches %d refusal sites %v, want 1", tc.name, ia.Reason, len(matched), matched)
			continue
		}
		hit[matched[0]] = true
	}
	for pos, re := range sites {
		if !hit[pos] {
			t.Errorf("the refusal at %s (%s) has no case in refusals", pos, re)
		}
	}
}

// refusalSites maps the position of every invalidArg(field, format, ...)
// call in the package's non-test files to a pattern of the reasons it
// makes.
func refusalSites(t *testing.T) map[string]*regexp.Regexp {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	verb := regexp.MustCompile(`%[#+ -]?[0-9]*[a-zA-Z]`)
	fset := token.NewFileSet()
	sites := map[string]*regexp.Regexp{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "invalidArg" {
				return true
			}
			pos := fset.Position(call.Pos()).String()
			if len(call.Args) < 2 {
				t.Errorf("%s: invalidArg with %d arguments", pos, len(call.Args))
				return true
			}
			lit, ok := call.Args[1].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: invalidArg's format is not a string literal", pos)
				return true
			}
			format, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			var pat strings.Builder
			last := 0
			for _, m := range verb.FindAllStringIndex(format, -1) {
				pat.WriteString(regexp.QuoteMeta(format[last:m[0]]))
				pat.WriteString(`(?s:.*)`)
				last = m[1]
			}
			pat.WriteString(regexp.QuoteMeta(format[last:]))
			sites[pos] = regexp.MustCompile("^" + pat.String() + "$")
			return true
		})
	}
	return sites
}
