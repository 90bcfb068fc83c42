package client

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestCanonicalKey(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      string
	}{
		{in: "", want: ""},
		{in: "/", want: ""},
		{in: "foo", want: "foo"},
		{in: "/foo", want: "foo"},
		{in: "/foo/", want: "foo"},
		{in: "//a//b///c/", want: "a/b/c"},
		{in: "/sp/a b", want: "sp/a b"},
		{in: "/x/%2F?#+&=;✓", want: "x/%2F?#+&=;✓"},
		{in: "/v2/keys", want: "v2/keys"},
		{in: "/a.b/.hidden/..x", want: "a.b/.hidden/..x"},
		{in: "/a/../b", err: `".." segment`},
		{in: "../version", err: `".." segment`},
		{in: "/a/./b", err: `"." segment`},
		{in: "/a/..", err: `".." segment`},
		{in: "bad\xffutf8", err: "not valid UTF-8"},
	} {
		got, err := canonicalKey(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("canonicalKey(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("canonicalKey(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSetOptionsAreCheckedBeforeSending(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		opts  SetOptions
		err   string // "" = valid
		class opClass
	}{
		{name: "plain set", value: "v", class: classIdempotent},
		{name: "ttl", value: "v", opts: SetOptions{TTL: 5 * time.Second}, class: classIdempotent},
		{name: "refresh", opts: SetOptions{Refresh: true, TTL: time.Second}, class: classIdempotent},
		{name: "refresh with value", value: "v", opts: SetOptions{Refresh: true, TTL: time.Second}, err: "SetOptions.Refresh: set with a value"},
		{name: "refresh without ttl", opts: SetOptions{Refresh: true}, err: "SetOptions.TTL: 0s with SetOptions.Refresh"},
		{name: "refresh with a negative ttl", opts: SetOptions{Refresh: true, TTL: -time.Second}, err: "SetOptions.TTL: -1s with SetOptions.Refresh"},
		{name: "refresh with a sub-second ttl", opts: SetOptions{Refresh: true, TTL: 300 * time.Millisecond}, class: classIdempotent},
		{name: "prevValue with dir", opts: SetOptions{Dir: true, PrevValue: "x"}, err: "SetOptions.PrevValue: cannot be used with Dir"},
		{name: "negative ttl is ignored", value: "v", opts: SetOptions{TTL: -time.Second}, class: classIdempotent},
		{name: "sub-second ttl is rounded up", value: "v", opts: SetOptions{TTL: 500 * time.Millisecond}, class: classIdempotent},
		{name: "fractional ttl is rounded up", value: "v", opts: SetOptions{TTL: 1500 * time.Millisecond}, class: classIdempotent},
		{name: "bad prevExist", value: "v", opts: SetOptions{PrevExist: "maybe"}, err: `SetOptions.PrevExist: "maybe" is none of`},
		{name: "invalid UTF-8 value", value: "ok\xff", err: "invalid value: not valid UTF-8 (byte 0xff at offset 2)"},
		{name: "invalid UTF-8 prevValue", value: "v", opts: SetOptions{PrevValue: "\xc3("}, err: "invalid SetOptions.PrevValue: not valid UTF-8 (byte 0xc3 at offset 0)"},
		{name: "dir ignores the value", value: "\xff", opts: SetOptions{Dir: true}, class: classOneShot},
		{name: "create", value: "v", opts: SetOptions{PrevExist: PrevNoExist}, class: classOneShot},
		{name: "update", value: "v", opts: SetOptions{PrevExist: PrevExist}, class: classIdempotent},
		{name: "cas value", value: "v", opts: SetOptions{PrevValue: "old"}, class: classOneShot},
		{name: "cas index", value: "v", opts: SetOptions{PrevIndex: 7}, class: classOneShot},
		{name: "mkdir", opts: SetOptions{Dir: true}, class: classOneShot},
		{name: "update dir", opts: SetOptions{Dir: true, PrevExist: PrevExist}, class: classIdempotent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, class, err := setForm(tc.value, &tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if class != tc.class {
				t.Errorf("class = %d, want %d", class, tc.class)
			}
			// Rounded up to whole seconds; none for TTL <= 0.
			if want := (tc.opts.TTL + time.Second - 1) / time.Second; tc.opts.TTL > 0 && (f.Ttl == nil || *f.Ttl != uint64(want)) {
				t.Errorf("ttl = %v, want %d", f.Ttl, want)
			}
			if tc.opts.TTL <= 0 && f.Ttl != nil {
				t.Errorf("ttl sent for TTL %v: %d", tc.opts.TTL, *f.Ttl)
			}
			if (f.Value != nil) != (!tc.opts.Dir && !tc.opts.Refresh) {
				t.Errorf("value sent = %v, want it sent only for non-dir, non-refresh sets", f.Value)
			}
		})
	}
}

func TestNodesSortAndTTL(t *testing.T) {
	ns := Nodes{{Key: "/b"}, {Key: "/a+b"}, {Key: "/a b"}, {Key: "/✓"}}
	sortNodes(ns)
	var keys []string
	for _, n := range ns {
		keys = append(keys, n.Key)
	}
	if got, want := strings.Join(keys, ","), "/a b,/a+b,/b,/✓"; got != want {
		t.Errorf("sorted = %s, want %s", got, want)
	}
	if d := (&Node{TTL: 5}).TTLDuration(); d != 5*time.Second {
		t.Errorf("TTLDuration = %v", d)
	}
}

// TestNilContextIsAnError: a nil context is refused with errNilContext by
// every call that takes one, instead of a panic inside net/http.
func TestNilContextIsAnError(t *testing.T) {
	c, err := New(Config{Endpoints: []string{deadEndpoint(t)}})
	if err != nil {
		t.Fatal(err)
	}
	var ctx context.Context // nil
	k, m := NewKeysAPI(c), NewMembersAPI(c)
	u, r, a := NewAuthUserAPI(c), NewAuthRoleAPI(c), NewAuthAPI(c)
	for name, call := range map[string]func() error{
		"Get":           func() error { _, err := k.Get(ctx, "/a", nil); return err },
		"Set":           func() error { _, err := k.Set(ctx, "/a", "v", nil); return err },
		"Create":        func() error { _, err := k.Create(ctx, "/a", "v"); return err },
		"CreateInOrder": func() error { _, err := k.CreateInOrder(ctx, "/a", "v", nil); return err },
		"Delete":        func() error { _, err := k.Delete(ctx, "/a", nil); return err },
		"Watcher.Next":  func() error { _, err := k.Watcher("/a", nil).Next(ctx); return err },
		"Members.List":  func() error { _, err := m.List(ctx); return err },
		"Members.Add":   func() error { _, err := m.Add(ctx, "http://127.0.0.1:2380"); return err },
		"Leader":        func() error { _, err := m.Leader(ctx); return err },
		"ListUsers":     func() error { _, err := u.ListUsers(ctx); return err },
		"ListRoles":     func() error { _, err := r.ListRoles(ctx); return err },
		"Enable":        func() error { return a.Enable(ctx) },
		"Sync":          func() error { return c.Sync(ctx) },
		"AutoSync":      func() error { return c.AutoSync(ctx, time.Second) },
		"GetVersion":    func() error { _, err := c.GetVersion(ctx); return err },
	} {
		if err := call(); !errors.Is(err, errNilContext) {
			t.Errorf("%s with a nil context: %v, want %v", name, err, errNilContext)
		}
	}
}

func sortNodes(ns Nodes) { sort.Sort(ns) }
