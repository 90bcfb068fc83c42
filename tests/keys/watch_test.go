package keys_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
)

// nextAsync starts w.Next in a goroutine once the watch count is known, and
// waits until etcd has registered the watcher (answered its headers), so a
// write made after nextAsync returns cannot be missed. The result arrives on
// the returned channel.
//
// The v3 backend's watcher opens one stream on its first Next and, after
// that, goes on from the revision after the last it read whenever a stream
// is (re)opened, so only its first Next has to be waited for.
func (e *env) nextAsync(t *testing.T, c context.Context, w client.Watcher) <-chan watchResult {
	t.Helper()
	n := e.wire.watchCount()
	_, opened := e.opened.LoadOrStore(w, true)
	ch := make(chan watchResult, 1)
	go func() {
		r, err := w.Next(c)
		ch <- watchResult{r, err}
	}()
	if e.v2wire() || !opened {
		if err := e.wire.awaitWatches(ctx(t), n+1); err != nil {
			t.Fatal(err)
		}
	}
	return ch
}

type watchResult struct {
	r   *client.Response
	err error
}

// await returns the watch result or fails the test.
func await(t *testing.T, ch <-chan watchResult) *client.Response {
	t.Helper()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("Next: %v", res.err)
		}
		return res.r
	case <-time.After(callTimeout):
		t.Fatal("Next did not return")
	}
	return nil
}

// next calls w.Next and fails the test on error.
func next(t *testing.T, w client.Watcher) *client.Response {
	t.Helper()
	r, err := w.Next(ctx(t))
	return must(t, r, err)
}

// watchQueries returns the parsed queries of the watch requests made from
// log index from on.
func (e *env) watchQueries(from int) []url.Values {
	var out []url.Values
	for _, x := range e.wire.exchanges(from) {
		q, _ := url.ParseQuery(x.Query)
		if q.Get("wait") == "true" {
			out = append(out, q)
		}
	}
	return out
}

// TestWatcher checks the Watcher against real servers: events arrive with
// the right action and index, recursive watches see descendants, AfterIndex
// replays history, consecutive Next calls continue without gaps or
// duplicates, and cancelling the context ends Next at once.
func TestWatcher(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, e *env) {
		e.run(t, "Events", func(t *testing.T) { testWatchEvents(t, e) })
		e.run(t, "Recursive", func(t *testing.T) { testWatchRecursive(t, e) })
		e.run(t, "AfterIndex", func(t *testing.T) { testWatchAfterIndex(t, e) })
		e.run(t, "Sequence", func(t *testing.T) { testWatchSequence(t, e) })
		e.run(t, "Cancel", func(t *testing.T) { testWatchCancel(t, e) })
		e.run(t, "Stream", func(t *testing.T) { testWatchStream(t, e) })
		e.run(t, "IdleReissue", func(t *testing.T) { testWatchIdleReissue(t, e) })
	})
}

func testWatchEvents(t *testing.T, e *env) {
	from := e.wire.count()
	w := e.kapi.Watcher("/watch/a", nil)
	ch := e.nextAsync(t, ctx(t), w)
	s := e.set(t, "/watch/a", "v1", nil)
	ev := await(t, ch)
	if ev.Action != "set" || ev.Node.Key != "/watch/a" || ev.Node.Value != "v1" || ev.Node.ModifiedIndex != s.Node.ModifiedIndex {
		t.Errorf("event %q %+v, want the set of v1 at %d", ev.Action, ev.Node, s.Node.ModifiedIndex)
	}
	// The header index of a watch is where it started, before the event.
	if ev.Index == 0 || ev.Index >= s.Node.ModifiedIndex || ev.ClusterID != s.ClusterID {
		t.Errorf("event Index %d (want < %d), ClusterID %q", ev.Index, s.Node.ModifiedIndex, ev.ClusterID)
	}

	// The following events come in order, each with its action.
	u, err := e.kapi.Update(ctx(t), "/watch/a", "v2")
	must(t, u, err)
	d := e.del(t, "/watch/a", nil)
	ev = next(t, w)
	if ev.Action != "update" || ev.Node.Value != "v2" || ev.PrevNode == nil || ev.PrevNode.Value != "v1" || ev.Node.ModifiedIndex != u.Node.ModifiedIndex {
		t.Errorf("second event %q %+v prev %+v", ev.Action, ev.Node, ev.PrevNode)
	}
	ev = next(t, w)
	if ev.Action != "delete" || ev.Node.ModifiedIndex != d.Node.ModifiedIndex || ev.PrevNode == nil || ev.PrevNode.Value != "v2" {
		t.Errorf("third event %q %+v prev %+v", ev.Action, ev.Node, ev.PrevNode)
	}

	if !e.v2wire() {
		return
	}
	qs := e.watchQueries(from)
	if len(qs) != 3 {
		t.Fatalf("%d watch requests for 3 events: %v", len(qs), qs)
	}
	if qs[0].Has("waitIndex") || qs[0].Get("recursive") != "" {
		t.Errorf("first watch request %v: want no waitIndex, not recursive", qs[0])
	}
	for i, want := range []uint64{s.Node.ModifiedIndex + 1, u.Node.ModifiedIndex + 1} {
		if got := qs[i+1].Get("waitIndex"); got != strconv.FormatUint(want, 10) {
			t.Errorf("watch request %d asked waitIndex=%s, want %d", i+2, got, want)
		}
	}
}

func testWatchRecursive(t *testing.T, e *env) {
	base := e.set(t, "/watch/dir/seed", "s", nil)
	after := base.Node.ModifiedIndex
	rec := e.kapi.Watcher("/watch/dir", &client.WatcherOptions{Recursive: true, AfterIndex: after})
	flat := e.kapi.Watcher("/watch/dir", &client.WatcherOptions{AfterIndex: after})

	e.set(t, "/watch/dirx", "sibling with the same prefix", nil)
	c := e.set(t, "/watch/dir/a/b", "x", nil)
	ev := next(t, rec)
	e.wantQuery(t, "recursive=true")
	if ev.Action != "set" || ev.Node.Key != "/watch/dir/a/b" || ev.Node.ModifiedIndex != c.Node.ModifiedIndex {
		t.Errorf("recursive watch: %q %+v, want the set of /watch/dir/a/b", ev.Action, ev.Node)
	}

	// A non-recursive watch on the directory skips the child writes and
	// fires for the directory itself.
	d := e.del(t, "/watch/dir", &client.DeleteOptions{Recursive: true})
	ev = next(t, flat)
	if ev.Action != "delete" || ev.Node.Key != "/watch/dir" || !ev.Node.Dir || ev.Node.ModifiedIndex != d.Node.ModifiedIndex {
		t.Errorf("non-recursive watch on the dir: %q %+v, want its delete at %d", ev.Action, ev.Node, d.Node.ModifiedIndex)
	}
	ev = next(t, rec)
	if ev.Action != "delete" || ev.Node.Key != "/watch/dir" {
		t.Errorf("recursive watch after the child: %q %+v", ev.Action, ev.Node)
	}

	// A recursive watch on the root sees writes anywhere.
	root := e.kapi.Watcher("/", &client.WatcherOptions{Recursive: true, AfterIndex: d.Node.ModifiedIndex})
	deep := e.set(t, "/watch/elsewhere/deep/key", "r", nil)
	ev = next(t, root)
	if x := e.wire.last(t); e.v2wire() && x.Path != "/v2/keys" && x.Path != "/v2/keys/" {
		t.Errorf("root watch sent path %s", x.Path)
	}
	if ev.Node.Key != "/watch/elsewhere/deep/key" || ev.Node.ModifiedIndex != deep.Node.ModifiedIndex {
		t.Errorf("root watch: %+v", ev.Node)
	}
}

func testWatchAfterIndex(t *testing.T, e *env) {
	s1 := e.set(t, "/watch/past", "p1", nil)
	s2 := e.set(t, "/watch/past", "p2", nil)
	w := e.kapi.Watcher("/watch/past", &client.WatcherOptions{AfterIndex: s1.Node.ModifiedIndex - 1})
	ev := next(t, w)
	e.wantQuery(t, "wait=true", fmt.Sprintf("waitIndex=%d", s1.Node.ModifiedIndex))
	if ev.Node.Value != "p1" || ev.Node.ModifiedIndex != s1.Node.ModifiedIndex {
		t.Errorf("replay: %+v, want p1 at %d", ev.Node, s1.Node.ModifiedIndex)
	}
	ev = next(t, w)
	if ev.Node.Value != "p2" || ev.Node.ModifiedIndex != s2.Node.ModifiedIndex || ev.PrevNode.Value != "p1" {
		t.Errorf("replay: %+v, want p2 at %d", ev.Node, s2.Node.ModifiedIndex)
	}
	// An AfterIndex at the last event waits for the next one.
	w = e.kapi.Watcher("/watch/past", &client.WatcherOptions{AfterIndex: s2.Node.ModifiedIndex})
	ch := e.nextAsync(t, ctx(t), w)
	s3 := e.set(t, "/watch/past", "p3", nil)
	if ev := await(t, ch); ev.Node.Value != "p3" || ev.Node.ModifiedIndex != s3.Node.ModifiedIndex {
		t.Errorf("watch from the last index: %+v", ev.Node)
	}
}

func testWatchSequence(t *testing.T, e *env) {
	const n = 50
	var idx []uint64
	for i := range n {
		idx = append(idx, e.set(t, "/watch/seq", strconv.Itoa(i), nil).Node.ModifiedIndex)
		if i%3 == 0 {
			e.set(t, "/watch/noise", strconv.Itoa(i), nil) // gaps in the index
		}
	}
	from := e.wire.count()
	w := e.kapi.Watcher("/watch/seq", &client.WatcherOptions{AfterIndex: idx[0] - 1})
	for i := range n {
		ev := next(t, w)
		if ev.Node.Value != strconv.Itoa(i) || ev.Node.ModifiedIndex != idx[i] {
			t.Fatalf("event %d: %q at %d, want %q at %d", i, ev.Node.Value, ev.Node.ModifiedIndex, strconv.Itoa(i), idx[i])
		}
	}
	if !e.v2wire() {
		return
	}
	qs := e.watchQueries(from)
	if len(qs) != n {
		t.Fatalf("%d watch requests for %d events", len(qs), n)
	}
	for i, q := range qs {
		want := idx[0]
		if i > 0 {
			want = idx[i-1] + 1
		}
		if got := q.Get("waitIndex"); got != strconv.FormatUint(want, 10) {
			t.Errorf("request %d: waitIndex=%s, want %d", i, got, want)
		}
	}
}

func testWatchCancel(t *testing.T, e *env) {
	w := e.kapi.Watcher("/watch/idle", nil)
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	ch := e.nextAsync(t, c, w)
	began := time.Now()
	cancel()
	select {
	case res := <-ch:
		if !errors.Is(res.err, context.Canceled) {
			t.Errorf("Next after cancel: %v, %+v; want context.Canceled", res.err, res.r)
		}
		if d := time.Since(began); d > 2*time.Second {
			t.Errorf("Next took %v to return after cancel", d)
		}
	case <-time.After(callTimeout):
		t.Fatal("Next did not return after cancel")
	}

	// A deadline ends a waiting Next the same way.
	dctx, dcancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer dcancel()
	_, err := w.Next(dctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next past its deadline: %v; want context.DeadlineExceeded", err)
	}

	// The watcher still works afterwards.
	ch = e.nextAsync(t, ctx(t), w)
	s := e.set(t, "/watch/idle", "woke", nil)
	if ev := await(t, ch); ev.Node.ModifiedIndex != s.Node.ModifiedIndex {
		t.Errorf("watcher after cancel: %+v", ev.Node)
	}
}

// testWatchStream checks WatcherOptions.Stream: every event comes on one
// answer, in order, and etcd's repeated delete event is dropped.
func testWatchStream(t *testing.T, e *env) {
	const key = "/watch/stream"
	from := e.wire.count()
	w := e.kapi.Watcher(key, &client.WatcherOptions{Stream: true})
	ch := e.nextAsync(t, ctx(t), w)
	s1 := e.set(t, key, "v1", nil)
	if ev := await(t, ch); ev.Action != "set" || ev.Node.Value != "v1" || ev.Node.ModifiedIndex != s1.Node.ModifiedIndex {
		t.Errorf("first streamed event %q %+v", ev.Action, ev.Node)
	}
	s2 := e.set(t, key, "v2", nil)
	d := e.del(t, key, nil)
	s3 := e.set(t, key, "v3", nil)
	for _, want := range []struct {
		action, value string
		index         uint64
	}{
		{"set", "v2", s2.Node.ModifiedIndex},
		{"delete", "", d.Node.ModifiedIndex},
		{"set", "v3", s3.Node.ModifiedIndex}, // not the delete again
	} {
		ev := next(t, w)
		if ev.Action != want.action || ev.Node.Value != want.value || ev.Node.ModifiedIndex != want.index {
			t.Errorf("streamed event %q %q at %d, want %q %q at %d", ev.Action, ev.Node.Value, ev.Node.ModifiedIndex, want.action, want.value, want.index)
		}
	}
	if !e.v2wire() {
		return
	}
	qs := e.watchQueries(from)
	if len(qs) != 1 || qs[0].Get("stream") != "true" {
		t.Errorf("want all events on one stream=true request, got %v", qs)
	}
}

// testWatchIdleReissue checks that a watch re-issued after its IdleTimeout
// goes on from where the first request started, not from "now": a write made
// while the re-issued request is on its way must still be reported. The
// wire holds the re-issued request until that write is done. The watch
// streams, because the contract transport hands a long poll's headers (and
// with them the start index) to the client only together with its body.
func testWatchIdleReissue(t *testing.T, e *env) {
	const key = "/watch/reissue"
	var (
		mu       sync.Mutex
		requests int
		gap      *client.Response
		gapErr   error
	)
	hctx := ctx(t)
	e.wire.setBefore(func(req *http.Request) {
		if !isWatch(req) || (e.v2wire() && req.URL.Path != "/v2/keys"+key) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		requests++
		if requests == 2 { // the first re-issue
			gap, gapErr = e.kapi.Set(hctx, key, "in the gap", nil)
		}
	})
	defer e.wire.setBefore(nil)

	w := e.kapi.Watcher(key, &client.WatcherOptions{Stream: true, IdleTimeout: 300 * time.Millisecond})
	n := e.wire.watchCount()
	ch := e.nextAsync(t, ctx(t), w)
	// Wait for the re-issued request to be registered too, then write again:
	// a watcher that lost its place reports this write instead.
	if err := e.wire.awaitWatches(ctx(t), n+2); err != nil {
		t.Fatal(err)
	}
	later := e.set(t, key, "later", nil)
	ev := await(t, ch)
	mu.Lock()
	defer mu.Unlock()
	if gapErr != nil {
		t.Fatalf("write in the gap: %v", gapErr)
	}
	if ev.Node.Value != "in the gap" || ev.Node.ModifiedIndex != gap.Node.ModifiedIndex {
		t.Errorf("first event %q at %d, want %q at %d: the write made while the watch was re-issued was lost (later write at %d)",
			ev.Node.Value, ev.Node.ModifiedIndex, "in the gap", gap.Node.ModifiedIndex, later.Node.ModifiedIndex)
	}
}
