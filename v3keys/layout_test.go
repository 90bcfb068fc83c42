package v3keys

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/meycoin/goetcd/client"
)

// FuzzLayout holds the layout to what the package doc promises for any two
// sibling names: a node key parses back to its path and kind; the node's
// range holds its three keys and not its siblings'; the keys of siblings
// sort as their names do (byte-wise), whatever their kinds; and every
// child's key lies in its directory's level range, and no grandchild's.
func FuzzLayout(f *testing.F) {
	f.Add("a", "b", "dir")
	f.Add("a", "a!", "")
	f.Add("x\x00", "x", "d/e")
	f.Add("\x03y", "\x02", "q")
	f.Add("日本", "✓", "s p")
	f.Fuzz(func(t *testing.T, a, b, dir string) {
		l := newLayout("/p")
		valid := func(s string) bool {
			return s != "" && utf8.ValidString(s) && !strings.Contains(s, "/") && s != "." && s != ".."
		}
		ck, err := canonicalKey(dir)
		if !valid(a) || !valid(b) || err != nil || depthOf(ck) > maxDepth-2 {
			t.Skip()
		}
		pa, pb := join(ck, a), join(ck, b)
		for _, p := range []string{pa, pb} {
			for _, kind := range []byte{kindDir, kindFile1, kindFile2} {
				key := l.nodeKey(p, kind)
				pk, ok := l.parse(key)
				if !ok || pk.path != p || pk.kind != kind || pk.depth != depthOf(p) {
					t.Fatalf("parse(nodeKey(%q, %d)) = %+v, %v", p, kind, pk, ok)
				}
				lo, hi := l.nodeRange(p)
				if bytes.Compare(key, lo) < 0 || bytes.Compare(key, hi) >= 0 {
					t.Fatalf("nodeKey(%q, %d) is outside its node range", p, kind)
				}
				lo, hi = l.levelRange(ck, 1)
				if bytes.Compare(key, lo) < 0 || bytes.Compare(key, hi) >= 0 {
					t.Fatalf("nodeKey(%q) is outside the level range of %q", p, ck)
				}
				lo, hi = l.levelRange(ck, 2)
				if bytes.Compare(key, lo) >= 0 && bytes.Compare(key, hi) < 0 {
					t.Fatalf("nodeKey(%q) is in the grandchildren's range of %q", p, ck)
				}
			}
		}
		if a == b {
			return
		}
		lo, hi := l.nodeRange(pa)
		for _, kind := range []byte{kindDir, kindFile1, kindFile2} {
			if key := l.nodeKey(pb, kind); bytes.Compare(key, lo) >= 0 && bytes.Compare(key, hi) < 0 {
				t.Fatalf("the node range of %q holds %q", pa, key)
			}
		}
		want := a < b
		for _, ka := range []byte{kindDir, kindFile1, kindFile2} {
			for _, kb := range []byte{kindDir, kindFile1, kindFile2} {
				if got := bytes.Compare(l.nodeKey(pa, ka), l.nodeKey(pb, kb)) < 0; got != want {
					t.Fatalf("keys of %q (%d) and %q (%d) sort %v, names %v", pa, ka, pb, kb, got, want)
				}
			}
		}
	})
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// TestParseRefuses checks that keys of other writers, the action key and
// the sequence keys are not taken for nodes.
func TestParseRefuses(t *testing.T) {
	l := newLayout("/p")
	for _, key := range []string{
		"/p/act", "/p/seq/q", "/p/001/a", "/p/002/a\x01", "/p/001/a/b\x01", "/p/0x1/a\x01",
		"/q/001/a\x01", "/p/001/\x01", "/p/001/a\x03\x01", "/p/001/a\x03\x05\x01", "/p/001/a\x04",
	} {
		if pk, ok := l.parse([]byte(key)); ok {
			t.Errorf("parse(%q) = %+v", key, pk)
		}
	}
}

// TestCanonicalKey checks the key rules shared with the v2 client and the
// depth limit of the layout.
func TestCanonicalKey(t *testing.T) {
	for key, want := range map[string]string{"/a//b/": "a/b", "": "", "/": "", "x": "x", "/a b/c": "a b/c"} {
		if got, err := canonicalKey(key); err != nil || got != want {
			t.Errorf("canonicalKey(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	for _, key := range []string{"/a/../b", "/.", "\xff", strings.Repeat("/a", maxDepth+1)} {
		if got, err := canonicalKey(key); err == nil {
			t.Errorf("canonicalKey(%.20q) = %q, want an error", key, got)
		}
	}
}

// TestMatches checks v2's rule for which watcher sees an event.
func TestMatches(t *testing.T) {
	deleted := func(p string) bool { return p == "d/k" }
	for _, c := range []struct {
		key        string
		recursive  bool
		p          string
		dirDeleted bool
		want       bool
	}{
		{"a", false, "a", false, true},
		{"a", false, "a/b", false, false},
		{"a", true, "a/b", false, true},
		{"a", true, "ab", false, false},
		{"a", true, "a/_h", false, false},
		{"a", true, "a/_h/x", false, false},
		{"_a", true, "_a/x", false, true},
		{"", true, "x/y", false, true},
		{"", true, "_x", false, false},
		{"d/k", false, "d", true, true},
		{"d/m", false, "d", true, false},
		{"d/k", false, "d", false, false},
	} {
		w := &watcher{key: c.key, opts: client.WatcherOptions{Recursive: c.recursive}}
		if got := w.matches(c.p, c.dirDeleted, deleted); got != c.want {
			t.Errorf("watch %q (recursive %v) of %q (dir deleted %v) = %v, want %v", c.key, c.recursive, c.p, c.dirDeleted, got, c.want)
		}
	}
}

// TestCompareFailCause checks v2's causes of a failed compare.
func TestCompareFailCause(t *testing.T) {
	n := &kv{value: []byte("have"), mod: 7}
	for _, c := range []struct {
		value string
		index uint64
		cause string
		ok    bool
	}{
		{"have", 7, "", true},
		{"", 0, "", true},
		{"want", 0, "[want != have]", false},
		{"", 3, "[3 != 7]", false},
		{"want", 3, "[want != have] [3 != 7]", false},
	} {
		if cause, ok := compareFailCause(n, c.value, c.index); cause != c.cause || ok != c.ok {
			t.Errorf("compare %q/%d: %q %v, want %q %v", c.value, c.index, cause, ok, c.cause, c.ok)
		}
	}
}
