package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goetcd "github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// The BenchmarkEtcd* benchmarks do a fixed amount of work per iteration
// against a real single-member etcd 3.5 (started with --unsafe-no-fsync by
// the harness, and with snapshots pushed out of the run so that none lands
// in the middle of one client's turn). Run them with -benchtime=1x.

// setClients are compared on Sets: the official client twice, on the tuned
// transport and on its own DefaultTransport; the v3 backend writes the v3
// store of the same member.
var setClients = []string{nameGoetcd, nameGoetcdV3, nameOfficial, nameOfficialDefault, nameRaw}

// setOps is how many Sets one iteration makes at each concurrency.
var setOps = map[int]int{1: 1000, 16: 4000, 64: 6000}

// watchWrites is how many sequential writes the watch latency is taken over.
const watchWrites = 2000

// watcherCount is how many watchers wait at once in BenchmarkEtcdWatchers.
const watcherCount = 1000

func startEtcd(b testing.TB) string {
	b.Helper()
	s := etcdtest.ServerFor(b, "3.5")
	c := etcdtest.StartCluster(b, s, 1, etcdtest.WithArgs("--snapshot-count=10000000"))
	return c.Endpoints()[0]
}

func runID() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

// BenchmarkEtcdSet makes Sets of distinct small keys from conc goroutines
// sharing one client. The clients take turns in slices of an eighth of
// their Sets, so that a burst of other work on the machine hits all of
// them alike; the sub-benchmarks then report each client's ops/s (Sets
// over the time its slices took), p50-us and p99-us (latency of one Set),
// conns (TCP connections its transport opened, all of them, from a fresh
// transport), cpu-ns/set (the process's CPU time in its slices per Set)
// and failed (Sets etcd answered with a 5xx, when the machine is so loaded
// that a proposal times out; they count as done).
func BenchmarkEtcdSet(b *testing.B) {
	ep := startEtcd(b)
	run := runID()
	// Warm-up, not measured: a fresh etcd (and process) is slower for its
	// first thousands of requests, which would cost whichever client runs
	// first.
	warm := newKV(b, nameRaw, ep)
	if _, _, err := runSets(warm, "/bench/warm/"+run+"/", 3000, 16); err != nil {
		b.Fatal(err)
	}
	warm.close()
	names := inOrder(setClients)
	const turns = 8
	type acc struct {
		lat       latencies
		busy, cpu time.Duration
		failed    int
		conns     int64
	}
	for _, conc := range []int{1, 16, 64} {
		kvs := map[string]kv{}
		res := map[string]*acc{}
		for _, name := range names {
			kvs[name] = newKV(b, name, ep)
			res[name] = &acc{}
		}
		per := setOps[conc] / turns
		for t := range turns {
			for _, name := range names {
				a := res[name]
				prefix := fmt.Sprintf("/bench/set/%s/%s/c%d/%d/", run, name, conc, t)
				cpu0, start := cpuTime(), time.Now()
				lat, errs, err := runSets(kvs[name], prefix, per, conc)
				a.busy += time.Since(start)
				a.cpu += cpuTime() - cpu0
				if errs == per {
					b.Fatalf("%s: every Set failed: %v", name, err)
				}
				if errs > 0 {
					b.Logf("%s c=%d: %d of %d Sets failed; the first: %v", name, conc, errs, per, err)
				}
				a.failed += errs
				a.lat = append(a.lat, lat...)
			}
		}
		for _, name := range names {
			res[name].conns = kvs[name].conns()
			kvs[name].close()
		}
		for _, name := range names {
			a := res[name]
			n := float64(turns * per)
			reportAs(b, fmt.Sprintf("c=%d/client=%s", conc, name),
				metric{float64(a.failed), "failed"},
				metric{n / a.busy.Seconds(), "ops/s"},
				metric{micros(a.lat.percentile(0.50)), "p50-us"},
				metric{micros(a.lat.percentile(0.99)), "p99-us"},
				metric{float64(a.conns), "conns"},
				metric{float64(a.cpu.Nanoseconds()) / n, "cpu-ns/set"})
		}
	}
}

// runSets makes ops Sets under prefix from conc goroutines and returns the
// latency of each that succeeded, how many failed and the first error.
func runSets(c kv, prefix string, ops, conc int) (latencies, int, error) {
	lat := make(latencies, ops)
	ok := make([]bool, ops)
	var next, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	ctx := context.Background()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= ops {
					return
				}
				key := prefix + strconv.Itoa(i)
				t0 := time.Now()
				if _, err := c.set(ctx, key, "value-"+strconv.Itoa(i)); err != nil {
					err = fmt.Errorf("set %s: %w", key, err)
					firstErr.CompareAndSwap(nil, &err)
					failed.Add(1)
					continue
				}
				lat[i], ok[i] = time.Since(t0), true
			}
		})
	}
	wg.Wait()
	var err error
	if p := firstErr.Load(); p != nil {
		err = *p
	}
	done := lat[:0]
	for i, d := range lat {
		if ok[i] {
			done = append(done, d)
		}
	}
	return done, int(failed.Load()), err
}

// watchClients are compared on watches. The official client's transport
// settings do not matter for one long poll per watcher, so only the tuned
// variant runs; goetcd runs twice, long-polling (its default, as the
// official client does) and with WatcherOptions.Stream. The bare reader
// is the yardstick no client can beat.
var watchClients = []string{nameGoetcd, nameGoetcd + "-stream", nameOfficial, nameRaw, nameBare}

// BenchmarkEtcdWatchLatency gives each client a watcher of its own key and
// writes the keys in turn, 2,000 times each, each write after the previous
// event arrived: the write-to-event time is from the start of the write
// (made by a separate raw client, the same for all) to the watcher's Next
// returning the event. Taking turns write by write, the clients meet the
// same machine.
func BenchmarkEtcdWatchLatency(b *testing.B) {
	ep := startEtcd(b)
	run := runID()
	writer := newKV(b, nameRaw, ep)
	defer writer.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	names := inOrder(watchClients)
	type watch struct {
		key    string
		events chan event
		lat    latencies
	}
	ws := map[string]*watch{}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, name := range append([]string{"warm-up"}, names...) {
		client := name
		if name == "warm-up" {
			client = nameRaw
		}
		w := &watch{key: fmt.Sprintf("/bench/watch/%s/%s", run, name), events: make(chan event, 16)}
		ws[name] = w
		first, err := writer.set(ctx, w.key, "start")
		if err != nil {
			b.Fatal(err)
		}
		var next watchNext
		if client == nameBare {
			next = bareWatcher(ep, w.key, first)
		} else {
			c := newWatchKV(b, client, ep)
			defer c.close()
			next = c.watcher(w.key, first, false)
		}
		wg.Go(func() {
			for {
				idx, err := next(ctx)
				select {
				case w.events <- event{idx, time.Now(), err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		})
	}
	write := func(w *watch, i int) time.Duration {
		t0 := time.Now()
		idx, err := writer.set(ctx, w.key, "v"+strconv.Itoa(i))
		if err != nil {
			b.Fatal(err)
		}
		for {
			select {
			case ev := <-w.events:
				if ev.err != nil {
					b.Fatal(ev.err)
				}
				if ev.index < idx {
					continue
				}
				if ev.index > idx {
					b.Fatalf("event %d, want %d", ev.index, idx)
				}
				return ev.at.Sub(t0)
			case <-time.After(10 * time.Second):
				b.Fatalf("no event for write %d (index %d)", i, idx)
			}
		}
	}
	// Warm-up, not measured (see BenchmarkEtcdSet).
	for i := range 500 {
		write(ws["warm-up"], i)
	}
	for i := range watchWrites * len(names) {
		w := ws[names[i%len(names)]]
		w.lat = append(w.lat, write(w, i))
	}
	for _, name := range names {
		w := ws[name]
		reportAs(b, "client="+name,
			metric{micros(w.lat.percentile(0.50)), "p50-us"},
			metric{micros(w.lat.percentile(0.99)), "p99-us"})
	}
}

type event struct {
	index uint64
	at    time.Time
	err   error
}

// watcherClients are compared on many waiting watchers.
var watcherClients = []string{nameGoetcd, nameOfficial, nameRaw}

// BenchmarkEtcdWatchers starts 1,000 watchers of one key on one client and,
// once etcd counts all of them (goetcd's share one long poll), measures what they hold: goroutines, heap
// (after collection) and goroutine stacks (once collections no longer
// shrink them), each above what the process had before. Then one write wakes all of them; fanout-ms is the time until the
// last one had its event.
func BenchmarkEtcdWatchers(b *testing.B) {
	ep := startEtcd(b)
	run := runID()
	writer := newKV(b, nameRaw, ep)
	defer writer.close()
	for _, name := range inOrder(watcherClients) {
		b.Run("client="+name, func(b *testing.B) {
			for it := range b.N {
				key := fmt.Sprintf("/bench/watchers/%s/%s/%d", run, name, it)
				m, err := watchers(b, writer, name, ep, key)
				if err != nil {
					b.Fatal(err)
				}
				if it == b.N-1 {
					reportHeld(b, m.goroutines, m.heap, m.stacks, m.conns)
					b.ReportMetric(float64(m.fanout)/float64(time.Millisecond), "fanout-ms")
				}
			}
		})
	}
}

type watchersCost struct {
	goroutines   int
	heap, stacks uint64
	conns        int64
	fanout       time.Duration
}

const stacksMetric = "/memory/classes/heap/stacks:bytes"

func watchers(b *testing.B, writer kv, name, ep, key string) (watchersCost, error) {
	var m watchersCost
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := writer.set(ctx, key, "start")
	if err != nil {
		return m, err
	}
	base, err := etcdWatchers(ctx, ep)
	if err != nil {
		return m, err
	}
	g0 := runtime.NumGoroutine()
	h0 := settledHeap()
	s0 := settledStacks()

	c := newWatchKV(b, name, ep)
	defer c.close()
	got := make(chan error, watcherCount)
	var wg sync.WaitGroup
	for range watcherCount {
		next := c.watcher(key, first, false)
		wg.Go(func() {
			_, err := next(ctx)
			got <- err
		})
	}
	// goetcd's watchers of one key share one long poll.
	want := watcherCount
	if name == nameGoetcd {
		want = 1
	}
	if _, err := awaitPolls(ctx, ep, base+want, 60*time.Second, c); err != nil {
		return m, err
	}
	m.goroutines, m.heap, m.stacks = heldSince(g0, h0, s0)
	m.conns = c.conns()

	t0 := time.Now()
	if _, err := writer.set(ctx, key, "wake"); err != nil {
		return m, err
	}
	for range watcherCount {
		select {
		case err := <-got:
			if err != nil {
				return m, err
			}
		case <-time.After(30 * time.Second):
			return m, fmt.Errorf("not every watcher had its event")
		}
	}
	m.fanout = time.Since(t0)
	wg.Wait()
	return m, nil
}

// awaitPolls waits until etcd holds at least want v2 watchers (long polls)
// and returns how many it holds; after limit it fails, with the member
// health of c when c is goetcd.
func awaitPolls(ctx context.Context, ep string, want int, limit time.Duration, c kv) (int, error) {
	deadline := time.Now().Add(limit)
	for {
		n, err := etcdWatchers(ctx, ep)
		if err != nil || n >= want {
			return n, err
		}
		if time.Now().After(deadline) {
			err := fmt.Errorf("etcd holds %d long polls, want %d", n, want)
			if g, ok := c.(*goetcdKV); ok {
				err = fmt.Errorf("%w; member health: %+v", err, goetcd.EndpointsHealth(g.c))
			}
			return n, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reportHeld reports what waiting watchers hold: goroutines, heap, stacks,
// both together and the TCP connections opened.
func reportHeld(b *testing.B, goroutines int, heap, stacks uint64, conns int64) {
	b.ReportMetric(float64(goroutines), "goroutines")
	b.ReportMetric(mebibytes(heap), "heap-MiB")
	b.ReportMetric(mebibytes(stacks), "stacks-MiB")
	b.ReportMetric(mebibytes(heap+stacks), "mem-MiB")
	b.ReportMetric(float64(conns), "conns")
}

// heldSince returns the goroutines, heap (after collection) and goroutine
// stacks (once collections no longer shrink them) above g0, h0 and s0.
func heldSince(g0 int, h0, s0 uint64) (goroutines int, heap, stacks uint64) {
	goroutines = runtime.NumGoroutine() - g0
	h1 := settledHeap()
	s1 := settledStacks()
	return goroutines, h1 - min(h0, h1), s1 - min(s0, s1)
}

// etcdWatchers asks etcd how many v2 watchers it holds.
func etcdWatchers(ctx context.Context, ep string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/v2/stats/store", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var s struct {
		Watchers int `json:"watchers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return 0, err
	}
	return s.Watchers, nil
}
