package model

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// reserved are characters with a meaning somewhere between the caller and
// the v2 store: URL delimiters, percent escapes, path separators and dot
// segments, shell and JSON specials, controls, and runes that render
// deceptively.
var reserved = []rune("/?#[]@!$&'()*+,;=%.:~ \\\"<>^`{|}\x00\t\n\r\x7f\u00a0\u2028\u202e\ufeff\ufffd_-")

// keyGen draws keys from all of UTF-8 (rapid.Rune covers every plane) mixed
// with the reserved characters, and now and then bytes that are not UTF-8.
var keyGen = rapid.Custom(func(t *rapid.T) string {
	if rapid.IntRange(0, 9).Draw(t, "invalid") == 0 {
		return string(rapid.SliceOfN(rapid.Byte(), 1, 12).Draw(t, "bytes"))
	}
	r := rapid.OneOf(rapid.Rune(), rapid.SampledFrom(reserved), rapid.RuneFrom([]rune("abc/._")))
	return string(rapid.SliceOfN(r, 1, 24).Draw(t, "runes"))
})

// valueGen draws values from all of UTF-8, and now and then bytes that are
// not UTF-8 (which etcd would store but answer with U+FFFD in their place,
// so the client refuses them).
var valueGen = rapid.Custom(func(t *rapid.T) string {
	if rapid.IntRange(0, 9).Draw(t, "invalid") == 0 {
		return string(rapid.SliceOfN(rapid.Byte(), 1, 12).Draw(t, "bytes"))
	}
	return rapid.StringN(0, 64, -1).Draw(t, "string")
})

// expectedKey is what a key becomes below prefix, or the reason it must be
// refused: invalid UTF-8, or a "." or ".." segment.
func expectedKey(prefix, key string) (string, string) {
	if !utf8.ValidString(key) {
		return "", "not valid UTF-8"
	}
	var segs []string
	for _, s := range strings.Split(key, "/") {
		switch s {
		case "":
			continue
		case ".", "..":
			return "", "segment"
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return prefix, ""
	}
	return prefix + "/" + strings.Join(segs, "/"), ""
}

// TestKeysRoundTrip writes random keys below a directory of their own and
// reads them back. A key either round-trips exactly (the write's node, a
// Get and the directory's recursive listing all show the key as the client
// documents it — leading, trailing and doubled slashes dropped, nothing
// else changed — with the value byte for byte, and a delete removes that
// key and no other), or is refused before anything is sent with an error
// that says why (a key or value that is not valid UTF-8, a dot segment).
func TestKeysRoundTrip(t *testing.T) {
	run := runID()
	setChecks(t, roundTripKeys)
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 1)
			c, tr := clienttest.New(t, cl.Endpoints(), client.Config{HeaderTimeoutPerRequest: 10 * time.Second})
			kapi := client.NewKeysAPI(c)
			base := "/keys/" + run
			if _, err := kapi.Set(t.Context(), base, "", &client.SetOptions{Dir: true}); err != nil {
				t.Fatal(err)
			}
			var seq, stored, refused atomic.Int64
			start := time.Now()
			rapid.Check(t, func(rt *rapid.T) {
				key := keyGen.Draw(rt, "key")
				value := valueGen.Draw(rt, "value")
				prefix := fmt.Sprintf("%s/%d", base, seq.Add(1))
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				want, reason := expectedKey(prefix, key)
				refusal := "client: invalid key: "
				if reason == "" && !utf8.ValidString(value) {
					reason, refusal = "not valid UTF-8", "client: invalid value: "
				}
				before := tr.Exchanges()
				r, err := kapi.Set(ctx, prefix+"/"+key, value, nil)
				if reason != "" {
					refused.Add(1)
					if err == nil || !strings.HasPrefix(err.Error(), refusal) || !strings.Contains(err.Error(), reason) || !errors.Is(err, client.ErrInvalidArgument) {
						rt.Fatalf("key %q: want a refusal naming %q, got %v (%v)", key, reason, err, r)
					}
					if n := tr.Exchanges() - before; n != 0 {
						rt.Fatalf("refused key %q was sent (%d exchanges)", key, n)
					}
					return
				}
				if err != nil {
					rt.Fatalf("key %q (%q): %v", key, want, err)
				}
				stored.Add(1)
				if r.Node == nil || r.Node.Key != want || r.Node.Value != value {
					rt.Fatalf("key %q: the write answered node %+v, want key %q value %q", key, r.Node, want, value)
				}
				g, err := kapi.Get(ctx, want, nil)
				if err != nil || g.Node.Key != want || g.Node.Value != value || g.Node.Dir {
					rt.Fatalf("key %q: Get(%q) = %+v, %v; want value %q", key, want, nodeOf(g), err, value)
				}
				l, err := kapi.Get(ctx, prefix, &client.GetOptions{Recursive: true})
				if err != nil {
					rt.Fatalf("listing %s: %v", prefix, err)
				}
				leaves := leavesOf(l.Node)
				hidden := strings.Contains(strings.TrimPrefix(want, prefix), "/_")
				switch {
				case want == prefix:
					if len(leaves) != 1 || leaves[0] != want+"="+value {
						rt.Fatalf("key %q: the prefix itself holds %q", key, leaves)
					}
				case hidden:
					if len(leaves) != 0 {
						rt.Fatalf("key %q is hidden, yet the listing shows %q", key, leaves)
					}
				default:
					if len(leaves) != 1 || leaves[0] != want+"="+value {
						rt.Fatalf("key %q: listing of %s shows %q, want [%s=%s]", key, prefix, leaves, want, value)
					}
				}
				if _, err := kapi.Delete(ctx, want, nil); err != nil {
					rt.Fatalf("deleting %q: %v", want, err)
				}
				if _, err := kapi.Get(ctx, want, nil); !client.IsKeyNotFound(err) {
					rt.Fatalf("%q still readable after its delete: %v", want, err)
				}
				var e client.Error
				if _, err := kapi.Get(ctx, path.Dir(want), nil); err != nil && !errors.As(err, &e) {
					rt.Fatalf("reading the parent of %q: %v", want, err)
				}
			})
			d := time.Since(start)
			t.Logf("%s: %d keys (shrinking included): %d stored and read back exactly, %d refused before sending, in %v; %d exchanges checked against openapi.yaml, %d violations",
				s, seq.Load(), stored.Load(), refused.Load(), d.Round(time.Millisecond), tr.Exchanges(), tr.Violations())
		})
	}
}

func nodeOf(r *client.Response) *client.Node {
	if r == nil {
		return nil
	}
	return r.Node
}

// leavesOf lists "key=value" of every file in a node tree.
func leavesOf(n *client.Node) []string {
	if n == nil {
		return nil
	}
	if !n.Dir {
		return []string{n.Key + "=" + n.Value}
	}
	var out []string
	for _, c := range n.Nodes {
		out = append(out, leavesOf(c)...)
	}
	return out
}
