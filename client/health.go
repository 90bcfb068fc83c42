// Member health, one per Client: each endpoint is healthy, suspect or down,
// fed by the outcome of every attempt and by light probes of the members
// that requests are waiting on. Endpoint selection reads it, and it cuts
// the attempts and watches that wait on a member that stopped answering or
// whose proposals were lost to a leader change.

package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Health timing. An attempt that has waited probeAfter for its answer's
// headers (probeAfterRaft for a write or quorum read, which normally answer
// within milliseconds), or any waiting watch, gets its member probed: GET
// /version within probeTimeout (no answer: the member is down), and, while
// writes or quorum reads wait, GET /health (its 200 proves that a proposal
// made after theirs committed; one still waiting commitGrace later lost its
// proposal). Probes of one member are at least probeInterval apart
// (watchProbeEvery when only watches wait) however many requests wait on
// it; a down member is probed again after downRetryMin, doubling to
// downRetryMax.
const (
	probeAfter        = 1 * time.Second
	probeAfterRaft    = 500 * time.Millisecond
	probeTimeout      = 1 * time.Second
	probeInterval     = 500 * time.Millisecond
	watchProbeEvery   = 1 * time.Second
	commitGrace       = 300 * time.Millisecond
	healthProbeBudget = 2 * time.Second
	downRetryMin      = 500 * time.Millisecond
	downRetryMax      = 8 * time.Second
	monitorTick       = 100 * time.Millisecond
	// leaderMemory is how long a member's answer about its leader serves
	// as the baseline a change is seen against.
	leaderMemory = 10 * time.Second
	// monitorLinger is how long the monitor goroutine stays without
	// anything to watch before it ends.
	monitorLinger = 0
)

// HealthState is what a Client knows of one member.
type HealthState int32

const (
	// HealthHealthy: the member's last attempt or probe succeeded.
	HealthHealthy HealthState = iota
	// HealthSuspect: an attempt failed in a way that does not prove the
	// member dead (a reset connection, no answer in time); it is still
	// used, and the next answer or probe decides.
	HealthSuspect
	// HealthDown: the member refused connections or did not answer a
	// probe in time. Requests go to other members while any is not down;
	// the member is probed again with back-off and rejoins when it answers.
	HealthDown
)

// String returns "healthy", "suspect" or "down".
func (s HealthState) String() string {
	switch s {
	case HealthHealthy:
		return "healthy"
	case HealthSuspect:
		return "suspect"
	case HealthDown:
		return "down"
	}
	return fmt.Sprintf("HealthState(%d)", int32(s))
}

// EndpointHealth is one member's health as a Client sees it.
type EndpointHealth struct {
	// Endpoint is the member's endpoint URL.
	Endpoint string
	// State is its current state.
	State HealthState
	// Since is when it entered State.
	Since time.Time
	// Reason says why it left the healthy state (empty when healthy).
	Reason string
	// Probes counts the probe requests sent to it.
	Probes uint64
}

// EndpointsHealth returns what c knows of each of its endpoints' health,
// in the order of c.Endpoints(). See the README's "Member health" section.
func EndpointsHealth(c Client) []EndpointHealth {
	hc := c.cluster()
	_, names, _ := hc.snapshotNames()
	out := make([]EndpointHealth, len(names))
	for i, n := range names {
		m := hc.health.member(n)
		m.mu.Lock()
		out[i] = EndpointHealth{Endpoint: n, State: HealthState(m.state.Load()), Since: m.since, Reason: m.reason, Probes: m.probes.Load()}
		m.mu.Unlock()
	}
	return out
}

// waiter is a request waiting on a member: an attempt waiting for its
// headers, or a watch waiting for its event.
type waiter struct {
	start  time.Time
	raft   bool   // a write or quorum read: its answer waits on a proposal
	write  bool   // a write, whose answer is small once its proposal applied
	term   uint64 // the Client's raft term when it was sent (0: none seen yet)
	watch  bool
	cancel context.CancelFunc
	// ctx, when set, is the request's context: a wait whose context has
	// ended (a stream left open by its watcher) is dropped.
	ctx context.Context
	// cut is set (to a cutReason) when health ended the wait.
	cut atomic.Int32
}

// Why health ended a wait.
const (
	cutNone int32 = iota
	cutDown
	cutLost
)

// cutError is the error of an attempt that health ended.
type cutError struct {
	endpoint string
	reason   int32
}

func (e *cutError) Error() string {
	if e.reason == cutLost {
		return fmt.Sprintf("%s committed a later proposal while this request waited (its proposal was lost to a leader change)", e.endpoint)
	}
	return fmt.Sprintf("%s stopped answering (no answer to a health probe within %v)", e.endpoint, probeTimeout)
}

// Timeout marks the error as a timeout for net.Error users.
func (e *cutError) Timeout() bool { return true }

// memberHealth is the health of one endpoint.
type memberHealth struct {
	name string
	url  *url.URL

	state  atomic.Int32 // a HealthState; read without the lock
	probes atomic.Uint64
	// answers counts the attempts that had their answer's headers from the
	// member: a member that answers others while its probe waits is busy,
	// not down.
	answers atomic.Uint64

	mu      sync.Mutex
	since   time.Time
	reason  string
	waiters map[*waiter]struct{}
	// probing is set while a probe of the member is out.
	probing   bool
	lastProbe time.Time
	// retryAt is when a down member is probed again; backoff the wait
	// after that.
	retryAt time.Time
	backoff time.Duration
	// committed is the start of the last /health probe that answered 200,
	// committedAt when its answer came, and grace how long an earlier
	// proposal may still take to answer after that: commitGrace, or twice
	// the probe's own round trip on a busy machine.
	committed, committedAt time.Time
	grace                  time.Duration
}

// health is the member health of one Client.
type health struct {
	c *httpClusterClient

	// leaderLost is called when a member went down or a proposal was lost
	// to a leader change (the Client's leaderMayHaveChanged).
	leaderLost func()

	// leader is the leader last named by a member ("" when one knew none),
	// leaderAt when, and leaderChanged when a member was last seen with
	// another leader than the one before, or with none. Every member
	// answer about the leader feeds it: probes, Leader and Sync.
	leaderMu sync.Mutex
	// term is the highest raft term any answer carried (X-Raft-Term): it
	// grows with every election.
	term          atomic.Uint64
	leader        string
	leaderAt      time.Time
	leaderChanged time.Time

	mu      sync.Mutex
	members map[string]*memberHealth
	running bool // the monitor goroutine runs
}

func newHealth(c *httpClusterClient) *health {
	return &health{c: c, members: map[string]*memberHealth{}}
}

// member returns the health of the endpoint named name, made on first use.
func (h *health) member(name string) *memberHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.members[name]
	if m == nil {
		u, _ := url.Parse(name)
		m = &memberHealth{name: name, url: u, waiters: map[*waiter]struct{}{}, since: time.Now()}
		h.members[name] = m
	}
	return m
}

// down reports whether the member named name is down.
func (h *health) down(name string) bool {
	h.mu.Lock()
	m := h.members[name]
	h.mu.Unlock()
	return m != nil && HealthState(m.state.Load()) == HealthDown
}

// pick returns i, or when names[i] is down the first member after it that
// is not (i itself when all are down).
func (h *health) pick(names []string, i int) int {
	for k := 0; k < len(names); k++ {
		j := (i + k) % len(names)
		if !h.down(names[j]) {
			return j
		}
	}
	return i
}

// set moves m to state s, logging the change.
func (h *health) set(m *memberHealth, s HealthState, reason string) {
	m.mu.Lock()
	old := HealthState(m.state.Load())
	if old == s {
		m.mu.Unlock()
		return
	}
	m.state.Store(int32(s))
	m.since = time.Now()
	m.reason = reason
	if s == HealthDown {
		m.backoff = downRetryMin
		m.retryAt = m.since.Add(m.backoff)
	}
	m.mu.Unlock()
	if l := h.c.logger; l != nil {
		level := slog.LevelInfo
		if s == HealthDown {
			level = slog.LevelWarn
		}
		l.LogAttrs(context.Background(), level, "etcd member health",
			slog.String("endpoint", m.name), slog.String("from", old.String()),
			slog.String("to", s.String()), slog.String("reason", reason))
	}
	if s == HealthDown && h.leaderLost != nil {
		h.leaderLost()
	}
}

// observe feeds the outcome of one attempt: err is nil when the member
// answered (any status: a 5xx such as etcd's "request timed out" comes from
// a member that is alive), else the transport error.
func (h *health) observe(name string, err error) {
	if err == nil {
		h.mu.Lock()
		m := h.members[name]
		h.mu.Unlock()
		if m != nil {
			m.answers.Add(1)
			if HealthState(m.state.Load()) != HealthHealthy {
				h.set(m, HealthHealthy, "")
			}
		}
		return
	}
	m := h.member(name)
	switch {
	case neverConnected(err):
		h.set(m, HealthDown, err.Error())
	default:
		if HealthState(m.state.Load()) == HealthHealthy {
			h.set(m, HealthSuspect, err.Error())
		}
	}
}

// wait registers w as waiting on the member named name until the returned
// function is called.
func (h *health) wait(name string, w *waiter) *memberHealth {
	m := h.member(name)
	m.mu.Lock()
	m.waiters[w] = struct{}{}
	m.mu.Unlock()
	h.mu.Lock()
	if !h.running {
		h.running = true
		go h.monitor()
	}
	h.mu.Unlock()
	return m
}

// answering notes that w's answer has begun: it no longer waits on a
// proposal, only on the member sending the rest.
func (m *memberHealth) answering(w *waiter) {
	m.mu.Lock()
	w.raft = false
	m.mu.Unlock()
}

// active reports whether the monitor runs: something has waited on a
// member within the last tick.
func (h *health) active() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.running
}

// done ends w's wait on m.
func (m *memberHealth) done(w *waiter) {
	m.mu.Lock()
	delete(m.waiters, w)
	m.mu.Unlock()
}

// monitor probes the members that requests wait on, and down members, and
// cuts waits that health knows to be lost. It ends once nothing has been
// waiting for monitorLinger.
func (h *health) monitor() {
	t := time.NewTicker(monitorTick)
	defer t.Stop()
	idleSince := time.Now()
	for range t.C {
		now := time.Now()
		h.mu.Lock()
		ms := make([]*memberHealth, 0, len(h.members))
		for _, m := range h.members {
			ms = append(ms, m)
		}
		h.mu.Unlock()
		busy := false
		for _, m := range ms {
			if h.check(m, now) {
				busy = true
			}
		}
		if busy {
			idleSince = now
			continue
		}
		if now.Sub(idleSince) >= monitorLinger {
			h.mu.Lock()
			// Check again under the lock: a wait may have started.
			for _, m := range h.members {
				m.mu.Lock()
				n := len(m.waiters)
				m.mu.Unlock()
				if n > 0 {
					busy = true
				}
			}
			if !busy {
				h.running = false
				h.mu.Unlock()
				return
			}
			h.mu.Unlock()
		}
	}
}

// check looks at one member: it cuts waits that a probe showed lost and
// starts a probe when one is due. It reports whether anything waits on m.
func (h *health) check(m *memberHealth, now time.Time) bool {
	h.leaderMu.Lock()
	leaderChanged := h.leaderChanged
	h.leaderMu.Unlock()
	term := h.term.Load()
	m.mu.Lock()
	defer m.mu.Unlock()
	state := HealthState(m.state.Load())
	var old, raftOld bool
	for w := range m.waiters {
		if w.ctx != nil && w.ctx.Err() != nil {
			delete(m.waiters, w)
			continue
		}
		if w.watch {
			old = true
			continue
		}
		age := now.Sub(w.start)
		if age >= probeAfter {
			old = true
		}
		if w.raft && age >= probeAfterRaft {
			old, raftOld = true, true
		}
		// A proposal made after this one has committed since, this one has
		// had the grace to answer (and waited probeAfter in all), and it is
		// a write (whose answer is small) or the leader changed after it
		// was sent (a quorum read's answer may be a huge tree that takes a
		// while to encode): its proposal was lost with the old leader.
		if w.raft && age >= probeAfter && w.start.Before(m.committed) && now.Sub(m.committedAt) >= m.grace &&
			(w.write || w.start.Before(leaderChanged) || w.term != 0 && term > w.term) {
			h.cutLocked(w, cutLost)
		}
	}
	if m.probing {
		return len(m.waiters) > 0
	}
	due := false
	switch {
	case state == HealthDown:
		due = !now.Before(m.retryAt)
	case raftOld:
		due = now.Sub(m.lastProbe) >= probeInterval
	case old:
		due = now.Sub(m.lastProbe) >= watchProbeEvery
	}
	if due && m.url != nil {
		m.probing = true
		m.lastProbe = now
		go h.probe(m, raftOld && state != HealthDown)
	}
	return len(m.waiters) > 0
}

// cutLocked ends w (m.mu held).
func (h *health) cutLocked(w *waiter, reason int32) {
	if w.cut.CompareAndSwap(cutNone, reason) {
		w.cancel()
	}
}

// probe asks m for /version (and /health when commit matters) and acts on
// the answers.
func (h *health) probe(m *memberHealth, commit bool) {
	if commit {
		// Their answers may take as long as a commit or an election does:
		// they never decide whether the member is down, so they are not
		// waited for.
		go h.probeCommit(m)
		go h.probeLeader(m)
		go h.probeTerm(m)
	}
	before := m.answers.Load()
	_, _, _, err := h.ask(m, "version", "", probeTimeout, false, true)
	if err != nil && m.answers.Load() != before {
		// Other attempts had answers from the member while the probe
		// waited (thousands of watches opening at once can hold a probe
		// up for longer than its budget): busy, not down. Its waits go on.
		err = nil
	}
	if err != nil {
		h.set(m, HealthDown, err.Error())
		m.mu.Lock()
		for w := range m.waiters {
			h.cutLocked(w, cutDown)
		}
		m.backoff = min(2*m.backoff, downRetryMax)
		if m.backoff <= 0 {
			m.backoff = downRetryMin
		}
		m.retryAt = time.Now().Add(m.backoff)
		m.probing = false
		m.mu.Unlock()
		return
	}
	if HealthState(m.state.Load()) != HealthHealthy {
		h.set(m, HealthHealthy, "")
	}
	m.mu.Lock()
	m.probing = false
	m.mu.Unlock()
}

// probeCommit asks m for /health, whose 200 proves that a quorum read
// proposed now has committed.
func (h *health) probeCommit(m *memberHealth) {
	start := time.Now()
	status, _, _, err := h.ask(m, "health", "", healthProbeBudget, false, true)
	if err != nil || status != http.StatusOK {
		return
	}
	now := time.Now()
	m.mu.Lock()
	m.committed, m.committedAt = start, now
	m.grace = max(commitGrace, 2*now.Sub(start))
	m.mu.Unlock()
}

// probeLeader asks m which member it follows (GET /v2/members/leader), for
// noteLeader.
func (h *health) probeLeader(m *memberHealth) {
	status, _, body, err := h.ask(m, "v2/members/leader", "", healthProbeBudget, true, true)
	if err != nil {
		return
	}
	var leader struct {
		ID string `json:"id"`
	}
	switch {
	case status == http.StatusServiceUnavailable:
		// An election is running.
	case status == http.StatusOK && json.Unmarshal(body, &leader) == nil && leader.ID != "":
	default:
		// Nothing to learn (e.g. the credentials may not read members).
		return
	}
	h.noteLeader(leader.ID)
}

// noteTerm feeds the raft term of an answer.
func (h *health) noteTerm(t uint64) {
	for {
		cur := h.term.Load()
		if t <= cur || h.term.CompareAndSwap(cur, t) {
			return
		}
	}
}

// probeTerm reads m's raft term from the headers of a watch of the root
// (sent at once, before any event; the watch is then dropped), for
// noteTerm.
func (h *health) probeTerm(m *memberHealth) {
	status, hdr, _, err := h.ask(m, "v2/keys", "wait=true", healthProbeBudget, true, false)
	if err == nil && status == http.StatusOK {
		if t, err := strconv.ParseUint(hdr.Get("X-Raft-Term"), 10, 64); err == nil {
			h.noteTerm(t)
		}
	}
}

// noteLeader feeds what a member said of the leader (id, or "" for none).
func (h *health) noteLeader(id string) {
	now := time.Now()
	h.leaderMu.Lock()
	defer h.leaderMu.Unlock()
	// An answer older than leaderMemory says nothing about the requests
	// waiting now: a change since may be long past.
	known := !h.leaderAt.IsZero() && now.Sub(h.leaderAt) <= leaderMemory
	if id == "" || (known && id != h.leader) {
		h.leaderChanged = now
	}
	h.leader, h.leaderAt = id, now
}

// ask sends one probe GET of path (and query) below m's base path, within
// budget, and returns the status, the headers and, when body is set, up to
// 4 KiB of the body (else the answer is dropped once its headers are in).
// Probes carry the Client's credentials only when creds is set (/version
// and /health never need them).
func (h *health) ask(m *memberHealth, path, query string, budget time.Duration, creds, body bool) (int, http.Header, []byte, error) {
	m.probes.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	u := m.url.JoinPath(path)
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, nil, err
	}
	if creds && h.c.username != "" {
		req.SetBasicAuth(h.c.username, h.c.password)
	}
	resp, err := h.c.transport.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, nil, fmt.Errorf("no answer to GET /%s within %v", path, budget)
		}
		return 0, nil, nil, err
	}
	var b []byte
	if body {
		b, _ = io.ReadAll(io.LimitReader(resp.Body, 4096))
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header, b, nil
}
