package watch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// quietFor is how long the thousand watchers wait on quiet keys while the
// probes of their member are counted.
const quietFor = 60 * time.Second

// TestThousandWatchersShareTheProbes: 1,000 watchers of one client (default
// Config and options) wait on quiet keys of a 3-member etcd 3.5.35 cluster
// for a minute. Member health probes the member they wait on at most once a
// second however many wait, and sends nothing to the others. Then that
// member is frozen (SIGSTOP) and every key is written through the others:
// all 1,000 watchers must move off it and deliver their event.
func TestThousandWatchersShareTheProbes(t *testing.T) {
	const watchers = 1000
	f := newFrozenFollower(t, etcdtest.ServerFor(t, "3.5"))
	cl, eps, victim, wc, wtr, writer := f.cl, f.eps, f.victim, f.watch, f.watchTr, f.writer
	seed, err := writer.Set(t.Context(), "/quiet/seed", "s", nil)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kapi := client.NewKeysAPI(wc)
	var delivered atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for i := range watchers {
		key := fmt.Sprintf("/quiet/k%04d", i)
		wch := client.WatchChan(ctx, kapi, key, &client.WatcherOptions{AfterIndex: seed.Index})
		wg.Go(func() {
			for r := range wch.C {
				if r.Node == nil || r.Node.Key != key || r.Node.Value != "v" {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%s got %+v", key, r))
					mu.Unlock()
				}
				delivered.Add(1)
			}
		})
	}
	probesOf := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, h := range client.EndpointsHealth(wc) {
			out[h.Endpoint] = h.Probes
		}
		return out
	}
	before := probesOf()
	quiet := time.NewTimer(quietFor)
	<-quiet.C
	after := probesOf()
	for _, ep := range eps {
		n := after[ep] - before[ep]
		t.Logf("%s: %d probes in %v with %d watchers waiting (member %s)", ep, n, quietFor, watchers, map[bool]string{true: "watched", false: "not watched"}[ep == eps[victim]])
		limit := uint64(quietFor/time.Second) + 5
		if ep != eps[victim] {
			limit = 0
		}
		if n > limit {
			t.Errorf("%s was probed %d times in %v, want at most %d", ep, n, quietFor, limit)
		}
	}
	if delivered.Load() != 0 {
		t.Fatalf("%d events on quiet keys", delivered.Load())
	}

	paused := time.Now()
	cl.Pause(victim)
	defer cl.Resume(victim)
	for i := range watchers {
		if _, err := writer.Set(t.Context(), fmt.Sprintf("/quiet/k%04d", i), "v", nil); err != nil {
			t.Fatal(err)
		}
	}
	etcdtest.WaitFor(t, "every watcher's event", func() bool { return delivered.Load() >= watchers })
	moved := time.Since(paused)
	cancel()
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d wrong events; first: %s", len(bad), bad[0])
	}
	if delivered.Load() != watchers {
		t.Errorf("%d events delivered, want %d (one per watcher)", delivered.Load(), watchers)
	}
	for _, h := range client.EndpointsHealth(wc) {
		t.Logf("health after the freeze: %s %s (%s)", h.Endpoint, h.State, h.Reason)
	}
	t.Logf("member frozen: all %d watchers moved off it and delivered their event %v after the freeze; %d exchanges validated",
		watchers, moved.Round(time.Millisecond), wtr.Exchanges())
}

// writeRate is the pace of the writes that go on through the other members
// while the watched member is frozen (a write slower than its turn makes
// the real rate lower; the test wants at least 250 a second, 100 on the v3
// backend).
const writeRate = 400

// TestRecursiveWatchThroughAFreeze: recursive watchers (sharingWatchers
// long-polling ones, which share one long poll, and as many with Stream,
// which share one stream) of a client with the default Config and options
// are served by
// a member that is SIGSTOPped for 8 s while 32 writers make writeRate writes
// a second through the other two members. Every acknowledged write must be delivered once and
// in order, with no resync, and the first event after the freeze within
// 3 s of it. It runs on every backend.
func TestRecursiveWatchThroughAFreeze(t *testing.T) {
	for _, s := range clienttest.Backends(t) {
		t.Run(s.String(), func(t *testing.T) {
			f := newFrozen(t, s)
			cl, victim, writer := f.cl, f.victim, f.writer
			seed, err := writer.Set(t.Context(), "/freeze/seed", "s", nil)
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			type delivery struct {
				index uint64
				at    time.Time
			}
			var names []string
			var streams []bool
			for i := 1; i <= sharingWatchers; i++ {
				names = append(names, fmt.Sprintf("poll#%d", i), fmt.Sprintf("stream#%d", i))
				streams = append(streams, false, true)
			}
			got := make([][]delivery, len(names))
			var mu sync.Mutex
			errs := make([]error, len(names))
			var watchers sync.WaitGroup
			for i, stream := range streams {
				w := f.kapi.Watcher("/freeze", &client.WatcherOptions{AfterIndex: seed.Index, Recursive: true, Stream: stream})
				watchers.Go(func() {
					for {
						r, err := w.Next(ctx)
						if err != nil {
							if ctx.Err() == nil {
								errs[i] = err
							}
							return
						}
						mu.Lock()
						got[i] = append(got[i], delivery{r.Node.ModifiedIndex, time.Now()})
						mu.Unlock()
					}
				})
			}

			var acked sync.Map
			var writes atomic.Int64
			stop := make(chan struct{})
			var writers sync.WaitGroup
			const writerCount = 32
			for g := range writerCount {
				writers.Go(func() {
					pace := time.NewTicker(writerCount * time.Second / writeRate)
					defer pace.Stop()
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						case <-pace.C:
						}
						r, err := writer.Set(t.Context(), fmt.Sprintf("/freeze/g%d/k%d", g, n%50), fmt.Sprint(n), nil)
						if err != nil {
							t.Errorf("write: %v", err)
							return
						}
						acked.Store(r.Node.ModifiedIndex, true)
						writes.Add(1)
					}
				})
			}
			phase := time.NewTimer(2 * time.Second)
			<-phase.C
			paused := time.Now()
			before := writes.Load()
			cl.Pause(victim)
			phase.Reset(8 * time.Second)
			<-phase.C
			during := writes.Load() - before
			cl.Resume(victim)
			phase.Reset(time.Second)
			<-phase.C
			close(stop)
			writers.Wait()
			var want []uint64
			acked.Range(func(k, _ any) bool { want = append(want, k.(uint64)); return true })
			slices.Sort(want)
			last := want[len(want)-1]
			etcdtest.WaitFor(t, "the watchers to deliver the last write", func() bool {
				mu.Lock()
				defer mu.Unlock()
				for i := range got {
					if errs[i] != nil {
						return true
					}
					if n := len(got[i]); n == 0 || got[i][n-1].index < last {
						return false
					}
				}
				return true
			})
			cancel()
			watchers.Wait()
			rate := float64(during) / 8
			minRate := 250.0
			if s.V3 {
				// A v3 set of an existing key is a read and a guarded
				// transaction: fewer keep up on a busy machine.
				minRate = 100
			}
			if rate < minRate {
				t.Errorf("only %.0f writes/s went through during the freeze; the test wants at least %.0f", rate, minRate)
			}
			for i, name := range names {
				if errs[i] != nil {
					t.Fatalf("%s watcher ended: %v", name, errs[i])
				}
				var idx []uint64
				var firstAfter time.Duration = -1
				for _, d := range got[i] {
					idx = append(idx, d.index)
					if firstAfter < 0 && d.at.After(paused) {
						firstAfter = d.at.Sub(paused)
					}
				}
				if !slices.IsSorted(idx) || len(slices.Compact(slices.Clone(idx))) != len(idx) {
					t.Errorf("%s watcher: indexes not strictly increasing", name)
				}
				seen := map[uint64]bool{}
				for _, x := range idx {
					seen[x] = true
				}
				missing := 0
				for _, x := range want {
					if !seen[x] {
						missing++
					}
				}
				if missing > 0 {
					t.Errorf("%s watcher: %d of %d acknowledged writes never delivered", name, missing, len(want))
				}
				if firstAfter > 3*time.Second {
					t.Errorf("%s watcher: first event after the freeze %v after it, want at most 3s", name, firstAfter)
				}
				t.Logf("%s %s watcher (default options): %d writes (%.0f/s during the 8 s freeze) delivered once, in order, no resync; first event after the freeze %v after it",
					s, name, len(want), rate, firstAfter.Round(time.Millisecond))
			}
			t.Logf("%s: %d watch exchanges validated", s, f.exchanges())
		})
	}
}
