package v3keys

// The follower's fast path: the v2 events waiting in the queue are
// translated into v3 operations against an in-memory index of the v3 tree
// (which nodes exist, directories or files, with which lease) and applied
// in order, as many whole events as one transaction holds, with the marker
// naming the last one's index in the same transaction. An event the index
// cannot translate (a directory's TTL changed, a directory where v2 has a
// file), or a transaction v3 refuses (a lease that ended first), goes
// through the guarded path of apply instead, one event at a time, and the
// index is read again from v3.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// followBatch bounds the events one transaction applies.
const followBatch = 100

// treeIndex is the follower's picture of the v3 tree under the root (and
// the directories above it).
type treeIndex struct {
	nodes map[string]inode
	// kids lists the children of a path, whether or not the path itself
	// exists (keys left below a directory whose lease ended first).
	kids map[string]map[string]struct{}
	// seqs are the in-order sequence keys (by key) and the last number
	// each holds.
	seqs map[string]uint64
}

// inode is one node of the index.
type inode struct {
	dir   bool
	lease int64
}

func newTreeIndex() *treeIndex {
	return &treeIndex{nodes: map[string]inode{}, kids: map[string]map[string]struct{}{}, seqs: map[string]uint64{}}
}

func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// add records node p.
func (t *treeIndex) add(p string, n inode) {
	t.nodes[p] = n
	parent := parentPath(p)
	k := t.kids[parent]
	if k == nil {
		k = map[string]struct{}{}
		t.kids[parent] = k
	}
	k[p] = struct{}{}
}

// levelsBelow is how many levels below p hold nodes.
func (t *treeIndex) levelsBelow(p string) int {
	levels := 0
	var walk func(q string, depth int)
	walk = func(q string, depth int) {
		for c := range t.kids[q] {
			levels = max(levels, depth+1)
			walk(c, depth+1)
		}
	}
	walk(p, 0)
	return levels
}

// remove forgets p and everything below it.
func (t *treeIndex) remove(p string) {
	var walk func(q string)
	walk = func(q string) {
		for c := range t.kids[q] {
			walk(c)
			delete(t.nodes, c)
		}
		delete(t.kids, q)
	}
	walk(p)
	delete(t.nodes, p)
	if k := t.kids[parentPath(p)]; k != nil {
		delete(k, p)
	}
}

// indexFromWant is the index of the tree a copy wrote.
func indexFromWant(want []wantNode) *treeIndex {
	t := newTreeIndex()
	for _, w := range want {
		t.add(w.path, inode{dir: w.dir, lease: w.lease})
	}
	return t
}

// readIndex reads the index from the v3 tree.
func (m *migrator) readIndex(ctx context.Context) (*treeIndex, error) {
	have, chain, err := m.readTree(ctx)
	if err != nil {
		return nil, err
	}
	t := newTreeIndex()
	if t.seqs, err = m.readSeqs(ctx); err != nil {
		return nil, err
	}
	paths := chainPaths(m.root)
	for i, x := range chain {
		if x != nil && i < len(paths)-1 {
			t.add(paths[i], inode{dir: x.dir(), lease: x.lease})
		}
	}
	for p, kvs := range have {
		var best *kv
		for _, x := range kvs {
			if best == nil || (x.dir() && !best.dir()) || (!best.dir() && x.mod > best.mod) {
				best = x
			}
		}
		t.add(p, inode{dir: best.dir(), lease: best.lease})
	}
	return t, nil
}

// errSlowPath is an event the index cannot translate.
var errSlowPath = errors.New("v3keys: migrate: the event needs the guarded path")

// batch is the transaction being built from events.
type batch struct {
	l     layout
	ops   []v3gen.RequestOp
	bytes int
	evs   []*client.Response
	last  uint64
	// puts are the keys the batch writes: etcd refuses a transaction
	// that puts a key twice, or puts a key one of its deletes covers.
	puts map[string]bool
	// seqAt is where the batch puts each sequence key: a later event of
	// the directory raises that put rather than adding one.
	seqAt map[string]int
}

// conflicts reports whether ops touch a key the batch puts, or put a key
// the batch deletes.
func (b *batch) conflicts(ops []v3gen.RequestOp) bool {
	for _, op := range ops {
		if pr := op.RequestPut; pr != nil {
			if _, ok := b.seqAt[string(pr.Key)]; ok {
				continue
			}
			if b.puts[string(pr.Key)] {
				return true
			}
			for _, o := range b.ops {
				if d := o.RequestDeleteRange; d != nil && covers(d, pr.Key) {
					return true
				}
			}
			continue
		}
		for k := range b.puts {
			if covers(op.RequestDeleteRange, []byte(k)) {
				return true
			}
		}
	}
	return false
}

// covers reports whether the delete d covers key.
func covers(d *v3gen.DeleteRangeRequest, key []byte) bool {
	if len(d.RangeEnd) == 0 {
		return bytes.Equal(d.Key, key)
	}
	return bytes.Compare(key, d.Key) >= 0 && bytes.Compare(key, d.RangeEnd) < 0
}

// add takes the operations of one event into the batch.
func (b *batch) add(ops []v3gen.RequestOp, size int) {
	if b.puts == nil {
		b.puts, b.seqAt = map[string]bool{}, map[string]int{}
	}
	for _, op := range ops {
		if op.RequestPut == nil {
			b.ops = append(b.ops, op)
			continue
		}
		key := string(op.RequestPut.Key)
		if i, ok := b.seqAt[key]; ok {
			b.ops[i] = op
			continue
		}
		if b.l.isSeqKey(op.RequestPut.Key) {
			b.seqAt[key] = len(b.ops)
		}
		b.puts[key] = true
		b.ops = append(b.ops, op)
	}
	b.bytes += size
}

// applyQueued applies first and the events queued after it, in
// transactions of whole events.
func (m *migrator) applyQueued(ctx context.Context, first *client.Response) error {
	evs := append([]*client.Response{first}, m.queue.take(followBatch-1)...)
	for len(evs) > 0 {
		n, err := m.applyBatch(ctx, evs)
		evs = evs[n:]
		if err == nil {
			continue
		}
		if !errors.Is(err, errSlowPath) {
			var ge *GatewayError
			if !errors.As(err, &ge) {
				return err
			}
			m.log.Warn("migrate: a batch was refused; applying its events one by one", "err", err)
		}
		// The event at evs[0] (and, for a refused batch, the rest of it)
		// goes through the guarded path.
		slow := 1
		if !errors.Is(err, errSlowPath) {
			slow = len(evs)
		}
		for _, ev := range evs[:slow] {
			if err := m.apply(ctx, ev); err != nil {
				return err
			}
		}
		evs = evs[slow:]
		if m.index, err = m.readIndex(ctx); err != nil {
			return err
		}
	}
	return nil
}

// applyBatch applies the longest run of evs that one transaction holds and
// the index translates, and returns how many it applied; with errSlowPath,
// evs[n] needs the guarded path.
func (m *migrator) applyBatch(ctx context.Context, evs []*client.Response) (int, error) {
	b := batch{l: m.k.l}
	applied := m.progress().AppliedIndex
	leases, err := m.grantEvents(ctx, evs)
	if err != nil {
		return 0, err
	}
	var stop error
	n := 0
	for ; n < len(evs); n++ {
		ev := evs[n]
		if ev.Node == nil || ev.Node.ModifiedIndex <= applied || ev.Node.ModifiedIndex <= b.last {
			b.evs = append(b.evs, ev) // delivered again: nothing to write
			continue
		}
		if m.marker.Cluster != "" && ev.ClusterID != "" && ev.ClusterID != m.marker.Cluster {
			return n, &ForeignDataError{Prefix: m.k.l.prefix, Marker: &m.marker, Cluster: ev.ClusterID, Root: "/" + m.root}
		}
		ops, commit, err := m.translate(ev, leases[ev])
		if err != nil {
			stop = err
			break
		}
		size := 0
		for _, op := range ops {
			size += opSize(op)
		}
		if len(b.ops)+len(ops)+1 > m.opts.BatchOps || b.bytes+size > batchBytes || b.conflicts(ops) {
			if len(b.evs) == 0 {
				stop = errSlowPath // one event bigger than a transaction
			}
			break
		}
		commit()
		b.add(ops, size)
		b.evs = append(b.evs, ev)
		b.last = ev.Node.ModifiedIndex
	}
	if b.last > 0 {
		mk := MigrationMarker{Cluster: m.marker.Cluster, Root: "/" + m.root, Phase: PhaseFollow, Index: b.last, Snapshot: m.marker.Snapshot}
		if mk.Cluster == "" {
			mk.Cluster = b.evs[len(b.evs)-1].ClusterID
		}
		ops := append(b.ops, put(m.k.l.metaKey(), markerValue(mk), 0))
		if err := m.writeBatch(ctx, "migrate events", ops); err != nil {
			m.index = nil
			return 0, err
		}
		m.marker = mk
		count := 0
		for _, ev := range b.evs {
			if ev.Node != nil && ev.Node.ModifiedIndex > applied {
				count++
			}
		}
		m.update(func(p *MigrateProgress) {
			p.AppliedIndex = b.last
			p.EventsApplied += int64(count)
			p.CaughtUp = false
		})
	}
	if m.index == nil {
		var err error
		if m.index, err = m.readIndex(ctx); err != nil {
			return len(b.evs), err
		}
	}
	return len(b.evs), stop
}

// isPut reports a v2 action that leaves a node written.
func isPut(action string) bool {
	switch action {
	case "set", "create", "update", "compareAndSwap":
		return true
	}
	return false
}

// grantEvents grants, grantWorkers at once, the leases of the events of
// evs that write a node with a TTL: the whole seconds that remain of it.
func (m *migrator) grantEvents(ctx context.Context, evs []*client.Response) (map[*client.Response]int64, error) {
	var ttl []*client.Response
	for _, ev := range evs {
		if ev.Node != nil && ev.Node.Expiration != nil && isPut(ev.Action) {
			ttl = append(ttl, ev)
		}
	}
	ids := make([]int64, len(ttl))
	err := forEach(ctx, len(ttl), grantWorkers, func(ctx context.Context, i int) error {
		id, err := m.k.grant(ctx, "migrate "+ttl[i].Action, remainingTTL(ttl[i].Node.Expiration, time.Now()))
		ids[i] = id
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[*client.Response]int64, len(ttl))
	for i, ev := range ttl {
		out[ev] = ids[i]
	}
	return out, nil
}

// translate is the v3 operations of one event, worked out from the index,
// and commit, which records the event in the index once its operations
// are taken into the batch.
func (m *migrator) translate(ev *client.Response, own int64) ([]v3gen.RequestOp, func(), error) {
	n := ev.Node
	p, err := canonicalKey(n.Key)
	if err != nil || p == "" {
		return nil, nil, errSlowPath
	}
	t := m.index
	switch {
	case isPut(ev.Action):
		cur, exists := t.nodes[p]
		if exists && (cur.dir || n.Dir) {
			return nil, nil, errSlowPath // a directory's TTL, or a kind that changed
		}
		var ops []v3gen.RequestOp
		var made []string
		paths := chainPaths(p)
		lease := int64(0) // of the nearest directory above with one
		for _, a := range paths[:len(paths)-1] {
			if an, ok := t.nodes[a]; ok {
				if !an.dir {
					return nil, nil, errSlowPath
				}
				if an.lease != 0 {
					lease = an.lease
				}
				continue
			}
			ops = append(ops, put(m.k.l.nodeKey(a, kindDir), nil, lease))
			made = append(made, a)
		}
		inherited := lease
		if n.Expiration != nil {
			lease = own
		}
		if n.Dir {
			ops = append(ops, put(m.k.l.nodeKey(p, kindDir), nil, lease))
		} else {
			ops = append(ops, put(m.k.l.nodeKey(p, kindFile1), []byte(n.Value), lease))
		}
		raised := func() {}
		if dir, num, ok := inOrderName(p); ok && !n.Dir {
			if op, commit, ok := m.seqRaise(t.seqs, dir, num); ok {
				ops, raised = append(ops, op), commit
			}
		}
		return ops, func() {
			raised()
			for _, a := range made {
				t.add(a, inode{dir: true, lease: inherited})
			}
			t.add(p, inode{dir: n.Dir, lease: lease})
		}, nil
	case ev.Action == "delete" || ev.Action == "compareAndDelete" || ev.Action == "expire":
		levels := t.levelsBelow(p)
		key, end := m.k.l.nodeRange(p)
		ops := []v3gen.RequestOp{del(key, end)}
		for j := 1; j <= levels; j++ {
			key, end := m.k.l.levelRange(p, j)
			ops = append(ops, del(key, end))
		}
		return ops, func() { t.remove(p) }, nil
	}
	return nil, func() {}, nil
}

// take removes and returns up to n waiting events (not errors), without
// waiting.
func (q *eventQueue) take(n int) []*client.Response {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*client.Response
	for len(out) < n && len(q.items) > 0 && q.items[0].err == nil {
		out = append(out, q.items[0].r)
		q.items[0] = queued{}
		q.items = q.items[1:]
	}
	return out
}

// apply writes one v2 event into v3, in one transaction with the marker
// naming its index.
func (m *migrator) apply(ctx context.Context, r *client.Response) (err error) {
	n := r.Node
	if n == nil {
		return nil
	}
	idx := n.ModifiedIndex
	if idx <= m.progress().AppliedIndex {
		return nil // delivered again
	}
	if m.marker.Cluster != "" && r.ClusterID != "" && r.ClusterID != m.marker.Cluster {
		return &ForeignDataError{Prefix: m.k.l.prefix, Marker: &m.marker, Cluster: r.ClusterID, Root: "/" + m.root}
	}
	p, err := canonicalKey(n.Key)
	if err != nil {
		return fmt.Errorf("v3keys: migrate: event %d names a key the layout cannot hold: %w", idx, err)
	}
	var nd need
	var mk planner
	switch r.Action {
	case "set", "create", "update", "compareAndSwap":
		mk = m.planPut(r.Action, n)
		nd.guess = r.Action == "create"
		if dir, num, ok := inOrderName(p); ok && !n.Dir {
			if m.index == nil {
				if m.index, err = m.readIndex(ctx); err != nil {
					return err
				}
			}
			mk = m.withSeq(mk, dir, num)
			defer func() {
				if err == nil {
					if _, commit, ok := m.seqRaise(m.index.seqs, dir, num); ok {
						commit() // written: the next event compares with it
					}
				}
			}()
		}
	case "delete", "compareAndDelete", "expire":
		mk = m.planRemove()
		nd.levels = recursiveLevels
	default:
		mk = m.k.planNothing(r.Action)
	}
	if p == "" {
		mk = m.k.planNothing(r.Action)
		nd = need{}
	}
	mk2 := MigrationMarker{Cluster: m.marker.Cluster, Root: "/" + m.root, Phase: PhaseFollow, Index: idx, Snapshot: m.marker.Snapshot}
	if mk2.Cluster == "" {
		mk2.Cluster = r.ClusterID
	}
	if _, err := m.k.write(ctx, "migrate "+r.Action, client.RequestIdempotent, p, nd, m.withMarker(mk, mk2)); err != nil {
		return err
	}
	m.marker = mk2
	m.update(func(p *MigrateProgress) {
		p.AppliedIndex = idx
		p.EventsApplied++
		p.CaughtUp = false
	})
	return nil
}

// withMarker adds the marker's write to the plans of mk.
func (m *migrator) withMarker(mk planner, marker MigrationMarker) planner {
	return func(s *snapshot, lease int64) (*plan, error) {
		pl, err := mk(s, lease)
		if err != nil || (pl.ttl > 0 && lease == 0) {
			return pl, err
		}
		if len(pl.ops)+2 > maxTxnOps {
			return nil, fmt.Errorf("%w: %s needs %d operations", errDiverged, pl.act, len(pl.ops)+2)
		}
		pl.ops = append(pl.ops, put(m.k.l.metaKey(), markerValue(marker), 0))
		return pl, nil
	}
}

// withSeq adds to the plans of mk the write that records in-order number
// n in directory dir, when the index says the directory's sequence key holds
// less.
func (m *migrator) withSeq(mk planner, dir string, n uint64) planner {
	return func(s *snapshot, lease int64) (*plan, error) {
		pl, err := mk(s, lease)
		if err != nil || (pl.ttl > 0 && lease == 0) {
			return pl, err
		}
		if op, _, ok := m.seqRaise(m.index.seqs, dir, n); ok {
			pl.ops = append(pl.ops, op)
		}
		return pl, nil
	}
}

// planPut makes v3's node what a set, create, update or compare-and-swap
// event left in v2.
func (m *migrator) planPut(action string, n *client.Node) planner {
	w := &writeOpts{value: n.Value, dir: n.Dir}
	if n.Dir {
		w.value = ""
	}
	return func(s *snapshot, lease int64) (*plan, error) {
		if lease == 0 {
			w.ttl = remainingTTL(n.Expiration, time.Now())
		}
		if _, err := s.dirsAbove(); err != nil {
			return nil, fmt.Errorf("%w: %s /%s: %v", errDiverged, action, s.path, err)
		}
		cur := s.target()
		switch {
		case cur == nil:
			return m.k.planCreate(s, lease, w, false, action)
		case cur.dir() != n.Dir:
			return nil, fmt.Errorf("%w: %s /%s: a directory in one store is a file in the other", errDiverged, action, s.path)
		}
		// Written in place (a file keeps its slot, which the fast path
		// of the follower writes).
		return m.k.planRewrite(s, lease, w, cur, action)
	}
}

// planRemove removes the node of a delete, compare-and-delete or expire
// event, with what it holds; a node that is gone already (its lease ended
// first) leaves only the marker to write.
func (m *migrator) planRemove() planner {
	del := m.k.planDelete(&client.DeleteOptions{Recursive: true})
	return func(s *snapshot, lease int64) (*plan, error) {
		if _, err := s.walk(); err != nil {
			return m.k.planNothing("delete")(s, lease)
		}
		return del(s, lease)
	}
}

// planNothing writes nothing but what the caller adds (the marker).
func (k *keysAPI) planNothing(action string) planner {
	return func(s *snapshot, _ int64) (*plan, error) {
		return &plan{cmps: k.l.guards(s), act: actOf(action, s.path, false, 0), result: func(h header) *client.Response { return h.response(action) }}, nil
	}
}
