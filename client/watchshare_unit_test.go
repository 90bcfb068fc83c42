package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// watchFake is a one-key etcd watch endpoint: long polls wait for the first
// event at or after waitIndex (or after the current index), answer at once
// from its history, and answer 401 below its history's floor. It counts the
// polls open and every waitIndex asked.
type watchFake struct {
	*httptest.Server
	mu     sync.Mutex
	index  uint64
	events map[uint64]bool
	floor  uint64 // waitIndex below this gets errorCode 401
	wrote  chan struct{}
	open   atomic.Int32
	asked  []string
}

func newWatchFake(t *testing.T, index uint64) *watchFake {
	f := &watchFake{index: index, events: map[uint64]bool{}, wrote: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *watchFake) serve(w http.ResponseWriter, r *http.Request) {
	wi, _ := strconv.ParseUint(r.URL.Query().Get("waitIndex"), 10, 64)
	f.mu.Lock()
	f.asked = append(f.asked, r.URL.Query().Get("waitIndex"))
	idx := f.index
	if r.URL.Query().Get("wait") != "true" { // a read: the key is not there
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Etcd-Index", strconv.FormatUint(idx, 10))
		w.WriteHeader(404)
		fmt.Fprintf(w, `{"errorCode":100,"message":"Key not found","cause":"/w","index":%d}`+"\n", idx)
		return
	}
	if wi > 0 && wi < f.floor {
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Etcd-Index", strconv.FormatUint(idx, 10))
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [%d/%d]","index":%d}`+"\n", f.floor, wi, idx)
		return
	}
	f.mu.Unlock()
	if wi == 0 {
		wi = idx + 1
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Etcd-Index", strconv.FormatUint(idx, 10))
	w.WriteHeader(200)
	w.(http.Flusher).Flush()
	f.open.Add(1)
	defer f.open.Add(-1)
	for {
		f.mu.Lock()
		for i := wi; i <= f.index; i++ {
			if f.events[i] {
				f.mu.Unlock()
				io.WriteString(w, event("set", int(i)))
				return
			}
		}
		ch := f.wrote
		f.mu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
	}
}

// watchFakeClient is a watchFake at index 10 and a client of it.
func watchFakeClient(t *testing.T) (*watchFake, *httpClusterClient, KeysAPI) {
	f := newWatchFake(t, 10)
	c := pinnedClient(t, Config{}, f.URL)
	return f, c, NewKeysAPI(c)
}

// write makes the next index an event of the key.
func (f *watchFake) write() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	f.events[f.index] = true
	close(f.wrote)
	f.wrote = make(chan struct{})
	return f.index
}

func (f *watchFake) waitIndexes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

// shareCounts returns how many shared polls c has and how many watchers
// wait on them, leaders included.
func shareCounts(c *httpClusterClient) (polls, waiting int) {
	c.shares.mu.Lock()
	defer c.shares.mu.Unlock()
	for _, g := range c.shares.groups {
		polls++
		waiting += len(g.waiters)
		if g.leader != nil {
			waiting++
		}
	}
	return polls, waiting
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntilFor(t, 5*time.Second, what, cond)
}

func waitUntilFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type nextResult struct {
	resp *Response
	err  error
}

// goNext runs w.Next in a goroutine.
func goNext(ctx context.Context, w Watcher) <-chan nextResult {
	ch := make(chan nextResult, 1)
	go func() {
		r, err := w.Next(ctx)
		ch <- nextResult{r, err}
	}()
	return ch
}

func wantEvent(t *testing.T, ch <-chan nextResult, index uint64) *Response {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil || r.resp.Node == nil || r.resp.Node.ModifiedIndex != index {
			t.Fatalf("Next = %+v, %v; want the event at %d", r.resp, r.err, index)
		}
		return r.resp
	case <-time.After(5 * time.Second):
		t.Fatalf("no event %d", index)
	}
	return nil
}

func TestSharedWatchersJoinAtDifferentIndexes(t *testing.T) {
	f, c, kapi := watchFakeClient(t)
	ctx := context.Background()
	var chs []<-chan nextResult
	for range 4 {
		chs = append(chs, goNext(ctx, kapi.Watcher("/w", &WatcherOptions{AfterIndex: 10})))
	}
	waitUntil(t, "4 watchers wait on one poll", func() bool { _, n := shareCounts(c); return n == 4 })
	fromNow := goNext(ctx, kapi.Watcher("/w", nil))
	ahead := kapi.Watcher("/w", &WatcherOptions{AfterIndex: 11})
	aheadCh := goNext(ctx, ahead)
	waitUntil(t, "6 watchers wait on one poll", func() bool { p, n := shareCounts(c); return p == 1 && n == 6 })
	waitUntil(t, "the poll is open", func() bool { return f.open.Load() > 0 })
	time.Sleep(20 * time.Millisecond) // room for any other poll to arrive
	if n := f.open.Load(); n != 1 {
		t.Fatalf("%d long polls open for 6 watchers of one key, want 1", n)
	}
	i := f.write()
	seen := map[*Response]bool{}
	for _, ch := range append(chs, fromNow) {
		r := wantEvent(t, ch, i)
		if seen[r] || seen[nil] {
			t.Fatal("two watchers got the same *Response")
		}
		seen[r] = true
	}
	// The watcher that joined after index 11 waits on for 12, now leading.
	select {
	case r := <-aheadCh:
		t.Fatalf("the watcher after 11 got %+v, %v", r.resp, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	wantEvent(t, aheadCh, f.write())
	if got := f.waitIndexes(); len(got) != 2 || got[0] != "11" || got[1] != "12" {
		t.Fatalf("waitIndexes asked: %q, want one poll from 11 then one from 12", got)
	}
}

func TestSharedWatcherThatFallsBehindAsksItself(t *testing.T) {
	f, c, kapi := watchFakeClient(t)
	ctx := context.Background()
	fast := kapi.Watcher("/w", &WatcherOptions{AfterIndex: 10})
	slow := kapi.Watcher("/w", &WatcherOptions{AfterIndex: 10})
	fch, sch := goNext(ctx, fast), goNext(ctx, slow)
	waitUntil(t, "both wait", func() bool { _, n := shareCounts(c); return n == 2 })
	first := f.write()
	wantEvent(t, fch, first)
	wantEvent(t, sch, first)
	// The slow watcher's consumer is busy: the fast one goes on alone,
	// with a second fast one joining, and is never held back.
	fast2 := kapi.Watcher("/w", &WatcherOptions{AfterIndex: first})
	const later = shareHistory + 5
	for range later {
		a, b := goNext(ctx, fast), goNext(ctx, fast2)
		waitUntil(t, "the fast watchers wait", func() bool { _, n := shareCounts(c); return n == 2 })
		i := f.write()
		wantEvent(t, a, i)
		wantEvent(t, b, i)
	}
	// Back, the slow one gets every event it missed, in order, once, then
	// rejoins the shared poll.
	for i := first + 1; i <= first+later; i++ {
		wantEvent(t, goNext(ctx, slow), i)
	}
	a, b := goNext(ctx, fast), goNext(ctx, slow)
	waitUntil(t, "fast and slow share again", func() bool { p, n := shareCounts(c); return p == 1 && n == 2 })
	i := f.write()
	wantEvent(t, a, i)
	wantEvent(t, b, i)
}

func TestSharedWatcherCancelEndsOnlyItsOwnWait(t *testing.T) {
	f, c, kapi := watchFakeClient(t)
	ctxs := make([]context.CancelFunc, 4)
	chs := make([]<-chan nextResult, 4)
	for i := range chs {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ctxs[i] = cancel
		chs[i] = goNext(ctx, kapi.Watcher("/w", &WatcherOptions{AfterIndex: 10}))
		// One at a time, so that the first leads the poll.
		waitUntil(t, "the watcher waits", func() bool { _, n := shareCounts(c); return n == i+1 })
	}
	// The leader and one other leave.
	for _, i := range []int{0, 2} {
		ctxs[i]()
		if r := <-chs[i]; !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled watcher %d: %+v, %v", i, r.resp, r.err)
		}
	}
	waitUntil(t, "two watchers wait", func() bool { _, n := shareCounts(c); return n == 2 })
	waitUntil(t, "one poll is open", func() bool { return f.open.Load() == 1 })
	i := f.write()
	wantEvent(t, chs[1], i)
	wantEvent(t, chs[3], i)
}

func TestSharedPollEndsWithItsLastWatcher(t *testing.T) {
	f, c, kapi := watchFakeClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	a := goNext(ctx, kapi.Watcher("/w", nil))
	b := goNext(ctx, kapi.Watcher("/w", nil))
	waitUntil(t, "both wait on one open poll", func() bool { _, n := shareCounts(c); return n == 2 && f.open.Load() == 1 })
	cancel()
	for _, ch := range []<-chan nextResult{a, b} {
		if r := <-ch; !errors.Is(r.err, context.Canceled) {
			t.Fatalf("Next = %+v, %v after its context ended", r.resp, r.err)
		}
	}
	waitUntil(t, "the poll is closed", func() bool { return f.open.Load() == 0 })
	if p, _ := shareCounts(c); p != 0 {
		t.Fatalf("%d shared polls left after their watchers left", p)
	}
}

func TestSharedPollErrorReachesEveryWatcher(t *testing.T) {
	f, c, kapi := watchFakeClient(t)
	f.floor = 8
	ctx := context.Background()
	var chs []<-chan nextResult
	for range 3 {
		chs = append(chs, goNext(ctx, kapi.Watcher("/w", &WatcherOptions{AfterIndex: 5})))
	}
	resync := goNext(ctx, kapi.Watcher("/w", &WatcherOptions{AfterIndex: 5, Resync: true}))
	for _, ch := range chs {
		if r := <-ch; !IsEventIndexCleared(r.err) {
			t.Fatalf("Next = %+v, %v; want the cleared-history error", r.resp, r.err)
		}
	}
	if r := <-resync; r.err != nil || r.resp.Action != ActionResync || r.resp.Index != 10 {
		t.Fatalf("resync watcher: %+v, %v; want a resync at 10", r.resp, r.err)
	}
	if p, _ := shareCounts(c); p != 0 {
		t.Fatalf("%d shared polls left after the error", p)
	}
}

func TestUnsharedWatchersPollAlone(t *testing.T) {
	f, c, kapi := watchFakeClient(t)
	ctx := context.Background()
	a := goNext(ctx, kapi.Watcher("/w", &WatcherOptions{AfterIndex: 10, Unshared: true}))
	b := goNext(ctx, kapi.Watcher("/w", &WatcherOptions{AfterIndex: 10, Unshared: true}))
	waitUntil(t, "two polls are open", func() bool { return f.open.Load() == 2 })
	if p, _ := shareCounts(c); p != 0 {
		t.Fatalf("%d shared polls for unshared watchers", p)
	}
	i := f.write()
	wantEvent(t, a, i)
	wantEvent(t, b, i)
}

func TestStreamWatchersShareOneStream(t *testing.T) {
	f, c, kapi := watchFakeClient(t)
	ctx := context.Background()
	opts := &WatcherOptions{AfterIndex: 10, Stream: true}
	a, b := kapi.Watcher("/w", opts), kapi.Watcher("/w", opts)
	poll := kapi.Watcher("/w", &WatcherOptions{AfterIndex: 10}) // not Stream: another poll
	ach, bch, pch := goNext(ctx, a), goNext(ctx, b), goNext(ctx, poll)
	waitUntil(t, "two shared requests with three watchers", func() bool {
		p, n := shareCounts(c)
		return p == 2 && n == 3 && f.open.Load() == 2
	})
	i := f.write()
	wantEvent(t, ach, i)
	wantEvent(t, bch, i)
	wantEvent(t, pch, i)
	if got := f.waitIndexes(); len(got) != 2 {
		t.Fatalf("%d requests for two stream watchers and a polling one, want 2", len(got))
	}
}

func TestFromNowWatcherDoesNotReadAnIdleSharedStream(t *testing.T) {
	f, c, kapi := watchFakeClient(t)
	ctx := context.Background()
	a := goNext(ctx, kapi.Watcher("/w", &WatcherOptions{AfterIndex: 10, Stream: true}))
	waitUntil(t, "the stream is open", func() bool { return f.open.Load() == 1 })
	wantEvent(t, a, f.write())
	// The stream stays open for its watcher's next Next; events in it may
	// be older than a new watcher's "now", which asks etcd itself.
	b := goNext(ctx, kapi.Watcher("/w", &WatcherOptions{Stream: true}))
	waitUntil(t, "the new watcher's own request", func() bool { return f.open.Load() == 1 && len(f.waitIndexes()) == 2 })
	if p, n := shareCounts(c); p != 1 || n != 0 {
		t.Fatalf("%d shared polls with %d watchers waiting, want the idle stream alone", p, n)
	}
	if got := f.waitIndexes()[1]; got != "" {
		t.Fatalf("the from-now watcher asked from %q, want from now", got)
	}
	wantEvent(t, b, f.write())
}
