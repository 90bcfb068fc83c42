package keys_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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

// wantSeconds checks the ttl the last write sent (exactly: none for
// secs 0) and what etcd shows on the node it answered: no TTL at all for
// secs 0 (the node is permanent), else secs. etcd counts the TTL from when
// it received the write and shows the seconds left, rounded up, so a write
// whose answer took a second or more may show less; took says how long
// the call took.
func (e *env) wantSeconds(t testing.TB, n *client.Node, secs int64, took time.Duration) {
	t.Helper()
	// The v3 backend sends leases, not a form: only what etcd shows counts.
	if e.v2wire() {
		x := e.wire.last(t)
		form, err := url.ParseQuery(x.Form)
		if err != nil {
			t.Fatalf("%s %s: form %q: %v", x.Method, x.Path, x.Form, err)
		}
		switch sent, ok := form["ttl"]; {
		case secs == 0 && ok:
			t.Errorf("%s %s sent ttl=%q, want none", x.Method, x.Path, sent)
		case secs != 0 && (len(sent) != 1 || sent[0] != strconv.FormatInt(secs, 10)):
			t.Errorf("%s %s sent ttl=%q, want %d", x.Method, x.Path, sent, secs)
		}
	}
	if n == nil {
		t.Fatal("no node in the answer")
	}
	lo := secs - int64(took/time.Second)
	switch {
	case secs == 0 && (n.TTL != 0 || n.Expiration != nil):
		t.Errorf("node %s: TTL %d, expiration %v; want a permanent node", n.Key, n.TTL, n.Expiration)
	case secs != 0 && (n.TTL < lo || n.TTL > secs):
		t.Errorf("node %s: etcd shows ttl %d, want %d", n.Key, n.TTL, secs)
	case secs != 0 && n.Expiration == nil:
		t.Errorf("node %s: ttl %d but no expiration", n.Key, n.TTL)
	}
}

// timedSet is e.set that also says how long the call took.
func (e *env) timedSet(t testing.TB, key, value string, opts *client.SetOptions) (*client.Response, time.Duration) {
	t.Helper()
	start := time.Now()
	r := e.set(t, key, value, opts)
	return r, time.Since(start)
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
			r, took := e.timedSet(t, key, "v", &client.SetOptions{TTL: tc.ttl})
			e.wantSeconds(t, r.Node, tc.secs, took)
			if tc.secs != 0 {
				// (A key of a second or two may be gone by the time it
				// is read; testTTLRefresh waits for such an expiry.)
				return
			}
			g := e.get(t, key, nil)
			if g.Node.Value != "v" || g.Node.TTL != 0 || g.Node.Expiration != nil {
				t.Errorf("read back %q, TTL %d, expiration %v; want a permanent node", g.Node.Value, g.Node.TTL, g.Node.Expiration)
			}
		})
	}
}

// testTTLEveryWrite: the same rounding on every other write that sends a
// TTL.
func testTTLEveryWrite(t *testing.T, e *env) {
	e.set(t, "/ttl/upd", "v", nil)
	u, took := e.timedSet(t, "/ttl/upd", "w", &client.SetOptions{TTL: 1500 * time.Millisecond, PrevExist: client.PrevExist})
	e.wantSeconds(t, u.Node, 2, took)

	c, took := e.timedSet(t, "/ttl/create", "v", &client.SetOptions{TTL: 500 * time.Millisecond, PrevExist: client.PrevNoExist})
	e.wantSeconds(t, c.Node, 1, took)

	d, took := e.timedSet(t, "/ttl/dir", "", &client.SetOptions{TTL: 1500 * time.Millisecond, Dir: true})
	if !d.Node.Dir {
		t.Errorf("not a directory: %+v", d.Node)
	}
	e.wantSeconds(t, d.Node, 2, took)

	p, took := e.timedSet(t, "/ttl/dir2", "", &client.SetOptions{TTL: -time.Second, Dir: true})
	e.wantSeconds(t, p.Node, 0, took)

	cas, took := e.timedSet(t, "/ttl/upd", "x", &client.SetOptions{TTL: 2500 * time.Millisecond, PrevValue: "w"})
	e.wantSeconds(t, cas.Node, 3, took)

	for _, tc := range []struct {
		ttl  time.Duration
		secs int64
	}{{-time.Second, 0}, {0, 0}, {500 * time.Millisecond, 1}, {1500 * time.Millisecond, 2}} {
		start := time.Now()
		r, err := e.kapi.CreateInOrder(ctx(t), "/ttl/queue", "v", &client.CreateInOrderOptions{TTL: tc.ttl})
		e.wantSeconds(t, must(t, r, err).Node, tc.secs, time.Since(start))
	}
}

func testTTLRefresh(t *testing.T, e *env) {
	e.set(t, "/ttl/ref", "keep", &client.SetOptions{TTL: time.Hour})
	r, took := e.timedSet(t, "/ttl/ref", "", &client.SetOptions{Refresh: true, TTL: 1500 * time.Millisecond})
	if r.Node.Value != "keep" {
		t.Errorf("refresh changed the value to %q", r.Node.Value)
	}
	e.wantSeconds(t, r.Node, 2, took)
	r, took = e.timedSet(t, "/ttl/ref", "", &client.SetOptions{Refresh: true, TTL: 3500 * time.Millisecond, PrevExist: client.PrevExist})
	e.wantSeconds(t, r.Node, 4, took)

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

	// The key made with 500 ms (ttl 1) really expires: wait for its
	// expiry with a watch rather than a sleep.
	c := e.set(t, "/ttl/short", "v", &client.SetOptions{TTL: 500 * time.Millisecond})
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
