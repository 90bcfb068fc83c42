package v3keys

// The copy of a migration: one snapshot of the v2 tree made the content of
// the v3 tree under the root, in batched transactions, writing only what
// differs, so that a copy started again after an interruption (or after v2
// lost the events a follower needed) ends with the snapshot's tree.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// Copy limits: keys read per range of the v3 tree, values per batch, and
// batches in flight at once.
const (
	copyPage      = 10000
	batchBytes    = 1 << 20
	copyWorkers   = 4
	copyOpOverhad = 64 // bytes a put costs in a request besides key and value
)

// wantNode is a node of the snapshot as the v3 tree is to hold it.
type wantNode struct {
	path  string
	dir   bool
	value string
	exp   *time.Time // the node's own expiration
	// parent is the index of the directory above it in the list (-1 for
	// none), lease the lease it gets (its own, or its directory's).
	parent int
	lease  int64
	// above marks a directory above the root: made when missing, kept as
	// it is otherwise.
	above bool
}

// copyTree copies a fresh snapshot of the v2 tree and, unless this is a
// dry run, starts the watch from its index.
func (m *migrator) copyTree(ctx context.Context) error {
	if m.stopWatch != nil {
		m.stopWatch()
		m.stopWatch = nil
	}
	again := m.hasMarker
	m.update(func(p *MigrateProgress) {
		p.Phase = PhaseCopy
		if again {
			p.Reconciles++
		}
	})
	start := time.Now()
	if !m.opts.DryRun {
		m.startWatch(ctx)
	}
	top, idx, cluster, err := m.snapshot(ctx)
	if err != nil {
		return err
	}
	if m.hasMarker && m.marker.Cluster != "" && cluster != m.marker.Cluster {
		return &ForeignDataError{Prefix: m.k.l.prefix, Marker: &m.marker, Cluster: cluster, Root: "/" + m.root}
	}
	if !m.opts.DryRun {
		m.replayFrom(idx)
	}
	want := flattenSnapshot(m.root, top)
	m.log.Info("migrate: copying", "snapshot_index", idx, "nodes", len(want), "read", time.Since(start).Round(time.Millisecond))
	have, chain, err := m.readTree(ctx)
	if err != nil {
		return err
	}
	if !m.opts.DryRun {
		mk := MigrationMarker{Cluster: cluster, Root: "/" + m.root, Phase: PhaseCopy, Index: m.marker.Index, Snapshot: m.marker.Snapshot}
		if err := m.writeMarker(ctx, mk, !m.hasMarker); err != nil {
			return err
		}
	}
	ops, same, err := m.planCopy(ctx, want, have, chain)
	if err != nil {
		return err
	}
	puts, dels := 0, 0
	for _, op := range ops {
		if op.RequestPut != nil {
			puts++
		} else {
			dels++
		}
	}
	m.update(func(p *MigrateProgress) {
		p.SnapshotIndex, p.KeysTotal, p.KeysCopied, p.Puts, p.Deletes = idx, len(want), same, puts, dels
	})
	if m.opts.DryRun {
		return nil
	}
	seqs, err := m.readSeqs(ctx)
	if err != nil {
		return err
	}
	// The sequence keys go with the last batches; the copy is written again
	// whole when it stops before its end.
	if err := m.writeBatches(ctx, append(ops, m.planSeqs(want, seqs)...)); err != nil {
		return err
	}
	mk := MigrationMarker{Cluster: cluster, Root: "/" + m.root, Phase: PhaseFollow, Index: idx, Snapshot: idx}
	if err := m.writeMarker(ctx, mk, false); err != nil {
		return err
	}
	m.index = indexFromWant(want)
	m.index.seqs = seqs
	m.update(func(p *MigrateProgress) { p.AppliedIndex, p.KeysCopied = idx, len(want) })
	m.log.Info("migrate: copied", "snapshot_index", idx, "nodes", len(want), "puts", puts, "deletes", dels, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// snapshot reads the v2 tree under the root with one quorum read: its
// top node (nil when the root does not exist), the index it was read at
// and the cluster's ID.
func (m *migrator) snapshot(ctx context.Context) (*client.Node, uint64, string, error) {
	r, err := m.from.Get(ctx, "/"+m.root, &client.GetOptions{Recursive: true, Quorum: true})
	if err == nil {
		return r.Node, r.Index, r.ClusterID, nil
	}
	var ke client.Error
	if m.root == "" || !errors.As(err, &ke) || ke.Code != client.ErrorCodeKeyNotFound {
		return nil, 0, "", fmt.Errorf("v3keys: migrate: reading the v2 tree: %w", err)
	}
	// No root: an empty tree as of the error's index; the cluster's ID
	// comes with a read of the top directory.
	top, err := m.from.Get(ctx, "/", nil)
	if err != nil {
		return nil, 0, "", fmt.Errorf("v3keys: migrate: reading the v2 tree: %w", err)
	}
	return nil, ke.Index, top.ClusterID, nil
}

// flattenSnapshot lists the nodes of the snapshot, each directory before
// what it holds: the directories above the root, the root, and the tree
// below it.
func flattenSnapshot(root string, top *client.Node) []wantNode {
	var out []wantNode
	var add func(n *client.Node, parent int)
	add = func(n *client.Node, parent int) {
		i := len(out)
		w := wantNode{path: strings.TrimPrefix(n.Key, "/"), dir: n.Dir, exp: n.Expiration, parent: parent}
		if !n.Dir {
			w.value = n.Value
		}
		out = append(out, w)
		for _, c := range n.Nodes {
			add(c, i)
		}
	}
	if root == "" {
		if top != nil {
			for _, c := range top.Nodes {
				add(c, -1)
			}
		}
		return out
	}
	paths := chainPaths(root)
	for i, p := range paths[:len(paths)-1] {
		out = append(out, wantNode{path: p, dir: true, parent: i - 1, above: true})
	}
	if top != nil {
		add(top, len(out)-1)
	}
	return out
}

// readTree reads the node keys of the v3 tree under the root (by path)
// and the nodes of the root's chain, at one revision.
func (m *migrator) readTree(ctx context.Context) (map[string][]*kv, []*kv, error) {
	const name = "migrate read"
	have := map[string][]*kv{}
	key, end := m.k.l.nodeSpace()
	err := m.scan(ctx, name, key, end, func(x *kv) error {
		if pk, ok := m.k.l.parse(x.key); ok && inRoot(m.root, pk.path) {
			have[pk.path] = append(have[pk.path], x)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if m.root == "" {
		return have, nil, nil
	}
	s, err := m.k.read(ctx, name, m.root, need{})
	if err != nil {
		return nil, nil, err
	}
	return have, s.chain, nil
}

// scan calls fn with every key of [key, end), read in pages at one
// revision.
func (m *migrator) scan(ctx context.Context, name string, key, end []byte, fn func(x *kv) error) error {
	var rev int64
	for {
		req := v3gen.RangeRequest{Key: key, RangeEnd: end, Limit: str(copyPage)}
		if rev > 0 {
			req.Revision = str(rev)
		}
		var rr v3gen.RangeResponse
		err := m.k.g.call(ctx, client.RequestRead, name, func(ctx context.Context, edit v3gen.RequestEditorFn) (*http.Response, error) {
			return m.k.g.api.KvRange(ctx, req, edit)
		}, &rr)
		if err != nil {
			return err
		}
		if rev == 0 {
			h, err := decodeHeader(rr.Header)
			if err != nil {
				return fmt.Errorf("v3keys: %s: %w", name, err)
			}
			rev = h.rev
		}
		for i := range rr.Kvs {
			x, err := decodeKV(&rr.Kvs[i])
			if err != nil {
				return fmt.Errorf("v3keys: %s: %w", name, err)
			}
			if err := fn(x); err != nil {
				return fmt.Errorf("v3keys: %s: %w", name, err)
			}
		}
		if !rr.More || len(rr.Kvs) == 0 {
			return nil
		}
		last := rr.Kvs[len(rr.Kvs)-1].Key
		key = append(last[:len(last):len(last)], 0)
	}
}

// readSeqs reads the in-order sequence keys of the prefix: the last
// in-order number of each, by key.
func (m *migrator) readSeqs(ctx context.Context) (map[string]uint64, error) {
	seqs := map[string]uint64{}
	key, end := m.k.l.seqSpace()
	err := m.scan(ctx, "migrate read", key, end, func(x *kv) error {
		n, err := seqValue(x.value)
		seqs[string(x.key)] = n
		return err
	})
	return seqs, err
}

// inOrderName tells a path whose last segment looks like an in-order name
// (twenty decimal digits): its directory and number.
func inOrderName(p string) (dir string, n uint64, ok bool) {
	name := p[strings.LastIndexByte(p, '/')+1:]
	if len(name) != 20 {
		return "", 0, false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseUint(name, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return parentPath(p), n, true
}

// seqRaise is the write that records in-order number n in directory dir
// when seqs (the sequence keys as v3 holds them) has a smaller one: the
// put and the change to seqs, which the caller makes once the put is in.
// ok is false when nothing is to be written.
func (m *migrator) seqRaise(seqs map[string]uint64, dir string, n uint64) (op v3gen.RequestOp, commit func(), ok bool) {
	key := m.k.l.seqKey(dir)
	if cur, had := seqs[string(key)]; had && cur >= n {
		return op, nil, false
	}
	return put(key, []byte(strconv.FormatUint(n, 10)), 0), func() { seqs[string(key)] = n }, true
}

// planSeqs lists the puts that record, for every directory of want with
// in-order-looking files, the largest of their numbers on the directory's
// sequence key, where seqs does not hold as much already, and records them
// in seqs.
func (m *migrator) planSeqs(want []wantNode, seqs map[string]uint64) []v3gen.RequestOp {
	top := map[string]uint64{}
	var dirs []string
	for _, w := range want {
		if w.dir || w.above {
			continue
		}
		if dir, n, ok := inOrderName(w.path); ok {
			if _, seen := top[dir]; !seen {
				dirs = append(dirs, dir)
			}
			top[dir] = max(top[dir], n)
		}
	}
	var ops []v3gen.RequestOp
	for _, dir := range dirs {
		if op, commit, ok := m.seqRaise(seqs, dir, top[dir]); ok {
			ops = append(ops, op)
			commit()
		}
	}
	return ops
}

// planCopy grants the leases of the snapshot's TTLs and lists the v3
// operations that make the tree under the root the snapshot's: puts of
// what differs (nodes with a lease first, so that short TTLs are written
// soon after their grant) and deletes of keys the snapshot does not hold.
// same counts the nodes already as they should be.
func (m *migrator) planCopy(ctx context.Context, want []wantNode, have map[string][]*kv, chain []*kv) (ops []v3gen.RequestOp, same int, err error) {
	leases, err := m.grantAll(ctx, want)
	if err != nil {
		return nil, 0, err
	}
	var leased, plain, dels []v3gen.RequestOp
	for i := range want {
		w := &want[i]
		if w.parent >= 0 {
			w.lease = want[w.parent].lease
		}
		if w.above {
			if cur := chain[i]; cur.dir() {
				w.lease = cur.lease
				same++
				continue
			} else if cur != nil {
				dels = append(dels, del(cur.key, nil))
			}
			w.lease = 0
			plain = append(plain, put(m.k.l.nodeKey(w.path, kindDir), nil, 0))
			continue
		}
		if w.exp != nil {
			id := leases[leaseGroup(*w.exp)]
			if id == w.lease {
				// A node's own lease must differ from its directory's:
				// the layout tells a TTL of its own by that.
				if id, err = m.grantFor(ctx, leaseGroup(*w.exp)); err != nil {
					return nil, 0, err
				}
			}
			w.lease = id
		}
		kind := kindDir
		var value []byte
		if !w.dir {
			kind, value = kindFile1, []byte(w.value)
		}
		var match *kv
		for _, h := range have[w.path] {
			if match == nil && h.kind == kind {
				match = h
				continue
			}
			dels = append(dels, del(h.key, nil))
		}
		delete(have, w.path)
		if match != nil && bytes.Equal(match.value, value) && match.lease == 0 && w.lease == 0 {
			same++
			continue
		}
		op := put(m.k.l.nodeKey(w.path, kind), value, w.lease)
		if w.lease != 0 {
			leased = append(leased, op)
		} else {
			plain = append(plain, op)
		}
	}
	for _, hs := range have {
		for _, h := range hs {
			dels = append(dels, del(h.key, nil))
		}
	}
	ops = append(append(leased, plain...), dels...)
	return ops, same, nil
}

// leaseGroup is the expiration the nodes that share a lease share: within
// a millisecond (nodes written together in v2 expire together).
func leaseGroup(exp time.Time) time.Time { return exp.Truncate(time.Millisecond) }

// grantWorkers bounds the lease grants in flight at once.
const grantWorkers = 8

// grantAll grants one lease per expiration group of the snapshot, each
// with the whole seconds that remain when it is granted (rounded down, so
// that a v3 key never outlives its v2 node). A dry run grants nothing and
// makes up ids.
func (m *migrator) grantAll(ctx context.Context, want []wantNode) (map[time.Time]int64, error) {
	leases := map[time.Time]int64{}
	var groups []time.Time
	for _, w := range want {
		if w.exp == nil {
			continue
		}
		if g := leaseGroup(*w.exp); leases[g] == 0 {
			leases[g] = -1
			groups = append(groups, g)
		}
	}
	if m.opts.DryRun {
		for i, g := range groups {
			leases[g] = -int64(i) - 1
		}
		return leases, nil
	}
	// Each lease is granted half a second past a whole number of seconds
	// before its expiration: it then ends within half a second of the
	// node's, and a read of it (whole seconds, rounded up) shows an
	// expiration within a second of v2's. The grants are spread over the
	// next second in that order.
	now := time.Now()
	at := func(g time.Time) time.Time {
		off := (g.Sub(now) - time.Second/2) % time.Second
		if off < 0 {
			off += time.Second
		}
		return now.Add(off)
	}
	sort.Slice(groups, func(i, j int) bool { return at(groups[i]).Before(at(groups[j])) })
	ids := make([]int64, len(groups))
	err := forEach(ctx, len(groups), grantWorkers, func(ctx context.Context, i int) error {
		if d := time.Until(at(groups[i])); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		id, err := m.grantFor(ctx, groups[i])
		ids[i] = id
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, g := range groups {
		leases[g] = ids[i]
	}
	return leases, nil
}

// grantFor grants a lease ending at exp, at the latest.
func (m *migrator) grantFor(ctx context.Context, exp time.Time) (int64, error) {
	if m.opts.DryRun {
		return -1 << 40, nil
	}
	return m.k.grant(ctx, "migrate copy", remainingTTL(&exp, time.Now()))
}

// forEach runs f for 0..n-1 with up to workers at once, and returns the
// first error (the others are cancelled).
func forEach(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	return first
}

// writeBatches writes ops in transactions of at most BatchOps operations
// and about batchBytes bytes, copyWorkers at a time.
func (m *migrator) writeBatches(ctx context.Context, ops []v3gen.RequestOp) error {
	var batches [][]v3gen.RequestOp
	for start := 0; start < len(ops); {
		end, size := start, 0
		for end < len(ops) && end-start < m.opts.BatchOps && (end == start || size+opSize(ops[end]) <= batchBytes) {
			size += opSize(ops[end])
			end++
		}
		batches = append(batches, ops[start:end])
		start = end
	}
	return forEach(ctx, len(batches), copyWorkers, func(ctx context.Context, i int) error {
		b := batches[i]
		if err := m.writeBatch(ctx, "migrate copy", b); err != nil {
			return err
		}
		n := 0
		for _, op := range b {
			if op.RequestPut != nil {
				n++
			}
		}
		m.update(func(p *MigrateProgress) { p.KeysCopied += n })
		return nil
	})
}

// opSize is about what op adds to a request.
func opSize(op v3gen.RequestOp) int {
	if op.RequestPut != nil {
		return len(op.RequestPut.Key) + len(op.RequestPut.Value) + copyOpOverhad
	}
	return len(op.RequestDeleteRange.Key) + copyOpOverhad
}

// leaseRetries bounds how often one batch is sent again after leases in
// it ended.
const leaseRetries = 10

// writeBatch writes one batch (of the copy, or of the follower). A lease
// that ended before its keys were written (a TTL of a second or two) fails
// the batch: its keys are deleted instead, as v2's expiry will report, and
// the batch sent again (more may end meanwhile).
func (m *migrator) writeBatch(ctx context.Context, name string, b []v3gen.RequestOp) error {
	gone := map[string]bool{}
	for attempt := 0; ; attempt++ {
		_, _, err := m.k.txn(ctx, client.RequestIdempotent, name, txnOf(b...))
		var ge *GatewayError
		if err == nil || !errors.As(err, &ge) || ge.Code != codeNotFound || attempt == leaseRetries {
			return err
		}
		fixed := make([]v3gen.RequestOp, 0, len(b))
		for _, op := range b {
			if pr := op.RequestPut; pr != nil && pr.Lease != "" {
				if !gone[pr.Lease] {
					ended, err := m.leaseEnded(ctx, name, pr.Lease)
					if err != nil {
						return err
					}
					gone[pr.Lease] = ended
				}
				if gone[pr.Lease] {
					op = del(pr.Key, nil)
				}
			}
			fixed = append(fixed, op)
		}
		b = fixed
	}
}

// leaseEnded reports whether the lease (as the gateway writes its id) has
// ended.
func (m *migrator) leaseEnded(ctx context.Context, name, lease string) (bool, error) {
	id, err := num(lease)
	if err != nil {
		return false, err
	}
	ttl, err := m.k.timeToLive(ctx, name, id)
	var ge *GatewayError
	switch {
	case errors.As(err, &ge) && ge.Code == codeNotFound:
		return true, nil // etcd 3.5 answers so for a lease that ended
	case err != nil:
		return false, err
	}
	return ttl == 0, nil
}

// txnOf is an unconditional transaction of ops.
func txnOf(ops ...v3gen.RequestOp) v3gen.TxnRequest {
	return v3gen.TxnRequest{Success: ops}
}

// rangeOp reads [key, end) (one key when end is nil).
func rangeOp(key, end []byte, keysOnly bool) v3gen.RequestOp {
	return v3gen.RequestOp{RequestRange: &v3gen.RangeRequest{Key: key, RangeEnd: end, KeysOnly: keysOnly}}
}

// countOp counts the keys in [key, end).
func countOp(key, end []byte) v3gen.RequestOp {
	return v3gen.RequestOp{RequestRange: &v3gen.RangeRequest{Key: key, RangeEnd: end, CountOnly: true}}
}

// absent holds while key does not exist.
func absent(key []byte) v3gen.Compare {
	return v3gen.Compare{Key: key, Target: v3gen.VERSION, Result: v3gen.EQUAL, Version: "0"}
}
