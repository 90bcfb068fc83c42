// Shared watches: the Watchers of one Client on the same key (and recursive
// flag, and Stream) wait on one long poll, or one stream, and fan its events
// out.

package client

import (
	"context"
	"slices"
	"sync"
	"time"
)

// shareHistory is how many of its latest events a shared poll keeps for
// watchers that come back for their next event after the poll went on
// without them (their consumer was busy): within these they are served from
// memory, beyond them they ask etcd themselves.
const shareHistory = 32

// shareKey is what watchers must have in common to share a poll.
type shareKey struct {
	prefix, key string
	recursive   bool
	stream      bool
	idle        time.Duration
}

// watchShares holds a Client's shared polls, one per shareKey while any of
// its watchers waits in Next (or, for a stream, while the stream is open).
type watchShares struct {
	mu     sync.Mutex
	groups map[shareKey]*watchGroup
}

// watchGroup is one shared poll and the watchers waiting on it. Its fields
// are guarded by watchShares.mu, except inner, which only the leader uses.
type watchGroup struct {
	sk shareKey
	// inner is the shared poll: a Watcher of its own, with its own position,
	// re-issues and member-health registration (one for the whole group).
	// Only the leader calls its Next.
	inner *httpWatcher
	// pos is the first index the poll has not seen yet (0 while a poll
	// "from now" has not learned where it started).
	pos uint64
	// hist holds the poll's latest events in order; every event from
	// histStart up to pos-1 is in it.
	hist      []*Response
	histStart uint64
	// leader is the waiting watcher whose goroutine runs the poll; waiters
	// are the others.
	leader  *httpWatcher
	waiters []*httpWatcher
}

// shareMsg is what a waiting watcher receives: an event, an error, the
// lead (run the poll now), or retry (the poll ended; look again).
type shareMsg struct {
	resp  *Response
	err   error
	lead  bool
	retry bool
}

// shared reports whether w waits on a shared poll: it may share, and has
// no stream of its own open (one it opened while it was behind the shared
// poll goes on serving it).
func (w *httpWatcher) shared() bool { return !w.opts.Unshared && w.stream == nil }

// next waits for w's next event on the shared poll of its key. ok is false
// when w cannot join it without missing events (its next index is before
// what the poll still holds, or the poll has not learned its start yet):
// then w makes its own request.
func (s *watchShares) next(ctx context.Context, w *httpWatcher) (resp *Response, err error, ok bool) {
	sk := shareKey{prefix: w.k.prefix, key: w.key, recursive: w.opts.Recursive, stream: w.opts.Stream, idle: w.opts.IdleTimeout}
	for {
		s.mu.Lock()
		g := s.groups[sk]
		if g == nil {
			g = s.newGroup(sk, w)
		}
		switch {
		case w.nextIndex == 0 && g.leader == nil && len(g.waiters) == 0 && g.inner.stream != nil:
			// A stream nobody reads holds events from before "now".
			s.mu.Unlock()
			return nil, nil, false
		case w.nextIndex == 0:
			w.nextIndex = g.pos // "from now" is from where the poll is
		case g.pos == 0 || w.nextIndex < g.histStart:
			s.mu.Unlock()
			return nil, nil, false
		case w.nextIndex < g.pos:
			for _, r := range g.hist {
				if r.Node.ModifiedIndex >= w.nextIndex {
					s.mu.Unlock()
					return cloneResponse(r), nil, true
				}
			}
			w.nextIndex = g.pos
		}
		w.want = w.nextIndex
		lead := g.leader == nil
		if lead {
			g.leader = w
		} else {
			g.waiters = append(g.waiters, w)
		}
		s.mu.Unlock()
		resp, err, retry := s.wait(ctx, g, w, lead)
		if !retry {
			return resp, err, true
		}
	}
}

func (s *watchShares) newGroup(sk shareKey, w *httpWatcher) *watchGroup {
	g := &watchGroup{sk: sk, pos: w.nextIndex, histStart: w.nextIndex}
	// The poll starts with what its first watcher learnt of streaming
	// here (a proxy that does not stream), and hands back what it learns.
	g.inner = &httpWatcher{k: w.k, key: w.key, nextIndex: w.nextIndex, shortStreams: w.shortStreams,
		opts: WatcherOptions{Recursive: sk.recursive, Stream: sk.stream, IdleTimeout: sk.idle, Unshared: true}}
	g.inner.started = func(next uint64) {
		s.mu.Lock()
		if g.pos == 0 {
			g.pos, g.histStart = next, next
		}
		s.mu.Unlock()
	}
	if s.groups == nil {
		s.groups = map[shareKey]*watchGroup{}
	}
	s.groups[sk] = g
	return g
}

// wait is w's turn in g: leading the poll or waiting for what it brings.
// retry asks the caller to look for the poll again.
func (s *watchShares) wait(ctx context.Context, g *watchGroup, w *httpWatcher, lead bool) (resp *Response, err error, retry bool) {
	for {
		if lead {
			var done bool
			resp, err, retry, done = s.lead(ctx, g, w)
			if done {
				return resp, err, retry
			}
			continue
		}
		select {
		case m := <-w.shareCh:
			if m.lead {
				lead = true
				continue
			}
			return m.resp, m.err, m.retry
		case <-ctx.Done():
			s.mu.Lock()
			if i := slices.Index(g.waiters, w); i >= 0 {
				g.waiters = slices.Delete(g.waiters, i, i+1)
			} else if m := <-w.shareCh; m.lead {
				// Handed the lead as the context ended: pass it on.
				g.leader = nil
				s.handOff(g)
			}
			s.mu.Unlock()
			return nil, ctx.Err(), false
		}
	}
}

// lead runs one round of the poll for g as its leader and hands out what it
// brought. done is false when w goes on leading (the event was not one it
// waits for).
func (s *watchShares) lead(ctx context.Context, g *watchGroup, w *httpWatcher) (resp *Response, err error, retry, done bool) {
	r, perr := g.inner.Next(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if perr != nil && ctx.Err() != nil {
		// The leader's context ended (which cut the poll): another waiter
		// takes the lead and asks again from the same index.
		g.leader = nil
		s.handOff(g)
		return nil, ctx.Err(), false, true
	}
	if perr != nil {
		// What ended the poll ends the wait of every watcher that asked
		// from where the poll was; one that waits for later events looks
		// again.
		asked := g.pos
		if s.groups[g.sk] == g {
			delete(s.groups, g.sk)
		}
		for _, o := range g.waiters {
			m := shareMsg{err: perr}
			if asked > 0 && o.want > asked {
				m = shareMsg{retry: true}
			}
			o.shareCh <- m
		}
		g.waiters, g.leader = nil, nil
		if asked > 0 && w.want > asked {
			return nil, nil, true, true
		}
		return nil, perr, false, true
	}
	g.pos = g.inner.nextIndex
	idx := g.pos // an event without a node (none from etcd) goes to everyone
	if r.Node != nil {
		idx = r.Node.ModifiedIndex
		if len(g.hist) == shareHistory {
			g.histStart = g.hist[0].Node.ModifiedIndex + 1
			g.hist = append(g.hist[:0], g.hist[1:]...)
		}
		g.hist = append(g.hist, r)
	}
	kept := g.waiters[:0]
	for _, o := range g.waiters {
		if o.want > idx {
			kept = append(kept, o) // joined at a later index
			continue
		}
		o.shortStreams = g.inner.shortStreams
		o.shareCh <- shareMsg{resp: cloneResponse(r)}
	}
	clear(g.waiters[len(kept):])
	g.waiters = kept
	if w.want > idx {
		if ctx.Err() == nil {
			return nil, nil, false, false
		}
		g.leader = nil
		s.handOff(g)
		return nil, ctx.Err(), false, true
	}
	w.shortStreams = g.inner.shortStreams
	g.leader = nil
	if s.handOff(g) {
		// The poll ended with w's event: no other watcher can reach r, so
		// it needs no copy.
		return r, nil, false, true
	}
	return cloneResponse(r), nil, false, true
}

// handOff gives g's lead to its first waiter, or ends g when none waits
// and it has no stream open (an open stream waits for the next watcher to
// read on); ended says g is over and no watcher holds it. Called with s.mu
// held and g.leader nil.
func (s *watchShares) handOff(g *watchGroup) (ended bool) {
	if len(g.waiters) == 0 {
		if g.inner.stream == nil && s.groups[g.sk] == g {
			delete(s.groups, g.sk)
		}
		return s.groups[g.sk] != g
	}
	next := g.waiters[0]
	g.waiters[0] = nil
	g.waiters = g.waiters[1:]
	g.leader = next
	next.shareCh <- shareMsg{lead: true}
	return false
}

// cloneResponse copies a shared event for one watcher, so that a watcher
// that changes its Response (or its nodes) changes no other's.
func cloneResponse(r *Response) *Response {
	c := *r
	if r.Node != nil {
		n := *r.Node
		c.Node = &n
	}
	if r.PrevNode != nil {
		n := *r.PrevNode
		c.PrevNode = &n
	}
	return &c
}
