package v3keys

// Snapshots: what one read transaction says about a path (the path and each
// directory above it), at one revision, and the v2 store's rules applied to
// it (the errors of a walk down the tree, with v2's causes).

import (
	"fmt"
	"strconv"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// kv is a node's key as read.
type kv struct {
	key     []byte
	kind    byte
	value   []byte
	create  int64
	mod     int64
	version int64
	lease   int64
}

func (k *kv) dir() bool { return k != nil && k.kind == kindDir }

// decodeKV reads one of the gateway's KeyValues.
func decodeKV(g *v3gen.KeyValue) (*kv, error) {
	out := &kv{}
	if err := decodeKVInto(g, out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeKVInto is decodeKV into out.
func decodeKVInto(g *v3gen.KeyValue, out *kv) error {
	*out = kv{key: g.Key, value: g.Value}
	var err error
	if out.create, err = num(g.CreateRevision); err != nil {
		return err
	}
	if out.mod, err = num(g.ModRevision); err != nil {
		return err
	}
	if out.version, err = num(g.Version); err != nil {
		return err
	}
	if out.lease, err = num(g.Lease); err != nil {
		return err
	}
	if n := len(g.Key); n > 0 {
		out.kind = g.Key[n-1]
	}
	return nil
}

// header is what the pipeline answers besides the keys.
type header struct {
	rev       int64
	clusterID string // hexadecimal, as v2 writes it
	raftTerm  uint64
}

func decodeHeader(h *v3gen.ResponseHeader) (header, error) {
	if h == nil {
		return header{}, fmt.Errorf("%w: no header", ErrNotGateway)
	}
	rev, err := num(h.Revision)
	if err != nil {
		return header{}, err
	}
	cid, err := unum(h.ClusterId)
	if err != nil {
		return header{}, err
	}
	term, err := unum(h.RaftTerm)
	if err != nil {
		return header{}, err
	}
	return header{rev: rev, clusterID: fmt.Sprintf("%x", cid), raftTerm: term}, nil
}

// response makes a v2 Response carrying h.
func (h header) response(action string) *client.Response {
	return &client.Response{Action: action, Index: uint64(h.rev), ClusterID: h.clusterID, RaftTerm: h.raftTerm}
}

// need says what a snapshot reads besides the chain of path.
type need struct {
	// children counts the direct children of path.
	children bool
	// levels counts the keys at each of the first levels depths below path.
	levels int
	// seq reads the in-order sequence key of path.
	seq bool
	// guess starts a write from the likely state instead of a read: the
	// directories above the path exist without a lease and the path does
	// not (see guessSnapshot).
	guess bool
}

// snapshot is the state of a path's chain at one revision.
type snapshot struct {
	path string
	need need
	h    header
	// chain[i] is the node at the first i+1 segments of path (nil when
	// absent); empty for the root.
	chain []*kv
	// names[i] is that node's path.
	names []string
	// levelCounts[i] is the number of keys i+1 levels below path.
	levelCounts []int64
	// seqMod is the mod revision of the in-order sequence key (0: none).
	seqMod int64
	// seqLast is the last in-order number used in the directory, as its
	// sequence key holds it (0: none recorded).
	seqLast uint64
	// subtree is the keys below the path, when a write asked for them.
	subtree []*kv
	// guessed marks a snapshot that was not read (guessSnapshot): its
	// directories' revisions are unknown.
	guessed bool
}

// guessSnapshot is the state a write of p to a new key most likely finds,
// made without reading: every directory above p exists without a lease of
// its own, and p does not exist. A write planned from it is guarded by
// exactly that, so when the guess is wrong the transaction applies nothing
// and its other branch reads the real state; when it is right (a new key in
// an existing directory) the write takes one round trip instead of two.
func (l layout) guessSnapshot(p string) *snapshot {
	paths := chainPaths(p)
	s := &snapshot{path: p, names: paths, chain: make([]*kv, len(paths)), guessed: true}
	for i := 0; i < len(paths)-1; i++ {
		s.chain[i] = &kv{key: l.nodeKey(paths[i], kindDir), kind: kindDir}
	}
	return s
}

// chainPaths lists the paths from the first segment of p down to p.
func chainPaths(p string) []string {
	if p == "" {
		return nil
	}
	var out []string
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}

// readOps are the range operations of a snapshot of p.
func (l layout) readOps(p string, n need, serializable bool) []v3gen.RequestOp {
	paths := chainPaths(p)
	ops := make([]v3gen.RequestOp, 0, len(paths)+n.levels+2)
	for _, c := range paths {
		k, e := l.nodeRange(c)
		ops = append(ops, v3gen.RequestOp{RequestRange: &v3gen.RangeRequest{Key: k, RangeEnd: e, Serializable: serializable}})
	}
	levels := n.levels
	if n.children && levels < 1 {
		levels = 1
	}
	for i := 1; i <= levels; i++ {
		k, e := l.levelRange(p, i)
		ops = append(ops, v3gen.RequestOp{RequestRange: &v3gen.RangeRequest{Key: k, RangeEnd: e, CountOnly: true, Serializable: serializable}})
	}
	if n.seq {
		ops = append(ops, v3gen.RequestOp{RequestRange: &v3gen.RangeRequest{Key: l.seqKey(p), Serializable: serializable}})
	}
	return ops
}

// parseSnapshot reads the answers to readOps.
func parseSnapshot(p string, n need, h header, resps []v3gen.ResponseOp) (*snapshot, error) {
	paths := chainPaths(p)
	levels := n.levels
	if n.children && levels < 1 {
		levels = 1
	}
	want := len(paths) + levels
	if n.seq {
		want++
	}
	if len(resps) != want {
		return nil, fmt.Errorf("%w: %d answers to %d reads", ErrNotGateway, len(resps), want)
	}
	s := &snapshot{path: p, need: n, h: h, names: paths, chain: make([]*kv, len(paths))}
	for i := range paths {
		rr := resps[i].ResponseRange
		if rr == nil {
			return nil, fmt.Errorf("%w: a read answered something else", ErrNotGateway)
		}
		node, err := pickNode(rr.Kvs)
		if err != nil {
			return nil, err
		}
		s.chain[i] = node
	}
	for i := 0; i < levels; i++ {
		rr := resps[len(paths)+i].ResponseRange
		if rr == nil {
			return nil, fmt.Errorf("%w: a count answered something else", ErrNotGateway)
		}
		c, err := num(rr.Count)
		if err != nil {
			return nil, err
		}
		s.levelCounts = append(s.levelCounts, c)
	}
	if n.seq {
		rr := resps[want-1].ResponseRange
		if rr == nil {
			return nil, fmt.Errorf("%w: a read answered something else", ErrNotGateway)
		}
		if len(rr.Kvs) > 0 {
			m, err := num(rr.Kvs[0].ModRevision)
			if err != nil {
				return nil, err
			}
			s.seqMod = m
			if s.seqLast, err = seqValue(rr.Kvs[0].Value); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// seqValue reads the last in-order number a sequence key holds: decimal,
// or empty for none.
func seqValue(v []byte) (uint64, error) {
	if len(v) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: an in-order sequence key holds %q, not a decimal number", ErrNotGateway, v)
	}
	return n, nil
}

// pickNode turns the keys of one node range into the node: its directory
// key if it has one, else the newest file slot. (Only a writer that does
// not follow the layout leaves more than one.) It is nil for no keys.
func pickNode(kvs []v3gen.KeyValue) (*kv, error) {
	best, ok, err := pickKV(kvs)
	if !ok || err != nil {
		return nil, err
	}
	return &best, nil
}

// pickKV is pickNode without an allocation; ok is false for no keys.
func pickKV(kvs []v3gen.KeyValue) (best kv, ok bool, err error) {
	for i := range kvs {
		var k kv
		if err := decodeKVInto(&kvs[i], &k); err != nil {
			return kv{}, false, err
		}
		switch {
		case !ok, k.dir() && !best.dir(), !best.dir() && k.mod > best.mod:
			best, ok = k, true
		}
	}
	return best, ok, nil
}

// target is the node at the path itself (nil when absent or for the root).
func (s *snapshot) target() *kv {
	if len(s.chain) == 0 {
		return nil
	}
	return s.chain[len(s.chain)-1]
}

// v2 error messages by code.
var messages = map[int]string{
	client.ErrorCodeKeyNotFound: "Key not found",
	client.ErrorCodeTestFailed:  "Compare failed",
	client.ErrorCodeNotFile:     "Not a file",
	client.ErrorCodeNotDir:      "Not a directory",
	client.ErrorCodeNodeExist:   "Key already exists",
	client.ErrorCodeRootROnly:   "Root is read only",
	client.ErrorCodeDirNotEmpty: "Directory not empty",
}

// v2err is the v2 store's error with code and cause at the snapshot's
// revision.
func (s *snapshot) v2err(code int, cause string) client.Error {
	return client.Error{Code: code, Message: messages[code], Cause: cause, Index: uint64(s.h.rev)}
}

// walk is the v2 store's internalGet: the node at the path, or 104 naming
// the first file on the way, or 100 naming the first missing path.
func (s *snapshot) walk() (*kv, error) {
	for i, node := range s.chain {
		if i > 0 && !s.chain[i-1].dir() {
			return nil, s.v2err(client.ErrorCodeNotDir, "/"+s.names[i-1])
		}
		if node == nil {
			return nil, s.v2err(client.ErrorCodeKeyNotFound, "/"+s.names[i])
		}
	}
	return s.target(), nil
}

// dirsAbove is the v2 store's walk with checkDir for a creation: the
// directories above the path must be directories or missing (104 naming a
// file); it returns the index in chain of the first missing one, or
// len(chain)-1 when none is missing.
func (s *snapshot) dirsAbove() (int, error) {
	first := len(s.chain) - 1
	for i := 0; i < len(s.chain)-1; i++ {
		switch node := s.chain[i]; {
		case node == nil:
			if i < first {
				first = i
			}
			return first, nil // all below are missing too
		case !node.dir():
			return 0, s.v2err(client.ErrorCodeNotDir, "/"+s.names[i])
		}
	}
	return first, nil
}

// inheritedLease is the lease a node without a TTL of its own gets at
// chain position i: that of the nearest directory above it that has one,
// so that it expires with that directory.
func (s *snapshot) inheritedLease(i int) int64 {
	for j := i - 1; j >= 0; j-- {
		if node := s.chain[j]; node != nil && node.lease != 0 {
			return node.lease
		}
	}
	return 0
}

// ownLease is the lease of the node at chain position i when it is the
// node's own (its TTL), not the one it shares with a directory above it;
// 0 otherwise.
func (s *snapshot) ownLease(i int) int64 {
	if n := s.chain[i]; n != nil && n.lease != 0 && n.lease != s.inheritedLease(i) {
		return n.lease
	}
	return 0
}

// compareFailCause is v2's cause of a failed compare.
func compareFailCause(node *kv, prevValue string, prevIndex uint64) (string, bool) {
	vOK := prevValue == "" || string(node.value) == prevValue
	iOK := prevIndex == 0 || uint64(node.mod) == prevIndex
	switch {
	case vOK && iOK:
		return "", true
	case !vOK && !iOK:
		return fmt.Sprintf("[%v != %v] [%v != %v]", prevValue, string(node.value), prevIndex, node.mod), false
	case !iOK:
		return fmt.Sprintf("[%v != %v]", prevIndex, node.mod), false
	default:
		return fmt.Sprintf("[%v != %v]", prevValue, string(node.value)), false
	}
}

// guards are the compares that hold while the snapshot's chain (and
// children, levels and sequence, where read) are as read.
func (l layout) guards(s *snapshot) []v3gen.Compare {
	cmps := make([]v3gen.Compare, 0, len(s.chain)+2)
	for i, node := range s.chain {
		if s.guessed && node != nil {
			// The directory right above the path is enough: the
			// directories above a node exist while it does, and a
			// directory without a lease has none above it (a lease given
			// to a directory is given to what it holds too).
			if i == len(s.chain)-2 {
				cmps = append(cmps,
					v3gen.Compare{Key: node.key, Target: v3gen.VERSION, Result: v3gen.GREATER, Version: "0"},
					v3gen.Compare{Key: node.key, Target: v3gen.LEASE, Result: v3gen.EQUAL, Lease: "0"})
			}
			continue
		}
		if node == nil {
			k, e := l.nodeRange(s.names[i])
			cmps = append(cmps, v3gen.Compare{Key: k, RangeEnd: e, Target: v3gen.VERSION, Result: v3gen.EQUAL, Version: "0"})
			continue
		}
		cmps = append(cmps, v3gen.Compare{Key: node.key, Target: v3gen.MOD, Result: v3gen.EQUAL, ModRevision: str(node.mod)})
	}
	return cmps
}

// emptyLevel is the compare that holds while nothing is extra levels below
// path.
func (l layout) emptyLevel(p string, extra int) v3gen.Compare {
	k, e := l.levelRange(p, extra)
	return v3gen.Compare{Key: k, RangeEnd: e, Target: v3gen.VERSION, Result: v3gen.EQUAL, Version: "0"}
}
