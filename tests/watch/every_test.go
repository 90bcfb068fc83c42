package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// eventsPerSeries is how many writes each series gets: the watched key gets
// this many, and so do the children of the watched directory.
const eventsPerSeries = 5000

// maxLead is how far (in store indexes) the writers may run ahead of the
// slowest watcher. The server keeps the last 1000 events of the whole store;
// a watcher more than 1000 behind would get errorCode 401, which is a race
// between writer and watcher, not a property of the client. Half the window
// leaves room for the writes in flight.
const maxLead = 500

// dirChildren is how many children of the watched directory the directory
// series writes to, in turn.
const dirChildren = 16

// write is one acknowledged write: what a watcher of its series must see.
type write struct {
	action, key, value string
	index              uint64
}

func (w write) String() string {
	return fmt.Sprintf("%s %s=%s @%d", w.action, w.key, w.value, w.index)
}

// series is a run of writes by one writer goroutine and what its watchers
// watch: one key, or a directory recursively.
type series struct {
	name      string
	watchKey  string
	recursive bool
	writes    int     // how many writes the writer makes
	acked     []write // in write order; guarded by pacer.mu
	done      bool    // its writer has finished; guarded by pacer.mu
}

// watchRun is one watcher following a series until it has seen every write.
type watchRun struct {
	name   string
	s      *series
	stream bool

	// Guarded by pacer.mu.
	delivered int
	last      uint64 // index of the last event delivered

	events []write // owned by the watcher goroutine until it ends
	times  []time.Time
	err    error
}

// pacer holds the writers back while the slowest watcher is maxLead indexes
// behind, so that the test checks the watcher's delivery (every event, once,
// in order) and not whether it can outrun the history window.
type pacer struct {
	mu       sync.Mutex
	cond     *sync.Cond
	maxAcked uint64
	watchers []*watchRun

	pauses   int
	paused   time.Duration
	maxSeen  uint64 // the largest lead a writer saw when it was let go
	ackedAll int
}

func newPacer(start uint64, watchers []*watchRun) *pacer {
	p := &pacer{maxAcked: start, watchers: watchers}
	p.cond = sync.NewCond(&p.mu)
	for _, w := range watchers {
		w.last = start
	}
	return p
}

// mayWrite reports whether the writer of s may write now. A watcher that is
// maxLead behind holds every writer back, except the writer of its own series
// once it has delivered everything acknowledged so far: then only a write to
// its series moves it on (the other writer ran ahead), so that writer must
// go. Two caught-up watchers cannot both be maxLead behind, because the
// latest write belongs to one of them, so the writers never deadlock. A
// watcher whose series is finished and fully delivered holds no one: nothing
// will ever move it on, and it asks the server for nothing more.
func (p *pacer) mayWrite(s *series) bool {
	for _, w := range p.watchers {
		if p.maxAcked-w.last < maxLead {
			continue
		}
		if w.delivered >= len(w.s.acked) && (w.s == s || w.s.done) {
			continue
		}
		return false
	}
	return true
}

// finish records that the writer of s has written its last value.
func (p *pacer) finish(s *series) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.done = true
	p.cond.Broadcast()
}

// wait blocks the writer of s until it may write.
func (p *pacer) wait(ctx context.Context, s *series) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	var since time.Time
	for !p.mayWrite(s) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if since.IsZero() {
			since = time.Now()
			p.pauses++
		}
		p.cond.Wait()
	}
	if !since.IsZero() {
		p.paused += time.Since(since)
	}
	for _, w := range p.watchers {
		p.maxSeen = max(p.maxSeen, p.maxAcked-w.last)
	}
	return nil
}

func (p *pacer) ack(s *series, w write) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.acked = append(s.acked, w)
	p.maxAcked = max(p.maxAcked, w.index)
	p.ackedAll++
}

func (p *pacer) delivered(w *watchRun, index uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.delivered++
	w.last = index
	p.cond.Broadcast()
}

func (p *pacer) acked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ackedAll
}

// writeExactlyOnce writes value to key as a create (prevIndex 0) or a
// compare-and-swap on prevIndex, and retries it until it is known to be
// applied. The precondition makes a retry harmless: of all attempts, at most
// one can apply. When an attempt is refused because its precondition no
// longer holds, an earlier attempt (whose answer was lost to the fault) did
// apply, and a quorum read of the key says at which index. Only one
// goroutine writes each key, so the key holds that write until the next.
func writeExactlyOnce(ctx context.Context, kapi client.KeysAPI, key, value string, prevIndex uint64) (write, int, error) {
	opts := &client.SetOptions{PrevExist: client.PrevNoExist}
	action := "create"
	if prevIndex > 0 {
		opts = &client.SetOptions{PrevIndex: prevIndex}
		action = "compareAndSwap"
	}
	retries := 0
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := kapi.Set(cctx, key, value, opts)
		cancel()
		if err == nil {
			return write{action, key, value, resp.Node.ModifiedIndex}, retries, nil
		}
		if ctx.Err() != nil {
			return write{}, retries, ctx.Err()
		}
		var e client.Error
		if errors.As(err, &e) {
			if (e.Code != client.ErrorCodeTestFailed && e.Code != client.ErrorCodeNodeExist) || retries == 0 {
				return write{}, retries, fmt.Errorf("%s %s=%s: %w", action, key, value, err)
			}
			r, gerr := kapi.Get(ctx, key, &client.GetOptions{Quorum: true})
			if gerr == nil {
				if r.Node.Value != value {
					return write{}, retries, fmt.Errorf("%s %s=%s refused (%v) after a lost answer, but the key holds %q", action, key, value, err, r.Node.Value)
				}
				return write{action, key, value, r.Node.ModifiedIndex}, retries, nil
			}
		}
		retries++
		if retries > 100 {
			return write{}, retries, fmt.Errorf("%s %s=%s: still failing after %d attempts: %w", action, key, value, retries, err)
		}
		select {
		case <-ctx.Done():
			return write{}, retries, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// runWriter writes s.writes values to s: to the key itself, or in turn to
// dirChildren children of the directory.
func runWriter(ctx context.Context, kapi client.KeysAPI, p *pacer, s *series, retries *int) error {
	prev := map[string]uint64{}
	for i := range s.writes {
		key := s.watchKey
		if s.recursive {
			key = fmt.Sprintf("%s/c%02d", s.watchKey, i%dirChildren)
		}
		if err := p.wait(ctx, s); err != nil {
			return err
		}
		w, n, err := writeExactlyOnce(ctx, kapi, key, fmt.Sprintf("%s-%05d", s.name, i), prev[key])
		*retries += n
		if err != nil {
			return err
		}
		prev[key] = w.index
		p.ack(s, w)
	}
	p.finish(s)
	return nil
}

// run follows the series until the watcher has delivered want events.
func (w *watchRun) run(ctx context.Context, kapi client.KeysAPI, p *pacer, after uint64, want int) {
	wt := kapi.Watcher(w.s.watchKey, &client.WatcherOptions{AfterIndex: after, Recursive: w.s.recursive, Stream: w.stream})
	for len(w.events) < want {
		resp, err := wt.Next(ctx)
		if err != nil {
			w.err = err
			return
		}
		if resp.Node == nil {
			w.err = fmt.Errorf("event %d (%s) has no node", len(w.events), resp.Action)
			return
		}
		w.events = append(w.events, write{resp.Action, resp.Node.Key, resp.Node.Value, resp.Node.ModifiedIndex})
		w.times = append(w.times, time.Now())
		p.delivered(w, resp.Node.ModifiedIndex)
	}
}

// checkEvents compares what a watcher delivered with the acknowledged writes
// of its series: the same events, in the same order, each once.
func checkEvents(t *testing.T, w *watchRun) {
	t.Helper()
	got, want := w.events, w.s.acked
	var dups, backwards int
	for i := 1; i < len(got); i++ {
		switch {
		case got[i].index == got[i-1].index:
			dups++
		case got[i].index < got[i-1].index:
			backwards++
		}
	}
	if dups > 0 || backwards > 0 {
		t.Errorf("%s: %d duplicate and %d out-of-order events among %d", w.name, dups, backwards, len(got))
	}
	if len(got) != len(want) {
		t.Errorf("%s: delivered %d events, %d writes were acknowledged", w.name, len(got), len(want))
	}
	bad := 0
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			if bad < 5 {
				t.Errorf("%s: event %d is %v, want %v", w.name, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d events differ from the writes", w.name, bad, min(len(got), len(want)))
	}
}

// TestEveryEventInOrder makes 5,000 writes to a key and 5,000 to children of
// a directory on a 1-member cluster, and has four watchers follow them: the
// key and the directory (recursively), each by long polling and by
// streaming. Each must deliver every acknowledged write, once, in order, with
// its value, action and modifiedIndex. It runs on every backend (the v3
// backend with fewer writes, see seriesOf).
func TestEveryEventInOrder(t *testing.T) {
	for _, b := range clienttest.Backends(t) {
		t.Run(b.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, b.Server, 1)
			setup, writes := seriesOf(b)
			runSeries(t, cl, noKill, setup, writes)
		})
	}
}

// TestEveryEventMemberKilled is TestEveryEventInOrder on a 3-member cluster
// whose member serving the watches (both watch clients are pinned to it) is
// SIGKILLed when half the writes are done: the leader on 3.5 and 3.6, a
// follower on 3.4. The watches must move to another member and go on from
// their last event without losing or repeating one. Writes use
// preconditions and are retried until known to be applied, so a write
// whose answer the kill lost is never applied twice: the watchers'
// expectations stay exact.
func TestEveryEventMemberKilled(t *testing.T) {
	for _, b := range clienttest.Backends(t) {
		t.Run(b.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, b.Server, 3)
			setup, writes := seriesOf(b)
			mode := killLeader
			if strings.HasPrefix(b.Server.Version, "3.4") {
				mode = killFollower
			}
			runSeries(t, cl, mode, setup, writes)
		})
	}
}

// seriesOf gives runSeries the clients of backend b and the writes of each
// series.
func seriesOf(b clienttest.Backend) (func(*testing.T, *etcdtest.Cluster, int) watches, int) {
	if b.V3 {
		return v3Watches, v3Writes
	}
	return v2Watches, eventsPerSeries
}

// killMode says whether runSeries kills the member serving the watches, and
// which member that is.
type killMode int

const (
	noKill killMode = iota
	killLeader
	killFollower
)

// watches is what runSeries needs of a backend: a writer, the KeysAPIs of
// the polling and the streaming watchers, both sending to the member the
// kill hits, and ways to see where they send.
type watches struct {
	writer, poll, stream client.KeysAPI
	// held is how many watches that member holds now.
	held func() int
	// serving lists the members the two watch clients send to now.
	serving func() []string
	// exchanges counts the requests of the writer and the two watch clients.
	exchanges func() [3]int
	// sharing is how many polling watchers of each series wait on one
	// shared long poll, and how many streaming ones on one shared stream
	// (0: the backend does not share).
	sharing int
}

// sharingWatchers is how many polling (and streaming) watchers of each
// series the v2 clients run: they share one long poll (one stream), and
// each must still see every event.
const sharingWatchers = 3

// v2Watches makes the v2 clients of runSeries, the watch clients pinned to
// eps[victim].
func v2Watches(t *testing.T, cl *etcdtest.Cluster, victim int) watches {
	eps := cl.Endpoints()
	wc, wtr := clienttest.New(t, eps, client.Config{HeaderTimeoutPerRequest: 2 * time.Second})
	// The watch clients have no header timeout: the contract transport reads
	// a long poll's whole answer before handing back its headers, so the
	// timeout would bound the wait for the event. A killed member closes its
	// connections at once; no timeout is needed to notice.
	pollClient, pollTr := clienttest.New(t, eps, client.Config{})
	streamClient, streamTr := clienttest.New(t, eps, client.Config{})
	// Both watch clients talk to the same member, the one the kill hits.
	pinTo(t, pollClient, eps, eps[victim])
	pinTo(t, streamClient, eps, eps[victim])
	return watches{
		writer: client.NewKeysAPI(wc), poll: client.NewKeysAPI(pollClient), stream: client.NewKeysAPI(streamClient),
		held: func() int { return serverWatchers(eps[victim]) },
		serving: func() []string {
			return []string{client.PinnedEndpoint(pollClient), client.PinnedEndpoint(streamClient)}
		},
		exchanges: func() [3]int { return [3]int{wtr.Exchanges(), pollTr.Exchanges(), streamTr.Exchanges()} },
		sharing:   sharingWatchers,
	}
}

// runSeries runs both series (writes each) with their four watchers on cl,
// through the clients setup makes, killing the member that serves the
// watches half-way as mode says.
func runSeries(t *testing.T, cl *etcdtest.Cluster, mode killMode, setup func(*testing.T, *etcdtest.Cluster, int) watches, writes int) {
	eps := cl.Endpoints()
	victim, leader := 0, cl.LeaderIndex()
	switch mode {
	case killLeader:
		victim = leader
	case killFollower:
		victim = (leader + 1) % len(eps)
	}
	ws := setup(t, cl, victim)
	writer := ws.writer
	start := storeIndex(t, writer)

	key := &series{name: "key", watchKey: "/ev/key", writes: writes}
	dir := &series{name: "dir", watchKey: "/ev/dir", recursive: true, writes: writes}
	var watchers []*watchRun
	for _, s := range []*series{key, dir} {
		watchers = append(watchers,
			&watchRun{name: s.name + "/poll", s: s},
			&watchRun{name: s.name + "/stream", s: s, stream: true})
		for i := 2; i <= ws.sharing; i++ {
			watchers = append(watchers,
				&watchRun{name: fmt.Sprintf("%s/poll#%d", s.name, i), s: s},
				&watchRun{name: fmt.Sprintf("%s/stream#%d", s.name, i), s: s, stream: true})
		}
	}
	p := newPacer(start, watchers)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, w := range watchers {
		kapi := ws.poll
		if w.stream {
			kapi = ws.stream
		}
		wg.Go(func() {
			w.run(ctx, kapi, p, start, writes)
			if w.err != nil {
				cancel()
			}
		})
	}
	// The writers start once the member holds all four watches (the sharing
	// polling watchers of a series hold one): a stream opened after its
	// first event would be answered from the history, one event per
	// request, until it caught up with the writers.
	etcdtest.WaitFor(t, "the four watches registered", func() bool { return ws.held() >= 4 })
	began := time.Now()
	var writeErrs [2]error
	var retries [2]int
	for i, s := range []*series{key, dir} {
		wg.Go(func() {
			if writeErrs[i] = runWriter(ctx, writer, p, s, &retries[i]); writeErrs[i] != nil {
				cancel()
			}
		})
	}

	var killedAt time.Time
	var killIndex uint64
	if mode != noKill {
		etcdtest.WaitFor(t, "half of the writes", func() bool { return p.acked() >= writes || ctx.Err() != nil })
	}
	if mode != noKill && ctx.Err() == nil {
		for _, ep := range ws.serving() {
			if ep != eps[victim] {
				t.Fatalf("a watch client moved to %s before the kill", ep)
			}
		}
		held := ws.held()
		p.mu.Lock()
		killIndex = p.maxAcked
		p.mu.Unlock()
		killedAt = time.Now()
		cl.Kill(victim)
		t.Logf("%s: killed m%d (%s, leader: %v, holding %d of the 4 watches) after %d writes, store index %d", cl.Server(), victim, eps[victim], victim == leader, held, p.acked(), killIndex)
	}
	wg.Wait()
	elapsed := time.Since(began)

	for i, err := range writeErrs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	for _, w := range watchers {
		if w.err != nil {
			t.Errorf("%s: after %d events: %v", w.name, len(w.events), w.err)
		}
	}
	if t.Failed() {
		return
	}
	for _, w := range watchers {
		checkEvents(t, w)
	}
	r, err := writer.Get(t.Context(), key.watchKey, &client.GetOptions{Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	if last := key.acked[len(key.acked)-1]; r.Node.Value != last.value || r.Node.ModifiedIndex != last.index {
		t.Errorf("the key holds %s @%d, the last write was %v", r.Node.Value, r.Node.ModifiedIndex, last)
	}

	var report []string
	for _, w := range watchers {
		line := fmt.Sprintf("%s %d events, max gap %v", w.name, len(w.events), maxGap(w.times).Round(time.Millisecond))
		if mode != noKill {
			line += fmt.Sprintf(", first write after the kill delivered %v after it", firstAfter(w, killIndex, killedAt).Round(time.Millisecond))
		}
		report = append(report, line)
	}
	t.Logf("%s: %d writes (%d+%d retried after lost answers) and %d×%d events checked in %v (%.0f writes/s); writers paused %d times for %v, largest lead %d indexes (limit %d)",
		cl.Server(), p.acked(), retries[0], retries[1], len(watchers), writes, elapsed.Round(time.Millisecond),
		float64(p.acked())/elapsed.Seconds(), p.pauses, p.paused.Round(time.Millisecond), p.maxSeen, maxLead)
	t.Logf("%s: %s", cl.Server(), strings.Join(report, "; "))
	x := ws.exchanges()
	t.Logf("%s: requests: writer %d, polling watchers %d (%d per series), streaming watchers %d", cl.Server(), x[0], x[1], max(ws.sharing, 1), x[2])
	if ws.sharing > 1 {
		// Each polling watcher makes at least one request per event when it
		// polls alone; sharing, the watchers of a series make about one
		// together. Well under what they would alone shows that they shared.
		if alone := ws.sharing * 2 * writes; x[1] > alone*2/3 {
			t.Errorf("the %d polling watchers of each series made %d requests for 2×%d events: they did not share their long polls (alone: at least %d)", ws.sharing, x[1], writes, alone)
		}
	}
	if mode != noKill {
		serving := ws.serving()
		for _, ep := range serving {
			if ep == eps[victim] {
				t.Errorf("a watch client is still pinned to the killed member %s", ep)
			}
		}
		t.Logf("%s: watch clients now pinned to %s and %s", cl.Server(), serving[0], serving[1])
	}
}

// maxGap is the longest time between two consecutive deliveries.
func maxGap(times []time.Time) time.Duration {
	var g time.Duration
	for i := 1; i < len(times); i++ {
		g = max(g, times[i].Sub(times[i-1]))
	}
	return g
}

// firstAfter is how long after the kill at w delivered the first event
// written after it (index above killIndex): how long the watch took to resume
// elsewhere, writers' stall included. It is -1 if none came.
func firstAfter(w *watchRun, killIndex uint64, at time.Time) time.Duration {
	for i, e := range w.events {
		if e.index > killIndex {
			return w.times[i].Sub(at)
		}
	}
	return -1
}
