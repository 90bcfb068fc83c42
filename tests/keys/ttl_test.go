package keys_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
)

// TestTTLRule checks on each server what etcd makes of the TTLs callers
// pass, wherever a TTL is sent: TTL <= 0 sends none (the key is permanent,
// and a write without a TTL removes an earlier one), a positive TTL that is
// not whole seconds is rounded up (500 ms → ttl 1, 1.5 s → ttl 2: never
// ttl=0, which etcd takes as "expire now"), and a refresh still needs a
// positive TTL.
func TestTTLRule(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, e *env) {
		e.run(t, "Set", func(t *testing.T) { testTTLSet(t, e) })
		e.run(t, "EveryWrite", func(t *testing.T) { testTTLEveryWrite(t, e) })
		e.run(t, "Refresh", func(t *testing.T) { testTTLRefresh(t, e) })
	})
}

// wantSeconds checks that etcd shows ttl secs on n (0: no TTL at all, the
// node is permanent).
func wantSeconds(t testing.TB, n *client.Node, secs int64) {
	t.Helper()
	if n == nil {
		t.Fatal("no node in the answer")
	}
	switch {
	case secs == 0 && (n.TTL != 0 || n.Expiration != nil):
		t.Errorf("node %s: TTL %d, expiration %v; want a permanent node", n.Key, n.TTL, n.Expiration)
	case secs != 0 && n.TTL != secs:
		t.Errorf("node %s: etcd shows ttl %d, want %d", n.Key, n.TTL, secs)
	case secs != 0 && n.Expiration == nil:
		t.Errorf("node %s: ttl %d but no expiration", n.Key, n.TTL)
	}
}

func testTTLSet(t *testing.T, e *env) {
	for _, tc := range []struct {
		ttl  time.Duration
		secs int64
	}{
		{-time.Second, 0},
		{0, 0},
		{500 * time.Millisecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
	} {
		t.Run(tc.ttl.String(), func(t *testing.T) {
			key := fmt.Sprintf("/ttl/set/%d", tc.ttl)
			// An earlier TTL, so that "no TTL sent" shows as a key made
			// permanent again.
			e.set(t, key, "before", &client.SetOptions{TTL: time.Hour})
			r := e.set(t, key, "v", &client.SetOptions{TTL: tc.ttl})
			wantSeconds(t, r.Node, tc.secs)
			// The key is there when read back: a positive TTL was not
			// sent as ttl=0.
			g := e.get(t, key, nil)
			if g.Node.Value != "v" {
				t.Errorf("read back %q", g.Node.Value)
			}
			if tc.secs == 0 {
				wantSeconds(t, g.Node, 0)
			} else if g.Node.TTL < 1 || g.Node.TTL > tc.secs {
				t.Errorf("read back ttl %d, want in [1,%d]", g.Node.TTL, tc.secs)
			}
		})
	}
}

// testTTLEveryWrite: the same rounding on every other write that sends a
// TTL.
func testTTLEveryWrite(t *testing.T, e *env) {
	e.set(t, "/ttl/upd", "v", nil)
	u := e.set(t, "/ttl/upd", "w", &client.SetOptions{TTL: 1500 * time.Millisecond, PrevExist: client.PrevExist})
	wantSeconds(t, u.Node, 2)

	c := e.set(t, "/ttl/create", "v", &client.SetOptions{TTL: 500 * time.Millisecond, PrevExist: client.PrevNoExist})
	wantSeconds(t, c.Node, 1)

	d := e.set(t, "/ttl/dir", "", &client.SetOptions{TTL: 1500 * time.Millisecond, Dir: true})
	if !d.Node.Dir {
		t.Errorf("not a directory: %+v", d.Node)
	}
	wantSeconds(t, d.Node, 2)

	p := e.set(t, "/ttl/dir2", "", &client.SetOptions{TTL: -time.Second, Dir: true})
	wantSeconds(t, p.Node, 0)

	cas := e.set(t, "/ttl/upd", "x", &client.SetOptions{TTL: 2500 * time.Millisecond, PrevValue: "w"})
	wantSeconds(t, cas.Node, 3)

	for _, tc := range []struct {
		ttl  time.Duration
		secs int64
	}{{-time.Second, 0}, {0, 0}, {500 * time.Millisecond, 1}, {1500 * time.Millisecond, 2}} {
		r, err := e.kapi.CreateInOrder(ctx(t), "/ttl/queue", "v", &client.CreateInOrderOptions{TTL: tc.ttl})
		wantSeconds(t, must(t, r, err).Node, tc.secs)
	}
}

func testTTLRefresh(t *testing.T, e *env) {
	e.set(t, "/ttl/ref", "keep", &client.SetOptions{TTL: time.Hour})
	r := e.set(t, "/ttl/ref", "", &client.SetOptions{Refresh: true, TTL: 1500 * time.Millisecond})
	if r.Node.Value != "keep" {
		t.Errorf("refresh changed the value to %q", r.Node.Value)
	}
	wantSeconds(t, r.Node, 2)
	r = e.set(t, "/ttl/ref", "", &client.SetOptions{Refresh: true, TTL: 500 * time.Millisecond, PrevExist: client.PrevExist})
	wantSeconds(t, r.Node, 1)

	// A refresh only sets a TTL: without a positive one it is refused
	// before sending (etcd would answer 212).
	for _, ttl := range []time.Duration{0, -time.Second} {
		n := e.wire.count()
		_, err := e.kapi.Set(ctx(t), "/ttl/ref", "", &client.SetOptions{Refresh: true, TTL: ttl})
		var ia *client.InvalidArgumentError
		if !errors.Is(err, client.ErrInvalidArgument) || !errors.As(err, &ia) || ia.Field != "SetOptions.TTL" {
			t.Errorf("refresh with TTL %v: %v, want an *InvalidArgumentError for SetOptions.TTL", ttl, err)
		}
		if x := e.wire.exchanges(n); len(x) != 0 {
			t.Errorf("refresh with TTL %v went out: %+v", ttl, x)
		}
	}
	e.wantStatus(t, http.StatusOK)

	// The key made with 500 ms (ttl 1) really expires, and is not gone at
	// once: wait for its expiry with a watch rather than a sleep.
	c := e.set(t, "/ttl/short", "v", &client.SetOptions{TTL: 500 * time.Millisecond})
	if g := e.get(t, "/ttl/short", nil); g.Node.Value != "v" {
		t.Fatalf("a 500 ms key is gone at once: %+v", g.Node)
	}
	w := e.kapi.Watcher("/ttl/short", &client.WatcherOptions{AfterIndex: c.Node.ModifiedIndex})
	wctx, cancel := context.WithTimeout(ctx(t), 10*time.Second)
	defer cancel()
	ev, err := w.Next(wctx)
	if err != nil {
		t.Fatalf("waiting for the expiry: %v", err)
	}
	if ev.Action != "expire" {
		t.Errorf("next event %q, want expire", ev.Action)
	}
}
