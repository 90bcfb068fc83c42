package keys_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
)

// TestErrorCodes provokes every error code a keys call can meet on a healthy
// cluster, checks the code, message, cause and index that errors.As finds in
// a client.Error and the HTTP status on the wire; and checks that the inputs
// the server would answer with a validation error (209, 211, 212) are
// refused by the client before anything is sent.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, e *env) {
		e.run(t, "Codes", func(t *testing.T) { testCodes(t, e) })
		e.run(t, "RefusedBeforeSending", func(t *testing.T) { testRefusedLocally(t, e) })
		e.run(t, "EventIndexCleared", func(t *testing.T) { testEventIndexCleared(t, e) })
	})
}

func testCodes(t *testing.T, e *env) {
	e.set(t, "/err/cas", "a", nil)
	e.set(t, "/err/dir", "", &client.SetOptions{Dir: true})
	e.set(t, "/err/file", "v", nil)
	e.set(t, "/err/full/x", "1", nil)

	k := e.kapi
	cases := []struct {
		name    string
		op      func(ctx context.Context) error
		code    int
		status  int
		message string
		cause   string // "" leaves the cause unchecked
	}{
		{"100 get missing", func(c context.Context) error { _, err := k.Get(c, "/err/missing/x", nil); return err },
			client.ErrorCodeKeyNotFound, http.StatusNotFound, "Key not found", "/err/missing"},
		{"100 update missing", func(c context.Context) error { _, err := k.Update(c, "/err/missing", "v"); return err },
			client.ErrorCodeKeyNotFound, http.StatusNotFound, "Key not found", "/err/missing"},
		{"100 delete missing", func(c context.Context) error { _, err := k.Delete(c, "/err/missing", nil); return err },
			client.ErrorCodeKeyNotFound, http.StatusNotFound, "Key not found", "/err/missing"},
		{"101 compare-and-swap", func(c context.Context) error {
			_, err := k.Set(c, "/err/cas", "b", &client.SetOptions{PrevValue: "z"})
			return err
		}, client.ErrorCodeTestFailed, http.StatusPreconditionFailed, "Compare failed", "[z != a]"},
		{"101 compare-and-delete", func(c context.Context) error {
			_, err := k.Delete(c, "/err/cas", &client.DeleteOptions{PrevValue: "z"})
			return err
		}, client.ErrorCodeTestFailed, http.StatusPreconditionFailed, "Compare failed", "[z != a]"},
		{"102 set over a dir", func(c context.Context) error { _, err := k.Set(c, "/err/dir", "v", nil); return err },
			client.ErrorCodeNotFile, http.StatusForbidden, "Not a file", "/err/dir"},
		{"102 delete a dir without Dir", func(c context.Context) error { _, err := k.Delete(c, "/err/dir", nil); return err },
			client.ErrorCodeNotFile, http.StatusForbidden, "Not a file", "/err/dir"},
		{"102 compare-and-swap on a dir", func(c context.Context) error {
			_, err := k.Set(c, "/err/dir", "v", &client.SetOptions{PrevValue: "x"})
			return err
		}, client.ErrorCodeNotFile, http.StatusForbidden, "Not a file", "/err/dir"},
		{"104 set under a file", func(c context.Context) error { _, err := k.Set(c, "/err/file/child", "x", nil); return err },
			client.ErrorCodeNotDir, http.StatusBadRequest, "Not a directory", "/err/file"},
		{"104 in-order create under a file", func(c context.Context) error {
			_, err := k.CreateInOrder(c, "/err/file", "x", nil)
			return err
		}, client.ErrorCodeNotDir, http.StatusBadRequest, "Not a directory", "/err/file"},
		{"105 create existing", func(c context.Context) error { _, err := k.Create(c, "/err/file", "x"); return err },
			client.ErrorCodeNodeExist, http.StatusPreconditionFailed, "Key already exists", "/err/file"},
		{"105 create existing dir", func(c context.Context) error {
			_, err := k.Set(c, "/err/dir", "", &client.SetOptions{Dir: true, PrevExist: client.PrevNoExist})
			return err
		}, client.ErrorCodeNodeExist, http.StatusPreconditionFailed, "Key already exists", "/err/dir"},
		{"107 set the root", func(c context.Context) error { _, err := k.Set(c, "/", "x", nil); return err },
			client.ErrorCodeRootROnly, http.StatusBadRequest, "Root is read only", "/"},
		{"107 set the root as a dir", func(c context.Context) error {
			_, err := k.Set(c, "/", "", &client.SetOptions{Dir: true})
			return err
		}, client.ErrorCodeRootROnly, http.StatusBadRequest, "Root is read only", "/"},
		{"107 delete the root", func(c context.Context) error { _, err := k.Delete(c, "/", nil); return err },
			client.ErrorCodeRootROnly, http.StatusBadRequest, "Root is read only", "/"},
		{"107 delete the root recursively", func(c context.Context) error {
			_, err := k.Delete(c, "/", &client.DeleteOptions{Recursive: true, Dir: true})
			return err
		}, client.ErrorCodeRootROnly, http.StatusBadRequest, "Root is read only", "/"},
		{"108 delete a non-empty dir", func(c context.Context) error {
			_, err := k.Delete(c, "/err/full", &client.DeleteOptions{Dir: true})
			return err
		}, client.ErrorCodeDirNotEmpty, http.StatusForbidden, "Directory not empty", "/err/full"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := e.wire.count()
			err := tc.op(ctx(t))
			ke := wantError(t, err, tc.code)
			if x := e.wire.exchanges(n); e.v2wire() && len(x) != 1 {
				t.Errorf("want exactly one exchange (an etcd error is an answer, not a reason to retry), got %+v", x)
			}
			e.wantStatus(t, tc.status)
			if ke.Message != tc.message {
				t.Errorf("message %q, want %q", ke.Message, tc.message)
			}
			if tc.cause != "" && ke.Cause != tc.cause {
				t.Errorf("cause %q, want %q", ke.Cause, tc.cause)
			}
			if ke.Index == 0 {
				t.Errorf("a store error has index 0: %+v", ke)
			}
			if got := client.IsKeyNotFound(err); got != (tc.code == client.ErrorCodeKeyNotFound) {
				t.Errorf("IsKeyNotFound = %v for code %d", got, tc.code)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tc.code)) {
				t.Errorf("error text %q does not name the code", err)
			}
		})
	}
	// The refused writes changed nothing.
	if g := e.get(t, "/err/cas", nil); g.Node.Value != "a" {
		t.Errorf("/err/cas = %q after refused writes", g.Node.Value)
	}
	if g := e.get(t, "/err/full", nil); len(g.Node.Nodes) != 1 {
		t.Errorf("/err/full lost children: %+v", g.Node)
	}
}

// testRefusedLocally covers the server's validation codes 209/211/212 and
// the dot-segment keys: this client cannot produce those requests, because
// it checks the inputs first. Each refusal must match
// client.ErrInvalidArgument, name the field (or key), not be an etcd Error,
// and send nothing; then the same call with valid input goes out, so the
// counting is shown to work. (TTLs are never refused: TestTTLRule.)
func testRefusedLocally(t *testing.T, e *env) {
	k := e.kapi
	cases := []struct {
		name  string
		op    func(ctx context.Context) error
		field string // a fragment the error text must hold
	}{
		{"Refresh with a value (211)", func(c context.Context) error {
			_, err := k.Set(c, "/loc/k", "v", &client.SetOptions{Refresh: true, TTL: 5 * time.Second})
			return err
		}, "SetOptions.Refresh"},
		{"Refresh without TTL (212)", func(c context.Context) error {
			_, err := k.Set(c, "/loc/k", "", &client.SetOptions{Refresh: true})
			return err
		}, "SetOptions.TTL"},
		{"Refresh on a dir", func(c context.Context) error {
			_, err := k.Set(c, "/loc/k", "", &client.SetOptions{Refresh: true, Dir: true, TTL: 5 * time.Second})
			return err
		}, "SetOptions.Refresh"},
		{"Refresh with a negative TTL (212)", func(c context.Context) error {
			_, err := k.Set(c, "/loc/k", "", &client.SetOptions{Refresh: true, TTL: -time.Second})
			return err
		}, "SetOptions.TTL"},
		{"PrevValue with Dir", func(c context.Context) error {
			_, err := k.Set(c, "/loc/k", "", &client.SetOptions{Dir: true, PrevValue: "x"})
			return err
		}, "SetOptions.PrevValue"},
		{"PrevExist not a known value (209)", func(c context.Context) error {
			_, err := k.Set(c, "/loc/k", "v", &client.SetOptions{PrevExist: "maybe"})
			return err
		}, "SetOptions.PrevExist"},
		{"key a/../b on Get", func(c context.Context) error { _, err := k.Get(c, "/loc/a/../b", nil); return err }, `".."`},
		{"key ./x on Set", func(c context.Context) error { _, err := k.Set(c, "./x", "v", nil); return err }, `"."`},
		{"key a/./b on Delete", func(c context.Context) error { _, err := k.Delete(c, "/loc/a/./b", nil); return err }, `"."`},
		{"key .. on Create", func(c context.Context) error { _, err := k.Create(c, "..", "v"); return err }, `".."`},
		{"key x/.. on CreateInOrder", func(c context.Context) error { _, err := k.CreateInOrder(c, "/loc/..", "v", nil); return err }, `".."`},
		{"key a/../b on Watcher", func(c context.Context) error { _, err := k.Watcher("/loc/a/../b", nil).Next(c); return err }, `".."`},
		{"key not UTF-8", func(c context.Context) error { _, err := k.Set(c, "/loc/\xff", "v", nil); return err }, "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x0, w0 := e.contract.Exchanges(), e.wire.count()
			err := tc.op(ctx(t))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
			if !errors.Is(err, client.ErrInvalidArgument) {
				t.Errorf("errors.Is(err, client.ErrInvalidArgument) = false: %v", err)
			}
			var ke client.Error
			if errors.As(err, &ke) {
				t.Errorf("a local refusal looks like a server error: %+v", ke)
			}
			if x := e.contract.Exchanges() - x0; x != 0 || e.wire.count() != w0 {
				t.Errorf("%d exchanges went out for a refused input: %+v", x, e.wire.exchanges(w0))
			}
		})
	}

	// Control: valid neighbours of the refused inputs do go out and succeed.
	x0 := e.contract.Exchanges()
	e.set(t, "/loc/k", "v", &client.SetOptions{TTL: 2 * time.Second})
	r := e.set(t, "/loc/k", "", &client.SetOptions{Refresh: true, TTL: 5 * time.Second})
	if r.Node.Value != "v" || r.Node.TTL < 1 {
		t.Errorf("refresh: %+v", r.Node)
	}
	if n := e.contract.Exchanges() - x0; e.v2wire() && n != 2 {
		t.Errorf("valid calls made %d exchanges, want 2", n)
	}
}

// historySize is the number of events etcd keeps for watchers.
const historySize = 1000

func testEventIndexCleared(t *testing.T, e *env) {
	start := e.set(t, "/e401/k", "start", nil)

	// More than historySize writes push the start out of the history; a few
	// writers in parallel keep this quick.
	const writers, each = 8, historySize/8 + 10
	wctx := ctx(t)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := e.kapi.Set(wctx, fmt.Sprintf("/e401/w%d", w), fmt.Sprint(i), nil); err != nil {
					t.Errorf("write %d/%d: %v", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	before := e.get(t, "/e401/k", nil).Index
	if before-start.Index <= historySize {
		t.Fatalf("only %d writes since the start index %d", before-start.Index, start.Index)
	}

	w := e.kapi.Watcher("/e401/k", &client.WatcherOptions{AfterIndex: start.Node.ModifiedIndex})
	_, err := w.Next(ctx(t))
	e.wantStatus(t, http.StatusBadRequest)
	e.wantQuery(t, "wait=true", fmt.Sprintf("waitIndex=%d", start.Node.ModifiedIndex+1))
	if !client.IsEventIndexCleared(err) {
		t.Errorf("IsEventIndexCleared(%v) = false", err)
	}
	ke := wantError(t, err, client.ErrorCodeEventIndexCleared)
	after := e.get(t, "/e401/k", nil).Index
	if ke.Index < before || ke.Index > after {
		t.Errorf("error index %d is not the current index (between %d and %d)", ke.Index, before, after)
	}
	if ke.Message != "The event in requested index is outdated and cleared" {
		t.Errorf("message %q", ke.Message)
	}
	wantCause := fmt.Sprintf("the requested history has been cleared [%d/%d]", ke.Index-historySize+1, start.Node.ModifiedIndex+1)
	if ke.Cause != wantCause {
		t.Errorf("cause %q, want %q", ke.Cause, wantCause)
	}

	// The index the error carries is where a watch can start again.
	w = e.kapi.Watcher("/e401/k", &client.WatcherOptions{AfterIndex: ke.Index})
	n := e.wire.watchCount()
	done := make(chan error, 1)
	var ev *client.Response
	wctx = ctx(t)
	go func() {
		var err error
		ev, err = w.Next(wctx)
		done <- err
	}()
	if err := e.wire.awaitWatches(ctx(t), n+1); err != nil {
		t.Fatal(err)
	}
	s := e.set(t, "/e401/k", "again", nil)
	if err := <-done; err != nil {
		t.Fatalf("watch from the error's index: %v", err)
	}
	if ev.Node.Value != "again" || ev.Node.ModifiedIndex != s.Node.ModifiedIndex {
		t.Errorf("watch from the error's index got %+v", ev.Node)
	}

	// With Resync the watcher reads the key afresh instead, and goes on
	// from the index it read at.
	rw := e.kapi.Watcher("/e401/k", &client.WatcherOptions{AfterIndex: start.Node.ModifiedIndex, Resync: true})
	ev = next(t, rw)
	if ev.Action != client.ActionResync || ev.Node == nil || ev.Node.Value != "again" || ev.Index < before {
		t.Errorf("resync: %q %+v at %d, want the current value %q at an index >= %d", ev.Action, ev.Node, ev.Index, "again", before)
	}
	rs := e.set(t, "/e401/k", "after resync", nil)
	if ev := next(t, rw); ev.Node.Value != "after resync" || ev.Node.ModifiedIndex != rs.Node.ModifiedIndex {
		t.Errorf("after resync: %q %+v", ev.Action, ev.Node)
	}
}
