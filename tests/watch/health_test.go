package watch

import (
	"context"
	"fmt"
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
	s := etcdtest.ServerFor(t, "3.5")
	cl := etcdtest.StartCluster(t, s, 3)
	eps := cl.Endpoints()
	victim := (cl.LeaderIndex() + 1) % len(eps)
	var others []string
	for i, ep := range eps {
		if i != victim {
			others = append(others, ep)
		}
	}
	wc, wtr := clienttest.New(t, eps, client.Config{})
	pinTo(t, wc, eps, eps[victim])
	writerC, _ := clienttest.New(t, others, client.Config{})
	writer := client.NewKeysAPI(writerC)
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
	waitFor(t, "every watcher's event", func() bool { return delivered.Load() >= watchers })
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
