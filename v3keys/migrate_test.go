package v3keys

import (
	"testing"
	"time"

	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// TestTreeIndex: levels below a node, and removal of a subtree (with keys
// left below a directory that is itself gone).
func TestTreeIndex(t *testing.T) {
	x := newTreeIndex()
	for _, p := range []string{"a", "a/b", "a/b/c", "a/b/c/d", "a/e", "f"} {
		x.add(p, inode{dir: p != "a/b/c/d" && p != "a/e" && p != "f"})
	}
	x.add("g/orphan", inode{}) // its directory is not in the index
	if got := x.levelsBelow("a"); got != 3 {
		t.Errorf("levelsBelow(a) = %d, want 3", got)
	}
	if got := x.levelsBelow("a/e"); got != 0 {
		t.Errorf("levelsBelow(a/e) = %d, want 0", got)
	}
	if got := x.levelsBelow("g"); got != 1 {
		t.Errorf("levelsBelow(g) = %d, want 1 (a key below a missing directory)", got)
	}
	x.remove("a/b")
	for _, p := range []string{"a/b", "a/b/c", "a/b/c/d"} {
		if _, ok := x.nodes[p]; ok {
			t.Errorf("%s still in the index", p)
		}
	}
	if got := x.levelsBelow("a"); got != 1 {
		t.Errorf("levelsBelow(a) after removing a/b = %d, want 1", got)
	}
	x.remove("g")
	if _, ok := x.nodes["g/orphan"]; ok {
		t.Error("g/orphan still in the index after removing g")
	}
}

// TestBatchConflicts: etcd refuses a transaction that puts a key twice or
// puts a key one of its deletes covers, so such an event starts a new
// batch.
func TestBatchConflicts(t *testing.T) {
	l := newLayout("/p")
	var b batch
	b.add([]v3gen.RequestOp{put(l.nodeKey("a/x", kindFile1), []byte("1"), 0)}, 10)
	key, end := l.levelRange("d", 1)
	b.add([]v3gen.RequestOp{del(key, end)}, 10)
	for _, c := range []struct {
		name string
		ops  []v3gen.RequestOp
		want bool
	}{
		{"the same key again", []v3gen.RequestOp{put(l.nodeKey("a/x", kindFile1), []byte("2"), 0)}, true},
		{"another key", []v3gen.RequestOp{put(l.nodeKey("a/y", kindFile1), []byte("2"), 0)}, false},
		{"a key under a deleted level", []v3gen.RequestOp{put(l.nodeKey("d/z", kindFile1), nil, 0)}, true},
		{"a delete of a written key", []v3gen.RequestOp{del(l.nodeRange("a/x"))}, true},
		{"a delete of another key", []v3gen.RequestOp{del(l.nodeRange("a/y"))}, false},
	} {
		if got := b.conflicts(c.ops); got != c.want {
			t.Errorf("%s: conflicts = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRemainingTTL: whole seconds rounded down, at least 1, 0 for none.
func TestRemainingTTL(t *testing.T) {
	now := time.Now()
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	for _, c := range []struct {
		exp  *time.Time
		want int64
	}{
		{nil, 0}, {at(10*time.Second + 900*time.Millisecond), 10}, {at(300 * time.Millisecond), 1}, {at(-time.Second), 1},
	} {
		if got := remainingTTL(c.exp, now); got != c.want {
			t.Errorf("remainingTTL(%v) = %d, want %d", c.exp, got, c.want)
		}
	}
}

// TestPlanSeqs: the copy records the largest in-order-looking name of each
// directory (twenty decimal digits that fit a uint64), and never lowers a
// sequence key that holds more.
func TestPlanSeqs(t *testing.T) {
	m := &migrator{k: &keysAPI{l: newLayout("/p")}}
	want := []wantNode{
		{path: "q", dir: true},
		{path: "q/00000000000000000007"}, {path: "q/00000000000000000042"}, {path: "q/00000000000000000009"},
		{path: "r", dir: true}, {path: "r/00000000000000000005"},
		{path: "s/00000000000000000003", dir: true}, // a directory: not a name of the queue s
		{path: "t/0000000000000000000x"}, {path: "t/99999999999999999999"}, {path: "t/1"},
		{path: "00000000000000000011"},
	}
	seqs := map[string]uint64{"/p/seq/r": 6}
	ops := m.planSeqs(want, seqs)
	got := map[string]string{}
	for _, op := range ops {
		got[string(op.RequestPut.Key)] = string(op.RequestPut.Value)
	}
	if len(got) != 2 || got["/p/seq/q"] != "42" || got["/p/seq/"] != "11" {
		t.Errorf("planSeqs wrote %v, want /p/seq/q=42 and /p/seq/=11", got)
	}
	if seqs["/p/seq/q"] != 42 || seqs["/p/seq/r"] != 6 {
		t.Errorf("seqs after planSeqs: %v", seqs)
	}
	if ops := m.planSeqs(want, seqs); len(ops) != 0 {
		t.Errorf("planSeqs again wrote %d keys", len(ops))
	}
}
