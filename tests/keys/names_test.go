package keys_test

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/meycoin/goetcd/client"
)

// TestKeyNames checks that keys and values with characters that mean
// something in URLs or forms are stored and read back exactly, that doubled
// and trailing slashes address the canonical key, and that a 2 MB value
// round-trips.
func TestKeyNames(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, e *env) {
		e.run(t, "Special", func(t *testing.T) { testSpecialNames(t, e) })
		e.run(t, "Slashes", func(t *testing.T) { testSlashes(t, e) })
		e.run(t, "LargeValue", func(t *testing.T) { testLargeValue(t, e) })
	})
}

func testSpecialNames(t *testing.T, e *env) {
	names := []struct{ test, name string }{
		{"space", "a b"},
		{"percent", "pct%x"},
		{"question mark", "q?mark"},
		{"hash", "h#sh"},
		{"plus", "a+b"},
		{"ampersand", "amp&x"},
		{"equals", "eq=x"},
		{"semicolon", "semi;x"},
		{"check mark", "✓"},
		{"CJK", "日本"},
		{"literal %2F", "lit%2Fname"},
		{"literal %25", "lit%25"},
		{"NUL byte", "nul\x00x"},
		{"backslash", `bs\x`},
		{"quote", `q"x'`},
		{"all together", " ?#%+&=;✓日本%2F "},
	}
	var want []string
	for _, tc := range names {
		t.Run(tc.test, func(t *testing.T) {
			key := "/names/" + tc.name
			value := "value of " + tc.name + " ?#%+&=;✓日本%2F\n\t"
			s := e.set(t, key, value, nil)
			e.wantStatus(t, http.StatusCreated)
			if s.Node.Key != key || s.Node.Value != value {
				t.Errorf("Set stored %q = %q, want %q = %q", s.Node.Key, s.Node.Value, key, value)
			}
			g := e.get(t, key, nil)
			if g.Node.Key != key || g.Node.Value != value {
				t.Errorf("Get read %q = %q, want %q = %q", g.Node.Key, g.Node.Value, key, value)
			}
			if g.Node.Dir {
				t.Errorf("%q became a directory", key)
			}
		})
		want = append(want, "/names/"+tc.name)
	}

	// The listing holds exactly those keys: no "%2F" was taken for a slash
	// (which would have made a directory /names/lit), nothing else appeared.
	sort.Strings(want)
	l := e.get(t, "/names", &client.GetOptions{Sort: true, Recursive: true})
	if got := keysOf(l.Node.Nodes); !slices.Equal(got, want) {
		t.Errorf("listing of /names\n got %q\nwant %q", got, want)
	}
	for _, n := range l.Node.Nodes {
		if n.Dir {
			t.Errorf("%q is a directory", n.Key)
		}
	}
	// An empty value is a value.
	if r := e.set(t, "/names-empty/k", "", nil); r.Node.Value != "" || r.Node.Dir {
		t.Errorf("empty value stored as %+v", r.Node)
	}
	if g := e.get(t, "/names-empty/k", nil); g.Node.Value != "" || g.Node.Dir {
		t.Errorf("empty value read as %+v", g.Node)
	}

	_, err := e.kapi.Get(ctx(t), "/names/lit", nil)
	if !client.IsKeyNotFound(err) {
		t.Errorf(`"lit%%2Fname" made a key or directory /names/lit: %v`, err)
	}
	// No exchange was redirected.
	for _, x := range e.wire.exchanges(0) {
		if x.Status >= 300 && x.Status < 400 {
			t.Errorf("%s %s answered %d", x.Method, x.Path, x.Status)
		}
	}
}

func testSlashes(t *testing.T, e *env) {
	cases := []struct{ written, canonical string }{
		{"/slash//a///b/", "/slash/a/b"},
		{"slash/c/", "/slash/c"},
		{"//slash/d", "/slash/d"},
		{"/slash/e//", "/slash/e"},
	}
	for _, tc := range cases {
		t.Run(tc.written, func(t *testing.T) {
			n := e.wire.count()
			s := e.set(t, tc.written, tc.written, nil)
			if s.Node.Key != tc.canonical {
				t.Errorf("Set(%q) stored %q, want %q", tc.written, s.Node.Key, tc.canonical)
			}
			for _, read := range []string{tc.canonical, tc.written} {
				g := e.get(t, read, nil)
				if g.Node.Key != tc.canonical || g.Node.Value != tc.written {
					t.Errorf("Get(%q) = %q: %q", read, g.Node.Key, g.Node.Value)
				}
			}
			for _, x := range e.wire.exchanges(n) {
				if e.v2wire() && x.Path != "/v2/keys"+tc.canonical {
					t.Errorf("sent path %q, want the canonical /v2/keys%s", x.Path, tc.canonical)
				}
				if x.Status >= 300 && x.Status < 400 {
					t.Errorf("%s %s answered a redirect %d", x.Method, x.Path, x.Status)
				}
			}
		})
	}
}

func testLargeValue(t *testing.T, e *env) {
	const size = 2 << 20
	value := strings.Repeat("0123456789 abcdefghijklmnopqrstuvwxyz &=+%?#\n", size/44+1)[:size-len("✓")] + "✓"
	s := e.set(t, "/large/v", value, nil)
	if len(s.Node.Value) != len(value) || s.Node.Value != value {
		t.Errorf("Set answered a value of %d bytes, want %d", len(s.Node.Value), len(value))
	}
	g := e.get(t, "/large/v", nil)
	if g.Node.Value != value {
		t.Errorf("Get read %d bytes, want the %d written", len(g.Node.Value), len(value))
	}
}
