package v3keys

// The follower's side of a migration: the v2 watch (a stream from now
// joined to a replay of v2's history from the last index applied) into an
// unbounded queue, the loop that applies the queue, and the check that it
// has caught up with v2.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/meycoin/goetcd/client"
)

// watchKey is the v2 key the follower watches.
func (m *migrator) watchKey() string { return "/" + m.root }

// eventQueue holds the v2 events the watch brought and the follower has not
// applied yet, without bound (the watch never waits for the follower, so
// it does not fall out of v2's 1000-event history while the copy runs).
type eventQueue struct {
	mu     sync.Mutex
	items  []queued
	signal chan struct{}
}

// queued is a watch event (or the error that ended the watch) and when it
// arrived.
type queued struct {
	r   *client.Response
	err error
	at  time.Time
}

func newEventQueue() *eventQueue { return &eventQueue{signal: make(chan struct{}, 1)} }

func (q *eventQueue) push(e queued) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop returns the oldest event, waiting up to wait for one.
func (q *eventQueue) pop(ctx context.Context, wait time.Duration) (queued, bool) {
	var timer *time.Timer
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			e := q.items[0]
			q.items[0] = queued{}
			q.items = q.items[1:]
			q.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return e, true
		}
		q.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		select {
		case <-q.signal:
		case <-timer.C:
			return queued{}, false
		case <-ctx.Done():
			timer.Stop()
			return queued{}, false
		}
	}
}

// oldest is when the oldest waiting event arrived.
func (q *eventQueue) oldest() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return time.Time{}, false
	}
	return q.items[0].at, true
}

// watchState joins the two watches of startWatch: events of the live
// stream wait in live until the replay of v2's history reaches the first
// of them.
type watchState struct {
	mu        sync.Mutex
	live      []queued
	liveFirst uint64 // index of the first live event; 0 before one came
	switched  bool   // the replay is over: live events go to the queue
}

// startWatch starts a recursive v2 stream of the root from now, whose
// events wait until replayFrom has brought the history up to them. Call
// it before the read that gives the index to replay from, so that the two
// meet: v2 answers a watch from an index in its history with one event
// per request, so only the backlog is read that way, and everything after
// comes on one stream.
func (m *migrator) startWatch(ctx context.Context) {
	if m.stopWatch != nil {
		m.stopWatch()
	}
	wctx, cancel := context.WithCancel(ctx)
	q := newEventQueue()
	ws := &watchState{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := m.from.Watcher(m.watchKey(), &client.WatcherOptions{Recursive: true, Stream: true})
		for {
			r, err := w.Next(wctx)
			if wctx.Err() != nil {
				return
			}
			e := queued{r: r, err: err, at: time.Now()}
			if err != nil {
				q.push(e)
				return
			}
			ws.mu.Lock()
			if !ws.switched {
				if ws.liveFirst == 0 && r.Node != nil {
					ws.liveFirst = r.Node.ModifiedIndex
				}
				ws.live = append(ws.live, e)
				ws.mu.Unlock()
				continue
			}
			ws.mu.Unlock()
			q.push(e)
		}
	}()
	m.mu.Lock()
	m.queue = q
	m.mu.Unlock()
	m.replayFrom = func(after uint64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.replay(wctx, q, ws, after)
		}()
	}
	m.stopWatch = func() { cancel(); wg.Wait() }
}

// replayWindow is how many v2 watch requests the replay keeps in flight:
// v2 answers a watch from an index in its history with one event, so the
// replay asks for the first event at or after each of the next indexes at
// once.
const replayWindow = 16

// replayed is the answer to one of the replay's requests: the first event
// at or after index from.
type replayed struct {
	from uint64
	r    *client.Response
	err  error
}

// replay reads v2's events after index after into q until it reaches the
// first event of the live stream; then the live events after the last one
// replayed follow, and the live stream goes on into q. It asks for
// replayWindow indexes at once and hands the events on in index order,
// with no gap: the answer for index n+1, where n is the last event handed
// on, is always the next one.
func (m *migrator) replay(ctx context.Context, q *eventQueue, ws *watchState, after uint64) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	answers := make(chan replayed, replayWindow)
	ask := func(from uint64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := m.from.Watcher(m.watchKey(), &client.WatcherOptions{AfterIndex: from - 1, Recursive: true}).Next(ctx)
			answers <- replayed{from: from, r: r, err: err}
		}()
	}
	next, want, last := after+1, after+1, after
	pending := map[uint64]replayed{}
	inFlight := 0
	for {
		for ; inFlight < replayWindow; inFlight++ {
			ask(next)
			next++
		}
		var a replayed
		select {
		case <-ctx.Done():
			return
		case a = <-answers:
		}
		inFlight--
		if a.from < want {
			continue // an event handed on already
		}
		pending[a.from] = a
		for {
			a, ok := pending[want]
			if !ok {
				break
			}
			delete(pending, want)
			if a.err != nil {
				q.push(queued{err: a.err, at: time.Now()})
				return
			}
			if a.r.Node == nil || a.r.Node.ModifiedIndex < want {
				want++
				continue
			}
			idx := a.r.Node.ModifiedIndex
			ws.mu.Lock()
			if ws.liveFirst != 0 && idx >= ws.liveFirst {
				for _, e := range ws.live {
					if e.r.Node != nil && e.r.Node.ModifiedIndex > last {
						q.push(e)
					}
				}
				ws.live, ws.switched = nil, true
				ws.mu.Unlock()
				return
			}
			ws.mu.Unlock()
			q.push(queued{r: a.r, at: time.Now()})
			last = idx
			// Every index up to idx answers with this event.
			for i := want; i <= idx; i++ {
				delete(pending, i)
			}
			want = idx + 1
		}
		next = max(next, want)
	}
}

// idleWait is how long the follower waits for an event before it checks
// whether it has caught up (when it is to stop then).
const idleWait = 100 * time.Millisecond

// follow applies the queued events until ctx ends or, without
// opts.Follow, until it has caught up.
func (m *migrator) follow(ctx context.Context) error {
	m.update(func(p *MigrateProgress) { p.Phase = PhaseFollow })
	var lastCheck time.Time
	for {
		ev, ok := m.queue.pop(ctx, idleWait)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ok {
			err := ev.err
			if err == nil {
				err = m.applyQueued(ctx, ev.r)
			}
			switch {
			case err == nil:
				continue
			case client.IsEventIndexCleared(err):
				m.log.Warn("migrate: v2's event history no longer holds the next event; copying again", "after", m.progress().AppliedIndex)
			case errors.Is(err, errDiverged):
				m.log.Warn("migrate: an event does not apply to the v3 tree; copying again", "err", err)
			case ev.err != nil:
				// The watch failed for good (the client's own failover
				// could not save it): a fresh snapshot loses nothing.
				m.log.Warn("migrate: the v2 watch failed; copying again", "err", err)
			default:
				return err
			}
			if err := m.copyTree(ctx); err != nil {
				return err
			}
			m.update(func(p *MigrateProgress) { p.Phase = PhaseFollow })
			continue
		}
		every := m.opts.ProgressInterval
		if !m.opts.Follow {
			every = 0
		}
		if time.Since(lastCheck) < every {
			continue
		}
		lastCheck = time.Now()
		caught, err := m.checkCaughtUp(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			m.log.Warn("migrate: measuring the lag failed", "err", err)
			continue
		}
		if caught && !m.opts.Follow {
			return nil
		}
	}
}

// caughtUpWait bounds the check for an event between the last one applied
// and v2's current index (at least; five times the read of that index when
// it is slower): v2 answers a watch from an index its history holds at
// once.
const caughtUpWait = 300 * time.Millisecond

// checkCaughtUp reads v2's current index C and finds whether v2 has an
// event under the root after the last applied index and up to C. When it
// has none, v3 holds v2's tree as of C and the lag is 0.
func (m *migrator) checkCaughtUp(ctx context.Context) (bool, error) {
	start := time.Now()
	c, err := m.sourceIndex(ctx)
	if err != nil {
		return false, err
	}
	applied := m.progress().AppliedIndex
	caught := applied >= c
	if !caught {
		// A member slow to answer must not pass for one without events:
		// the wait is long beside the read that just went.
		wctx, cancel := context.WithTimeout(ctx, max(caughtUpWait, 5*time.Since(start)))
		r, err := m.from.Watcher(m.watchKey(), &client.WatcherOptions{AfterIndex: applied, Recursive: true}).Next(wctx)
		cancel()
		switch {
		case err == nil:
			caught = r.Node != nil && r.Node.ModifiedIndex > c
		case ctx.Err() != nil:
			return false, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			caught = true
		}
	}
	m.mu.Lock()
	m.prog.SourceIndex = max(m.prog.SourceIndex, c)
	if caught {
		m.caughtThrough = max(m.caughtThrough, c)
	}
	m.prog.CaughtUp = caught && m.queue.len() == 0
	m.mu.Unlock()
	return caught, nil
}

func (q *eventQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
