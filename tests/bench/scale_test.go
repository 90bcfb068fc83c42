package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scaleWatchers is how many watchers one client runs in
// BenchmarkEtcdWatchScale, spread evenly over the keys of each layout: 10
// keys (1,000 watchers on each, which goetcd's watchers share) and 10,000
// keys (one watcher each: nothing to share).
const scaleWatchers = 10000

var scaleLayouts = []int{10000, 10}

// scaleTimed is how many keys are written one at a time, each after every
// watcher of the previous one had its event, for the wake-up times and
// latencies; the keys after them are written by 16 writers at once.
const scaleTimed = 500

// BenchmarkEtcdWatchScale starts 10,000 watchers on one client, on 10 keys
// and on 10,000 keys, from the same index, each calling Next in a loop in a
// goroutine of its own. Once etcd holds their long polls, it measures what
// they hold above what the process had before: goroutines, heap (after
// collection), goroutine stacks (once collections no longer shrink them),
// the TCP connections the client opened and the long polls etcd holds
// (polls). Then every key is written once: the first scaleTimed keys one
// at a time, the time from the start of the write to each watcher's event
// giving p50-us and p99-us, and the time until the last watcher of the key
// had it wake-ms (the median over those keys); the rest of the keys at once.
// Every watcher must see the event of its key, once, with its index: the
// benchmark fails otherwise.
func BenchmarkEtcdWatchScale(b *testing.B) {
	run := runID()
	for _, keys := range scaleLayouts {
		for _, name := range inOrder(watcherClients) {
			b.Run(fmt.Sprintf("keys=%d/client=%s", keys, name), func(b *testing.B) {
				// An etcd of its own: etcd drops the 10,000 long polls of
				// the client before only as it gets to their closed
				// connections, some of which it accepts only then.
				ep := startEtcd(b)
				writer := newKV(b, nameRaw, ep)
				defer writer.close()
				for it := range b.N {
					prefix := fmt.Sprintf("/bench/scale/%s/%s/%d/%d", run, name, keys, it)
					m, err := watchScale(b, writer, name, ep, prefix, keys)
					if err != nil {
						b.Fatal(err)
					}
					if it == b.N-1 {
						reportHeld(b, m.goroutines, m.heap, m.stacks, m.conns)
						b.ReportMetric(float64(m.polls), "polls")
						b.ReportMetric(float64(m.wake)/float64(time.Millisecond), "wake-ms")
						b.ReportMetric(micros(m.p50), "p50-us")
						b.ReportMetric(micros(m.p99), "p99-us")
					}
				}
			})
		}
	}
}

type scaleCost struct {
	goroutines   int
	heap, stacks uint64
	conns        int64
	polls        int
	wake         time.Duration
	p50, p99     time.Duration
}

// scaleWatcher is what one watcher's goroutine records.
type scaleWatcher struct {
	events atomic.Int32
	index  atomic.Uint64 // of the last event
	at     atomic.Int64  // when the first event arrived, Unix ns
	err    atomic.Pointer[error]
}

func watchScale(b *testing.B, writer kv, name, ep, prefix string, keys int) (scaleCost, error) {
	var m scaleCost
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	key := func(k int) string { return fmt.Sprintf("%s/k%05d", prefix, k) }
	first, err := writer.set(ctx, prefix+"/start", "s")
	if err != nil {
		return m, err
	}
	base, err := etcdWatchers(ctx, ep)
	if err != nil {
		return m, err
	}
	ws := make([]scaleWatcher, scaleWatchers)
	// left[k] counts the watchers of key k still without their event; the
	// last to have it closes woken[k].
	left := make([]atomic.Int32, keys)
	woken := make([]chan struct{}, keys)
	for k := range keys {
		left[k].Store(int32(scaleWatchers / keys))
		woken[k] = make(chan struct{})
	}
	g0 := runtime.NumGoroutine()
	h0 := settledHeap()
	s0 := settledStacks()

	c := newWatchKV(b, name, ep)
	defer c.close()
	for i := range scaleWatchers {
		k := i % keys
		next := c.watcher(key(k), first, false)
		w := &ws[i]
		wg.Go(func() {
			for {
				idx, err := next(ctx)
				if err != nil {
					if ctx.Err() == nil {
						w.err.Store(&err)
					}
					return
				}
				w.index.Store(idx)
				if w.events.Add(1) == 1 {
					w.at.Store(time.Now().UnixNano())
					if left[k].Add(-1) == 0 {
						close(woken[k])
					}
				}
			}
		})
	}
	// goetcd's watchers of one key wait on one long poll.
	want := scaleWatchers
	if name == nameGoetcd {
		want = min(keys, scaleWatchers)
	}
	n, err := awaitPolls(ctx, ep, base+want, 90*time.Second, c)
	if err != nil {
		return m, err
	}
	m.goroutines, m.heap, m.stacks = heldSince(g0, h0, s0)
	m.conns = c.conns()
	m.polls = n - base

	written := make([]uint64, keys)
	var lat latencies
	var wakes []time.Duration
	timed := min(keys, scaleTimed)
	for k := range timed {
		t0 := time.Now()
		idx, err := writer.set(ctx, key(k), "v")
		if err != nil {
			return m, err
		}
		written[k] = idx
		select {
		case <-woken[k]:
		case <-time.After(30 * time.Second):
			return m, fmt.Errorf("%s: %d watchers of %s had no event in 30 s", name, left[k].Load(), key(k))
		}
		var last time.Duration
		for i := k; i < scaleWatchers; i += keys {
			d := time.Duration(ws[i].at.Load() - t0.UnixNano())
			lat = append(lat, d)
			last = max(last, d)
		}
		wakes = append(wakes, last)
	}
	var next atomic.Int64
	next.Store(int64(timed))
	var writers sync.WaitGroup
	var werr atomic.Pointer[error]
	for range 16 {
		writers.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= keys {
					return
				}
				idx, err := writer.set(ctx, key(k), "v")
				if err != nil {
					werr.CompareAndSwap(nil, &err)
					return
				}
				written[k] = idx
			}
		})
	}
	writers.Wait()
	if p := werr.Load(); p != nil {
		return m, *p
	}
	for k := timed; k < keys; k++ {
		select {
		case <-woken[k]:
		case <-time.After(30 * time.Second):
			return m, fmt.Errorf("%s: %d watchers of %s had no event in 30 s", name, left[k].Load(), key(k))
		}
	}
	for i := range ws {
		w := &ws[i]
		if p := w.err.Load(); p != nil {
			return m, fmt.Errorf("%s: watcher %d: %w", name, i, *p)
		}
		if n, idx, want := w.events.Load(), w.index.Load(), written[i%keys]; n != 1 || idx != want {
			return m, fmt.Errorf("%s: watcher %d of %s saw %d events, the last at %d; want one, at %d", name, i, key(i%keys), n, idx, want)
		}
	}
	slices.Sort(wakes)
	m.wake = wakes[len(wakes)/2]
	m.p50, m.p99 = lat.percentile(0.50), lat.percentile(0.99)
	return m, nil
}
