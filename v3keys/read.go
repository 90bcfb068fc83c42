package v3keys

// Get: one read transaction holds the chain of the key (for v2's errors
// and causes) and the levels of the tree below it, one range per depth, so
// a listing of one level reads that level only; a deep recursive listing
// reads further levels at the same revision. TTLs are read from the
// leases of the nodes that have their own.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
	"unsafe"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// getLevels is how many levels below the key a recursive Get reads in its
// first transaction; a deeper tree takes more transactions of up to
// moreLevels levels each.
const (
	getLevels  = 16
	moreLevels = 64
)

// ttlLookups bounds the lease lookups one Get runs at once.
const ttlLookups = 8

// getNode reads the node at p (canonical, "" the root) and its children
// (all levels if recursive).
func (k *keysAPI) getNode(ctx context.Context, p string, recursive, serializable bool) (*client.Response, error) {
	name := "get /" + p
	levels := 1
	if recursive {
		levels = getLevels
	}
	levels = min(levels, maxDepth-depthOf(p))
	paths := chainPaths(p)
	ops := make([]v3gen.RequestOp, 0, len(paths)+levels)
	for _, c := range paths {
		key, end := k.l.nodeRange(c)
		ops = append(ops, v3gen.RequestOp{RequestRange: &v3gen.RangeRequest{Key: key, RangeEnd: end, Serializable: serializable}})
	}
	for i := 1; i <= levels; i++ {
		key, end := k.l.levelRange(p, i)
		ops = append(ops, v3gen.RequestOp{RequestRange: &v3gen.RangeRequest{Key: key, RangeEnd: end, Serializable: serializable}})
	}
	out, h, err := k.txn(ctx, client.RequestRead, name, v3gen.TxnRequest{Success: ops})
	if err != nil {
		return nil, err
	}
	if len(out.Responses) != len(ops) {
		return nil, fmt.Errorf("v3keys: %s: %w: %d answers to %d reads", name, ErrNotGateway, len(out.Responses), len(ops))
	}
	s := &snapshot{path: p, h: h, names: paths, chain: make([]*kv, len(paths))}
	for i := range paths {
		if s.chain[i], err = pickNode(rangeKVs(out.Responses[i])); err != nil {
			return nil, fmt.Errorf("v3keys: %s: %w", name, err)
		}
	}
	cur, err := s.walk()
	if err != nil {
		return nil, err
	}
	r := h.response("get")
	var parentLease int64
	if cur == nil {
		r.Node = &client.Node{Dir: true}
	} else {
		r.Node = node(p, cur)
		parentLease = s.inheritedLease(len(s.chain) - 1)
	}
	t := &tree{l: k.l, dirs: map[string]*client.Node{p: r.Node}, leases: map[string]int64{p: 0}}
	if cur != nil {
		t.leases[p] = cur.lease
		t.own(r.Node, cur.lease, parentLease)
	}
	if cur == nil || cur.dir() {
		for i := 0; i < levels; i++ {
			if err = t.add(rangeKVs(out.Responses[len(paths)+i]), recursive); err != nil {
				return nil, fmt.Errorf("v3keys: %s: %w", name, err)
			}
		}
		for depth := levels; recursive && len(t.dirs) > 0 && depthOf(p)+depth < maxDepth; depth += moreLevels {
			n := min(moreLevels, maxDepth-depthOf(p)-depth)
			if err = k.moreLevels(ctx, name, t, p, depth, n, h.rev, serializable); err != nil {
				return nil, err
			}
		}
	}
	if err := k.fillTTLs(ctx, name, t.ttl); err != nil {
		return nil, err
	}
	return r, nil
}

// rangeKVs is the keys of a range answer inside a transaction.
func rangeKVs(r v3gen.ResponseOp) []v3gen.KeyValue {
	if r.ResponseRange == nil {
		return nil
	}
	return r.ResponseRange.Kvs
}

// moreLevels reads n levels below depth at revision rev into t.
func (k *keysAPI) moreLevels(ctx context.Context, name string, t *tree, p string, depth, n int, rev int64, serializable bool) error {
	ops := make([]v3gen.RequestOp, 0, n)
	for i := 1; i <= n; i++ {
		key, end := k.l.levelRange(p, depth+i)
		ops = append(ops, v3gen.RequestOp{RequestRange: &v3gen.RangeRequest{Key: key, RangeEnd: end, Revision: str(rev), Serializable: serializable}})
	}
	out, _, err := k.txn(ctx, client.RequestRead, name, v3gen.TxnRequest{Success: ops})
	if err != nil {
		return err
	}
	if len(out.Responses) != len(ops) {
		return fmt.Errorf("v3keys: %s: %w: %d answers to %d reads", name, ErrNotGateway, len(out.Responses), len(ops))
	}
	for _, r := range out.Responses {
		if err = t.add(rangeKVs(r), true); err != nil {
			return fmt.Errorf("v3keys: %s: %w", name, err)
		}
	}
	return nil
}

// tree assembles a listing level by level.
type tree struct {
	l layout
	a nodeAlloc
	// dirs are the listed directories by path, to hang the next level on.
	dirs map[string]*client.Node
	// leases are their leases, to tell a child's own lease from the one it
	// shares with its directory.
	leases map[string]int64
	// ttl lists the nodes with a lease of their own.
	ttl []leased
}

// leased is a node whose TTL is its lease's.
type leased struct {
	n     *client.Node
	lease int64
}

// own notes n's lease if it is n's own (not its directory's).
func (t *tree) own(n *client.Node, lease, parentLease int64) {
	if lease != 0 && lease != parentLease {
		t.ttl = append(t.ttl, leased{n, lease})
	}
}

// add hangs one level's keys (in key order) on their directories, leaving
// out hidden names and what lies below them. recursive keeps the
// directories of this level for the next.
func (t *tree) add(kvs []v3gen.KeyValue, recursive bool) error {
	next := make(map[string]*client.Node)
	// Each key is parsed once: the loop that finds where a node's keys end
	// parses the first key of the next node.
	var pk, o []byte
	var ok, ook bool
	if len(kvs) > 0 {
		pk, _, _, ok = t.l.parsePath(kvs[0].Key)
	}
	for i := 0; i < len(kvs); {
		j := i + 1
		// The keys of one node are next to each other.
		for ; j < len(kvs); j++ {
			if o, _, _, ook = t.l.parsePath(kvs[j].Key); !ook || !bytes.Equal(o, pk) {
				break
			}
		}
		cur, curOK := pk, ok
		x, _, err := pickKV(kvs[i:j])
		i, pk, ok = j, o, ook
		if !curOK {
			// Not a key of the layout: on its own (j is i+1).
			continue
		}
		if err != nil {
			return err
		}
		parent, base := []byte(nil), cur
		if s := bytes.LastIndexByte(cur, '/'); s >= 0 {
			parent, base = cur[:s], cur[s+1:]
		}
		dir := t.dirs[string(parent)]
		if dir == nil || base[0] == '_' {
			continue
		}
		n := t.a.node()
		setNode(n, t.a.str("/", cur), &x, t.a.str("", x.value))
		dir.Nodes = append(dir.Nodes, n)
		parentLease := t.leases[string(parent)]
		t.own(n, x.lease, parentLease)
		if recursive && x.dir() {
			next[n.Key[1:]] = n
			t.leases[n.Key[1:]] = x.lease
		}
	}
	if recursive {
		t.dirs = next
	}
	return nil
}

// nodeAlloc hands out the nodes of a listing and their strings as the v2
// client's decoder does: nodes from slabs of nodeSlab, keys and values
// sharing chunks of strChunk bytes, so that a large listing takes a few
// thousand allocations and a node kept after the rest is dropped keeps
// little else alive.
type nodeAlloc struct {
	slab  []client.Node
	chunk []byte // strings point into chunk[:len(chunk)], never written again
}

const (
	nodeSlab = 42
	strChunk = 4 << 10
)

func (a *nodeAlloc) node() *client.Node {
	if len(a.slab) == 0 {
		a.slab = make([]client.Node, nodeSlab)
	}
	n := &a.slab[0]
	a.slab = a.slab[1:]
	return n
}

// str returns lead followed by b as a string in the current chunk.
func (a *nodeAlloc) str(lead string, b []byte) string {
	n := len(lead) + len(b)
	if n == 0 {
		return ""
	}
	if cap(a.chunk)-len(a.chunk) < n {
		a.chunk = make([]byte, 0, max(strChunk, n))
	}
	start := len(a.chunk)
	a.chunk = append(append(a.chunk, lead...), b...)
	return unsafe.String(&a.chunk[start], n)
}

// fillTTLs sets the TTL and expiration of nodes from their leases: the
// remaining time rounded up, as v2 shows it.
func (k *keysAPI) fillTTLs(ctx context.Context, name string, nodes []leased) error {
	if len(nodes) == 0 {
		return nil
	}
	byLease := map[int64][]*client.Node{}
	for _, x := range nodes {
		byLease[x.lease] = append(byLease[x.lease], x.n)
	}
	type result struct {
		lease, ttl int64
		err        error
	}
	leases := make(chan int64)
	results := make(chan result)
	var wg sync.WaitGroup
	for range min(ttlLookups, len(byLease)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range leases {
				ttl, err := k.timeToLive(ctx, name, id)
				results <- result{id, ttl, err}
			}
		}()
	}
	go func() {
		for id := range byLease {
			leases <- id
		}
		close(leases)
		wg.Wait()
		close(results)
	}()
	var first error
	for r := range results {
		if r.err != nil {
			if first == nil {
				first = r.err
			}
			continue
		}
		exp := time.Now().Add(time.Duration(r.ttl) * time.Second).UTC()
		for _, n := range byLease[r.lease] {
			n.TTL, n.Expiration = r.ttl, &exp
		}
	}
	return first
}

// timeToLive is a lease's remaining TTL as v2 shows it: whole seconds
// rounded up, at most the granted TTL; 0 for a lease that just ended.
func (k *keysAPI) timeToLive(ctx context.Context, name string, id int64) (int64, error) {
	var out v3gen.LeaseTimeToLiveResponse
	err := k.g.call(ctx, client.RequestRead, name, func(ctx context.Context, edit v3gen.RequestEditorFn) (*http.Response, error) {
		return k.g.api.LeaseTimeToLive(ctx, v3gen.LeaseTimeToLiveRequest{ID: str(id)}, edit)
	}, &out)
	if err != nil {
		return 0, err
	}
	ttl, err := num(out.TTL)
	if err != nil {
		return 0, fmt.Errorf("v3keys: %s: %w", name, err)
	}
	granted, err := num(out.GrantedTTL)
	if err != nil {
		return 0, fmt.Errorf("v3keys: %s: %w", name, err)
	}
	if ttl < 0 {
		return 0, nil
	}
	return min(ttl+1, max(granted, ttl)), nil
}
