package v3keys

// Writes: each v2 write is worked out (planned) against a snapshot of its
// path and applied as one v3 transaction guarded by that snapshot. When the
// guard fails, the transaction's other branch has read a fresh snapshot,
// and the write is planned again from it; a write is never applied twice.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// maxTries bounds how often one write is planned again after other writers
// changed its path in between.
const maxTries = 64

// maxTxnOps is what a transaction may hold (etcd's default --max-txn-ops).
const maxTxnOps = 128

// plan is one v2 write worked out against a snapshot.
type plan struct {
	cmps []v3gen.Compare
	ops  []v3gen.RequestOp
	// ttl > 0 asks for a lease of that many seconds; the write is planned
	// again with its id.
	ttl int64
	// act is what watchers see: the action and the node's key.
	act string
	// result makes the answer from the header of the applied transaction.
	result func(h header) *client.Response
	// prevLease is the lease of the node before the write when it was the
	// node's own: the answer's previous node shows its TTL.
	prevLease int64
	// creates names a node the guard requires to be absent although the
	// snapshot does not read it (an in-order name): when the guard fails
	// and the snapshot is unchanged, that node exists.
	creates string
}

// planner works out a write from a snapshot and the lease granted for it
// (0 before one is).
type planner func(s *snapshot, lease int64) (*plan, error)

// needMore is a planner's request for a snapshot that reads more.
type needMore struct {
	levels  int  // count this many levels below the path
	subtree bool // read the keys below the path
}

func (needMore) Error() string { return "v3keys: internal: the snapshot must read more" }

// write applies the write mk plans, for path p, reading what n says.
func (k *keysAPI) write(ctx context.Context, op string, class client.RequestClass, p string, n need, mk planner) (*client.Response, error) {
	name := op + " /" + p
	var s *snapshot
	var err error
	if n.guess {
		s = k.l.guessSnapshot(p)
	} else if s, err = k.read(ctx, name, p, n); err != nil {
		return nil, err
	}
	var lease int64
	// resent is the failure after which a transaction of this write was
	// sent again (an idempotent write): it may have been applied then.
	var resent error
	for tries := 0; ; tries++ {
		pl, err := mk(s, lease)
		var more needMore
		if errors.As(err, &more) {
			if more.levels > 0 {
				n.levels = more.levels
			}
			if more.subtree {
				if s.subtree, err = k.subtree(ctx, name, s); err != nil {
					return nil, err
				}
				continue
			}
			if s, err = k.read(ctx, name, p, n); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil && s.guessed {
			// Only what was read may decide an error.
			if s, err = k.read(ctx, name, p, n); err != nil {
				return nil, err
			}
			continue
		}
		var ce client.Error
		if err != nil && resent != nil && errors.As(err, &ce) && ce.Code == client.ErrorCodeKeyNotFound {
			// A delete resent after an attempt that may have applied it:
			// "not found" may be that attempt's doing.
			return nil, &client.OutcomeUnknownError{Op: name, Endpoint: endpointOfErr(resent),
				Err: fmt.Errorf("the key was not found when the delete was resent after %v: %w", resent, err)}
		}
		if err != nil {
			return nil, err
		}
		if pl.ttl > 0 && lease == 0 {
			if lease, err = k.grant(ctx, name, pl.ttl); err != nil {
				return nil, err
			}
			continue
		}
		if len(pl.ops)+1 > maxTxnOps || len(pl.cmps) > maxTxnOps {
			return nil, fmt.Errorf("v3keys: %s: the write needs %d operations, more than one v3 transaction holds (%d)", name, len(pl.ops)+1, maxTxnOps)
		}
		success := append(pl.ops, v3gen.RequestOp{RequestPut: &v3gen.PutRequest{Key: k.l.act, Value: []byte(pl.act)}})
		failure := k.l.readOps(p, n, false)
		out, h, again, err := k.txnResent(ctx, class, name, v3gen.TxnRequest{Compare: pl.cmps, Success: success, Failure: failure})
		if err != nil {
			return nil, err
		}
		if again != nil && resent == nil {
			resent = again
		}
		if out.Succeeded {
			r := pl.result(h)
			if pl.prevLease != 0 && r.PrevNode != nil {
				if err := k.fillTTLs(ctx, name, []leased{{r.PrevNode, pl.prevLease}}); err != nil {
					return nil, err
				}
			}
			return r, nil
		}
		prev := s
		if s, err = parseSnapshot(p, n, h, out.Responses); err != nil {
			return nil, fmt.Errorf("v3keys: %s: %w", name, err)
		}
		if pl.creates != "" && s.h.rev == prev.h.rev && sameState(prev, s) {
			// The guard failed on what the snapshot does not read: the
			// node the write would create exists.
			return nil, s.v2err(client.ErrorCodeNodeExist, "/"+pl.creates)
		}
		if tries >= maxTries {
			return nil, fmt.Errorf("v3keys: %s: other writers changed /%s %d times in a row; giving up", name, p, tries+1)
		}
	}
}

// sameState reports whether two snapshots read the same keys.
func sameState(a, b *snapshot) bool {
	if len(a.chain) != len(b.chain) || a.seqMod != b.seqMod || len(a.levelCounts) != len(b.levelCounts) {
		return false
	}
	for i := range a.chain {
		x, y := a.chain[i], b.chain[i]
		if (x == nil) != (y == nil) || (x != nil && x.mod != y.mod) {
			return false
		}
	}
	for i := range a.levelCounts {
		if a.levelCounts[i] != b.levelCounts[i] {
			return false
		}
	}
	return true
}

// txn sends a transaction with class and returns its answer and header.
func (k *keysAPI) txn(ctx context.Context, class client.RequestClass, name string, req v3gen.TxnRequest) (*v3gen.TxnResponse, header, error) {
	out, h, _, err := k.txnResent(ctx, class, name, req)
	return out, h, err
}

// txnResent is txn that also returns, when the transaction was sent again
// after an attempt that may have reached a member, that attempt's failure
// (client.ResentAfter).
func (k *keysAPI) txnResent(ctx context.Context, class client.RequestClass, name string, req v3gen.TxnRequest) (*v3gen.TxnResponse, header, error, error) {
	var out v3gen.TxnResponse
	resent, err := k.g.callResent(ctx, class, name, func(ctx context.Context, edit v3gen.RequestEditorFn) (*http.Response, error) {
		return k.g.api.KvTxn(ctx, req, edit)
	}, &out)
	if err != nil {
		return nil, header{}, nil, err
	}
	h, err := decodeHeader(out.Header)
	if err != nil {
		return nil, header{}, nil, fmt.Errorf("v3keys: %s: %w", name, err)
	}
	return &out, h, resent, nil
}

// endpointOfErr names the member of a pipeline failure (a
// *client.EndpointError), or "the member".
func endpointOfErr(err error) string {
	var ee *client.EndpointError
	if errors.As(err, &ee) {
		return ee.Endpoint
	}
	return "the member"
}

// read takes a linearizable snapshot of p.
func (k *keysAPI) read(ctx context.Context, name, p string, n need) (*snapshot, error) {
	out, h, err := k.txn(ctx, client.RequestRead, name, v3gen.TxnRequest{Success: k.l.readOps(p, n, false)})
	if err != nil {
		return nil, err
	}
	s, err := parseSnapshot(p, n, h, out.Responses)
	if err != nil {
		return nil, fmt.Errorf("v3keys: %s: %w", name, err)
	}
	return s, nil
}

// grant makes a lease of ttl seconds.
func (k *keysAPI) grant(ctx context.Context, name string, ttl int64) (int64, error) {
	var out v3gen.LeaseGrantResponse
	err := k.g.call(ctx, client.RequestIdempotent, name, func(ctx context.Context, edit v3gen.RequestEditorFn) (*http.Response, error) {
		return k.g.api.LeaseGrant(ctx, v3gen.LeaseGrantRequest{TTL: str(ttl)}, edit)
	}, &out)
	if err != nil {
		return 0, err
	}
	id, err := num(out.ID)
	if err == nil && id == 0 {
		err = fmt.Errorf("%w: a lease grant without an id", ErrNotGateway)
	}
	if err != nil {
		return 0, fmt.Errorf("v3keys: %s: %w", name, err)
	}
	return id, nil
}

// subtree reads the keys below the snapshot's path (without values) at the
// snapshot's revision, level by level.
func (k *keysAPI) subtree(ctx context.Context, name string, s *snapshot) ([]*kv, error) {
	var out []*kv
	for extra := 1; depthOf(s.path)+extra <= maxDepth; extra++ {
		key, end := k.l.levelRange(s.path, extra)
		var rr v3gen.RangeResponse
		err := k.g.call(ctx, client.RequestRead, name, func(ctx context.Context, edit v3gen.RequestEditorFn) (*http.Response, error) {
			return k.g.api.KvRange(ctx, v3gen.RangeRequest{Key: key, RangeEnd: end, KeysOnly: true, Revision: str(s.h.rev)}, edit)
		}, &rr)
		if err != nil {
			return nil, err
		}
		if len(rr.Kvs) == 0 {
			return out, nil
		}
		for i := range rr.Kvs {
			x, err := decodeKV(&rr.Kvs[i])
			if err != nil {
				return nil, fmt.Errorf("v3keys: %s: %w", name, err)
			}
			out = append(out, x)
		}
	}
	return out, nil
}

// put is a put operation.
func put(key, value []byte, lease int64) v3gen.RequestOp {
	pr := &v3gen.PutRequest{Key: key, Value: value}
	if lease != 0 {
		pr.Lease = str(lease)
	}
	return v3gen.RequestOp{RequestPut: pr}
}

// del is a delete of one key, or of [key, end).
func del(key, end []byte) v3gen.RequestOp {
	return v3gen.RequestOp{RequestDeleteRange: &v3gen.DeleteRangeRequest{Key: key, RangeEnd: end}}
}

// node is the v2 node of a key as v2 shows it in answers (no children).
func node(p string, x *kv) *client.Node {
	n := &client.Node{}
	setNode(n, "/"+p, x, string(x.value))
	return n
}

// setNode makes n the node of x under the v2 key key, with value as its
// value if it is a file.
func setNode(n *client.Node, key string, x *kv, value string) {
	*n = client.Node{Key: key, Dir: x.dir(), CreatedIndex: uint64(x.create), ModifiedIndex: uint64(x.mod)}
	if !n.Dir {
		n.Value = value
	}
}

// withTTL gives n a TTL of ttl seconds from now.
func withTTL(n *client.Node, ttl int64) {
	if ttl <= 0 {
		return
	}
	exp := time.Now().Add(time.Duration(ttl) * time.Second).UTC()
	n.TTL, n.Expiration = ttl, &exp
}

// writeOpts is what the planners of Set, Create and Update share.
type writeOpts struct {
	value     string
	dir       bool
	ttl       int64
	refresh   bool
	noValue   bool
	prevValue string
	prevIndex uint64
}

// answer is the Response of a write: the node and previous node, or only
// the action with NoValueOnSuccess.
func (w *writeOpts) answer(h header, action string, n, prev *client.Node) *client.Response {
	r := h.response(action)
	if w.noValue {
		return r
	}
	r.Node, r.PrevNode = n, prev
	return r
}

// actOf is the action key's value for a write of p: the action, the
// node's expiration (Unix nanoseconds, 0 for none) when it gets a TTL of
// its own, and its key, e.g. "set 0 /jobs/42".
func actOf(action, p string, refresh bool, ttl int64) string {
	if refresh {
		action = actRefresh
	}
	var exp int64
	if ttl > 0 {
		exp = time.Now().Add(time.Duration(ttl) * time.Second).UnixNano()
	}
	return action + " " + strconv.FormatInt(exp, 10) + " /" + p
}

// actRefresh marks a write that v2 does not report to watchers.
const actRefresh = "refresh"

// planCreate is the v2 store's internalCreate: a set (replace) or a create
// of p, making the directories above it that are missing. prev is the node
// the caller read (for a set).
func (k *keysAPI) planCreate(s *snapshot, lease int64, w *writeOpts, replace bool, action string) (*plan, error) {
	first, err := s.dirsAbove()
	if err != nil {
		return nil, err
	}
	i := len(s.chain) - 1
	cur := s.chain[i]
	if cur != nil {
		if !replace {
			return nil, s.v2err(client.ErrorCodeNodeExist, "/"+s.path)
		}
		if cur.dir() {
			return nil, s.v2err(client.ErrorCodeNotFile, "/"+s.path)
		}
	}
	if w.ttl > 0 && lease == 0 {
		return &plan{ttl: w.ttl}, nil
	}
	inherited := s.inheritedLease(i)
	pl := &plan{cmps: k.l.guards(s), act: actOf(action, s.path, w.refresh, w.ttl), prevLease: s.ownLease(i)}
	for j := first; j < i; j++ {
		pl.ops = append(pl.ops, put(k.l.nodeKey(s.names[j], kindDir), nil, inherited))
	}
	kind := kindFile1
	if cur != nil {
		pl.ops = append(pl.ops, del(cur.key, nil))
		kind = otherSlot(cur.kind)
	}
	var value []byte
	if w.dir {
		kind = kindDir
	} else {
		value = []byte(w.value)
	}
	nodeLease := inherited
	if w.ttl > 0 {
		nodeLease = lease
	}
	pl.ops = append(pl.ops, put(k.l.nodeKey(s.path, kind), value, nodeLease))
	pl.result = func(h header) *client.Response {
		n := &client.Node{Key: "/" + s.path, Dir: w.dir, CreatedIndex: uint64(h.rev), ModifiedIndex: uint64(h.rev)}
		if !w.dir {
			n.Value = w.value
		}
		withTTL(n, w.ttl)
		var prev *client.Node
		if cur != nil {
			prev = node(s.path, cur)
		}
		return w.answer(h, action, n, prev)
	}
	return pl, nil
}

// planRewrite writes p's value (and TTL) in place, keeping its created
// index: update and compare-and-swap. For a directory whose lease changes,
// the keys below it that expire with it move to its new lease too.
func (k *keysAPI) planRewrite(s *snapshot, lease int64, w *writeOpts, cur *kv, action string) (*plan, error) {
	if w.ttl > 0 && lease == 0 {
		return &plan{ttl: w.ttl}, nil
	}
	i := len(s.chain) - 1
	nodeLease := s.inheritedLease(i)
	if w.ttl > 0 {
		nodeLease = lease
	}
	value := []byte(w.value)
	if w.refresh {
		value = cur.value
	}
	pl := &plan{cmps: k.l.guards(s), act: actOf(action, s.path, w.refresh, w.ttl), prevLease: s.ownLease(i)}
	if cur.dir() {
		value = nil
		if nodeLease != cur.lease {
			if s.subtree == nil {
				return nil, needMore{subtree: true}
			}
			for _, x := range s.subtree {
				if x.lease == cur.lease {
					pl.cmps = append(pl.cmps, v3gen.Compare{Key: x.key, Target: v3gen.LEASE, Result: v3gen.EQUAL, Lease: str(x.lease)})
					pl.ops = append(pl.ops, v3gen.RequestOp{RequestPut: &v3gen.PutRequest{Key: x.key, Lease: str(nodeLease), IgnoreValue: true}})
				}
			}
		}
	}
	pl.ops = append(pl.ops, put(cur.key, value, nodeLease))
	pl.result = func(h header) *client.Response {
		n := &client.Node{Key: "/" + s.path, Dir: cur.dir(), CreatedIndex: uint64(cur.create), ModifiedIndex: uint64(h.rev)}
		if !n.Dir {
			n.Value = string(value)
		}
		withTTL(n, w.ttl)
		return w.answer(h, action, n, node(s.path, cur))
	}
	return pl, nil
}

// planSet routes a PUT the way the v2 server does: update, compare-and-swap,
// create or set.
func (k *keysAPI) planSet(o *client.SetOptions, w *writeOpts) planner {
	return func(s *snapshot, lease int64) (*plan, error) {
		conditional := o.PrevIndex != 0 || o.PrevValue != ""
		switch {
		case o.PrevExist == client.PrevExist && !conditional:
			cur, err := s.walk()
			if err != nil {
				return nil, err
			}
			if cur.dir() && w.value != "" {
				return nil, s.v2err(client.ErrorCodeNotFile, "/"+s.path)
			}
			return k.planRewrite(s, lease, w, cur, "update")
		case conditional && o.PrevExist != client.PrevNoExist:
			cur, err := s.walk()
			if err != nil {
				return nil, err
			}
			if cur.dir() {
				return nil, s.v2err(client.ErrorCodeNotFile, "/"+s.path)
			}
			if cause, ok := compareFailCause(cur, w.prevValue, w.prevIndex); !ok {
				return nil, s.v2err(client.ErrorCodeTestFailed, cause)
			}
			return k.planRewrite(s, lease, w, cur, "compareAndSwap")
		case o.PrevExist == client.PrevNoExist:
			return k.planCreate(s, lease, w, false, "create")
		}
		// A plain set: the v2 store reads the node first, and a refresh
		// needs it.
		cur, err := s.walk()
		var ke client.Error
		if err != nil && (!errors.As(err, &ke) || ke.Code != client.ErrorCodeKeyNotFound || w.refresh) {
			return nil, err
		}
		if w.refresh && cur != nil && !cur.dir() {
			w2 := *w
			w2.value = string(cur.value)
			return k.planCreate(s, lease, &w2, true, "set")
		}
		return k.planCreate(s, lease, w, true, "set")
	}
}

// planDelete is the v2 store's Delete (no conditions) or CompareAndDelete.
func (k *keysAPI) planDelete(o *client.DeleteOptions) planner {
	return func(s *snapshot, _ int64) (*plan, error) {
		cur, err := s.walk()
		if err != nil {
			return nil, err
		}
		action := "delete"
		pl := &plan{cmps: k.l.guards(s), prevLease: s.ownLease(len(s.chain) - 1)}
		if o.PrevValue != "" || o.PrevIndex != 0 {
			if cur.dir() {
				return nil, s.v2err(client.ErrorCodeNotFile, "/"+s.path)
			}
			if cause, ok := compareFailCause(cur, o.PrevValue, o.PrevIndex); !ok {
				return nil, s.v2err(client.ErrorCodeTestFailed, cause)
			}
			action = "compareAndDelete"
		} else if cur.dir() {
			recursive := o.Recursive
			if !o.Dir && !recursive {
				return nil, s.v2err(client.ErrorCodeNotFile, "/"+s.path)
			}
			if !recursive {
				if s.levelCounts[0] > 0 {
					return nil, s.v2err(client.ErrorCodeDirNotEmpty, "/"+s.path)
				}
				pl.cmps = append(pl.cmps, k.l.emptyLevel(s.path, 1))
			} else {
				empty := 0
				for j, c := range s.levelCounts {
					if c == 0 {
						empty = j + 1
						break
					}
				}
				if empty == 0 {
					deeper := 2 * len(s.levelCounts)
					if room := maxTxnOps - 2*len(s.chain) - 8; deeper > room {
						deeper = room
					}
					if deeper <= len(s.levelCounts) || depthOf(s.path)+len(s.levelCounts) >= maxDepth {
						return nil, fmt.Errorf("v3keys: delete /%s: the tree is more than %d levels deep; one v3 transaction cannot delete it", s.path, len(s.levelCounts))
					}
					return nil, needMore{levels: deeper}
				}
				for j := 1; j < empty; j++ {
					key, end := k.l.levelRange(s.path, j)
					pl.ops = append(pl.ops, del(key, end))
				}
				pl.cmps = append(pl.cmps, k.l.emptyLevel(s.path, empty))
				seq := k.l.seqKey(s.path + "/")
				pl.ops = append(pl.ops, del(seq, append(seq[:len(seq)-1:len(seq)-1], '/'+1)))
			}
			pl.ops = append(pl.ops, del(k.l.seqKey(s.path), nil))
		}
		pl.ops = append(pl.ops, del(cur.key, nil))
		pl.act = actOf(action, s.path, false, 0)
		pl.result = func(h header) *client.Response {
			r := h.response(action)
			r.Node = &client.Node{Key: "/" + s.path, Dir: cur.dir(), CreatedIndex: uint64(cur.create), ModifiedIndex: uint64(h.rev)}
			r.PrevNode = node(s.path, cur)
			return r
		}
		return pl, nil
	}
}

// planInOrder is the v2 store's unique create: a file named by the next
// index, 20 digits, in directory p. The name is the revision the snapshot
// was read at plus one, which is the write's own revision unless another
// write came in between, or the last number used in the directory (the
// value of its sequence key) plus one when that is larger. The transaction
// requires the sequence key unchanged since the read and records the new
// number on it, so the names of one directory increase in the order they
// were created.
func (k *keysAPI) planInOrder(w *writeOpts) planner {
	return func(s *snapshot, lease int64) (*plan, error) {
		first := len(s.chain)
		for i, n := range s.chain {
			if n == nil {
				first = i
				break
			}
			if !n.dir() {
				return nil, s.v2err(client.ErrorCodeNotDir, "/"+s.names[i])
			}
		}
		if w.ttl > 0 && lease == 0 {
			return &plan{ttl: w.ttl}, nil
		}
		seqNo := uint64(s.h.rev) + 1
		if s.seqLast >= seqNo {
			if s.seqLast == math.MaxUint64 {
				return nil, fmt.Errorf("v3keys: create in order in /%s: its sequence key holds the largest number (%d); no name is left", s.path, s.seqLast)
			}
			seqNo = s.seqLast + 1
		}
		name := fmt.Sprintf("%020d", seqNo)
		p := name
		if s.path != "" {
			p = s.path + "/" + name
		}
		if err := checkDepth(p); err != nil {
			return nil, err
		}
		inherited := s.inheritedLease(len(s.chain))
		pl := &plan{cmps: k.l.guards(s), act: actOf("create", p, false, w.ttl), creates: p}
		seq := k.l.seqKey(s.path)
		key, end := k.l.nodeRange(p)
		pl.cmps = append(pl.cmps,
			v3gen.Compare{Key: seq, Target: v3gen.MOD, Result: v3gen.EQUAL, ModRevision: str(s.seqMod)},
			v3gen.Compare{Key: key, RangeEnd: end, Target: v3gen.VERSION, Result: v3gen.EQUAL, Version: "0"})
		for j := first; j < len(s.chain); j++ {
			pl.ops = append(pl.ops, put(k.l.nodeKey(s.names[j], kindDir), nil, inherited))
		}
		nodeLease := inherited
		if w.ttl > 0 {
			nodeLease = lease
		}
		pl.ops = append(pl.ops, put(seq, []byte(strconv.FormatUint(seqNo, 10)), 0), put(k.l.nodeKey(p, kindFile1), []byte(w.value), nodeLease))
		pl.result = func(h header) *client.Response {
			n := &client.Node{Key: "/" + p, Value: w.value, CreatedIndex: uint64(h.rev), ModifiedIndex: uint64(h.rev)}
			withTTL(n, w.ttl)
			return w.answer(h, "create", n, nil)
		}
		return pl, nil
	}
}
