package keys_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
)

// keysOf returns the keys of nodes in the order given.
func keysOf(nodes client.Nodes) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Key
	}
	return out
}

// child returns the node with key k among nodes, or fails the test.
func child(t testing.TB, nodes client.Nodes, k string) *client.Node {
	t.Helper()
	for _, n := range nodes {
		if n.Key == k {
			return n
		}
	}
	t.Fatalf("no node %q among %q", k, keysOf(nodes))
	return nil
}

// wantTTL checks a node's TTL (in whole seconds, counting down and rounded up
// by the server) and its expiration time against the TTL set at before.
func wantTTL(t testing.TB, n *client.Node, ttl time.Duration, before time.Time) {
	t.Helper()
	secs := int64(ttl / time.Second)
	if n.TTL < secs-5 || n.TTL > secs {
		t.Errorf("node %s: TTL %d, want in [%d,%d]", n.Key, n.TTL, secs-5, secs)
	}
	if n.Expiration == nil {
		t.Fatalf("node %s: no expiration with TTL %v", n.Key, ttl)
	}
	lo, hi := before.Add(ttl-time.Second), time.Now().Add(ttl+time.Second)
	if n.Expiration.Before(lo) || n.Expiration.After(hi) {
		t.Errorf("node %s: expiration %v, want in [%v,%v]", n.Key, n.Expiration, lo, hi)
	}
}

// TestKeysAPI drives every KeysAPI operation and option but the watcher
// against each server, checking the answers field by field and the HTTP
// status and parameters that went over the wire.
func TestKeysAPI(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, e *env) {
		e.run(t, "Get", func(t *testing.T) { testGet(t, e) })
		e.run(t, "Set", func(t *testing.T) { testSet(t, e) })
		e.run(t, "Refresh", func(t *testing.T) { testRefresh(t, e) })
		e.run(t, "Conditions", func(t *testing.T) { testSetConditions(t, e) })
		e.run(t, "CreateUpdate", func(t *testing.T) { testCreateUpdate(t, e) })
		e.run(t, "CreateInOrder", func(t *testing.T) { testCreateInOrder(t, e) })
		e.run(t, "Delete", func(t *testing.T) { testDelete(t, e) })
		e.run(t, "Prefix", func(t *testing.T) { testPrefix(t, e) })
	})
}

func testGet(t *testing.T, e *env) {
	set := e.set(t, "/get/a", "1", nil)

	t.Run("plain", func(t *testing.T) {
		r := e.get(t, "/get/a", nil)
		e.wantStatus(t, http.StatusOK)
		if x := e.wire.last(t); e.v2wire() && (x.Query != "" || x.Path != "/v2/keys/get/a") {
			t.Errorf("plain Get sent %s?%s, want /v2/keys/get/a with no query", x.Path, x.Query)
		}
		if r.Action != "get" || r.Node.Key != "/get/a" || r.Node.Value != "1" || r.Node.Dir {
			t.Errorf("got action %q node %+v", r.Action, r.Node)
		}
		if r.Node.ModifiedIndex != set.Node.ModifiedIndex || r.Node.CreatedIndex != set.Node.CreatedIndex {
			t.Errorf("indexes %d/%d, want those of the set %d/%d", r.Node.CreatedIndex, r.Node.ModifiedIndex, set.Node.CreatedIndex, set.Node.ModifiedIndex)
		}
		e.wantHeaders(t, r)
		if r.Index < set.Node.ModifiedIndex || r.ClusterID != set.ClusterID {
			t.Errorf("Index %d (want >= %d), ClusterID %q (want %q)", r.Index, set.Node.ModifiedIndex, r.ClusterID, set.ClusterID)
		}
		if r.PrevNode != nil {
			t.Errorf("a read has a prevNode: %+v", r.PrevNode)
		}
	})

	t.Run("Recursive", func(t *testing.T) {
		e.set(t, "/get/tree/x/y", "deep", nil)
		e.set(t, "/get/tree/z", "top", nil)
		flat := e.get(t, "/get/tree", nil)
		if !flat.Node.Dir || len(flat.Node.Nodes) != 2 {
			t.Fatalf("listing of /get/tree: %+v with children %q", flat.Node, keysOf(flat.Node.Nodes))
		}
		if x := child(t, flat.Node.Nodes, "/get/tree/x"); !x.Dir || x.Nodes != nil {
			t.Errorf("non-recursive listing: subdirectory %+v should come without children", x)
		}
		if z := child(t, flat.Node.Nodes, "/get/tree/z"); z.Value != "top" {
			t.Errorf("child z = %q", z.Value)
		}
		deep := e.get(t, "/get/tree", &client.GetOptions{Recursive: true})
		e.wantQuery(t, "recursive=true")
		x := child(t, deep.Node.Nodes, "/get/tree/x")
		if y := child(t, x.Nodes, "/get/tree/x/y"); y.Value != "deep" {
			t.Errorf("recursive listing: /get/tree/x/y = %q", y.Value)
		}
	})

	t.Run("Sort", func(t *testing.T) {
		// Byte-wise order puts upper case before lower case, digits by
		// character ("10" < "9"), space and '+' before letters and UTF-8
		// after ASCII.
		names := []string{"b", "a", "a b", "a+b", "a-b", "✓uni", "B", "Z", "10", "9", "~t", "A", "日本"}
		for _, n := range names {
			e.set(t, "/get/sort/"+n, n, nil)
		}
		e.set(t, "/get/sort/_hidden", "h", nil)
		for _, n := range []string{"2", "10", "1"} {
			e.set(t, "/get/sort/m/"+n, n, nil)
		}
		want := []string{"/get/sort/m"}
		for _, n := range names {
			want = append(want, "/get/sort/"+n)
		}
		sort.Strings(want) // Go compares strings byte-wise, like etcd
		if want[0] != "/get/sort/10" || want[len(want)-1] != "/get/sort/日本" {
			t.Fatalf("test data does not exercise byte order: %q", want)
		}

		r := e.get(t, "/get/sort", &client.GetOptions{Sort: true})
		e.wantQuery(t, "sorted=true")
		if got := keysOf(r.Node.Nodes); !slices.Equal(got, want) {
			t.Errorf("sorted listing\n got %q\nwant %q", got, want)
		}
		r = e.get(t, "/get/sort", &client.GetOptions{Sort: true, Recursive: true})
		e.wantQuery(t, "sorted=true", "recursive=true")
		if got := keysOf(r.Node.Nodes); !slices.Equal(got, want) {
			t.Errorf("sorted recursive listing\n got %q\nwant %q", got, want)
		}
		m := child(t, r.Node.Nodes, "/get/sort/m")
		if got, w := keysOf(m.Nodes), []string{"/get/sort/m/1", "/get/sort/m/10", "/get/sort/m/2"}; !slices.Equal(got, w) {
			t.Errorf("sorted second level: got %q, want %q", got, w)
		}
		// The hidden key is left out of listings but readable directly.
		if h := e.get(t, "/get/sort/_hidden", nil); h.Node.Value != "h" {
			t.Errorf("hidden key = %q", h.Node.Value)
		}
	})

	t.Run("Quorum", func(t *testing.T) {
		plain := e.get(t, "/get/a", nil)
		q := e.get(t, "/get/a", &client.GetOptions{Quorum: true})
		e.wantQuery(t, "quorum=true")
		if q.Node.Value != "1" || q.Action != "get" {
			t.Errorf("quorum read: %q %+v", q.Action, q.Node)
		}
		e.wantHeaders(t, q)
		// A quorum read goes through raft: it consumes a raft index.
		if e.v2wire() && q.RaftIndex <= plain.RaftIndex {
			t.Errorf("quorum read at raft index %d, not after the plain read's %d", q.RaftIndex, plain.RaftIndex)
		}
	})

	t.Run("Root", func(t *testing.T) {
		for _, root := range []string{"/", "", "//"} {
			r := e.get(t, root, &client.GetOptions{Sort: true})
			if x := e.wire.last(t); e.v2wire() && x.Path != "/v2/keys" && x.Path != "/v2/keys/" {
				t.Errorf("Get(%q) sent path %q, want the root /v2/keys", root, x.Path)
			}
			if r.Node == nil || !r.Node.Dir || r.Node.Key != "" || r.Node.ModifiedIndex != 0 {
				t.Fatalf("root node: %+v", r.Node)
			}
			if g := child(t, r.Node.Nodes, "/get"); !g.Dir {
				t.Errorf("/get in the root listing is not a directory: %+v", g)
			}
			if !sort.IsSorted(r.Node.Nodes) {
				t.Errorf("sorted root listing out of order: %q", keysOf(r.Node.Nodes))
			}
			e.wantHeaders(t, r)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		last := e.get(t, "/get/a", nil)
		_, err := e.kapi.Get(ctx(t), "/get/nope/deeper", nil)
		e.wantStatus(t, http.StatusNotFound)
		if !client.IsKeyNotFound(err) {
			t.Errorf("IsKeyNotFound(%v) = false", err)
		}
		ke := wantError(t, err, client.ErrorCodeKeyNotFound)
		if ke.Message != "Key not found" || ke.Cause != "/get/nope" || ke.Index < last.Index {
			t.Errorf("error fields: %+v (want cause /get/nope, index >= %d)", ke, last.Index)
		}
	})
}

func testSet(t *testing.T, e *env) {
	t.Run("New", func(t *testing.T) {
		r := e.set(t, "/set/new", "v1", nil)
		e.wantStatus(t, http.StatusCreated)
		if r.Action != "set" || r.PrevNode != nil || r.Node.Key != "/set/new" || r.Node.Value != "v1" {
			t.Errorf("new key: action %q node %+v prev %+v", r.Action, r.Node, r.PrevNode)
		}
		if r.Node.CreatedIndex != r.Node.ModifiedIndex || r.Node.ModifiedIndex != r.Index {
			t.Errorf("new key indexes: created %d modified %d header %d", r.Node.CreatedIndex, r.Node.ModifiedIndex, r.Index)
		}
		if r.Node.TTL != 0 || r.Node.Expiration != nil {
			t.Errorf("permanent key has TTL %d / expiration %v", r.Node.TTL, r.Node.Expiration)
		}
		e.wantHeaders(t, r)

		o := e.set(t, "/set/new", "v2", nil)
		e.wantStatus(t, http.StatusOK)
		if o.Action != "set" || o.Node.Value != "v2" {
			t.Errorf("overwrite: %q %+v", o.Action, o.Node)
		}
		if o.PrevNode == nil || o.PrevNode.Value != "v1" || o.PrevNode.ModifiedIndex != r.Node.ModifiedIndex {
			t.Errorf("overwrite prevNode %+v, want v1 at %d", o.PrevNode, r.Node.ModifiedIndex)
		}
		// A plain set replaces the node: createdIndex moves.
		if o.Node.CreatedIndex != o.Node.ModifiedIndex || o.Node.ModifiedIndex <= r.Node.ModifiedIndex {
			t.Errorf("overwrite indexes: created %d modified %d (first write %d)", o.Node.CreatedIndex, o.Node.ModifiedIndex, r.Node.ModifiedIndex)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		before := time.Now()
		r := e.set(t, "/set/ttl", "t", &client.SetOptions{TTL: 30 * time.Second})
		wantTTL(t, r.Node, 30*time.Second, before)
		g := e.get(t, "/set/ttl", nil)
		wantTTL(t, g.Node, 30*time.Second, before)
		if r.Node.TTLDuration() != time.Duration(r.Node.TTL)*time.Second {
			t.Errorf("TTLDuration %v for TTL %d", r.Node.TTLDuration(), r.Node.TTL)
		}
		// A write without TTL makes the key permanent again.
		p := e.set(t, "/set/ttl", "t2", nil)
		if p.Node.TTL != 0 || p.Node.Expiration != nil {
			t.Errorf("set without TTL kept TTL %d / expiration %v", p.Node.TTL, p.Node.Expiration)
		}
		if p.PrevNode == nil || p.PrevNode.Expiration == nil {
			t.Errorf("prevNode lost the old expiration: %+v", p.PrevNode)
		}
	})

	t.Run("Dir", func(t *testing.T) {
		r := e.set(t, "/set/dir", "", &client.SetOptions{Dir: true})
		e.wantStatus(t, http.StatusCreated)
		if r.Action != "set" || !r.Node.Dir || r.Node.Value != "" || r.Node.Key != "/set/dir" {
			t.Errorf("dir: %q %+v", r.Action, r.Node)
		}
		g := e.get(t, "/set/dir", nil)
		if !g.Node.Dir || len(g.Node.Nodes) != 0 {
			t.Errorf("empty dir read back as %+v", g.Node)
		}
		// A value given with Dir is ignored (the doc says so).
		d := e.set(t, "/set/dir2", "ignored", &client.SetOptions{Dir: true})
		if !d.Node.Dir || d.Node.Value != "" {
			t.Errorf("dir with value: %+v", d.Node)
		}
	})

	t.Run("NoValueOnSuccess", func(t *testing.T) {
		r := e.set(t, "/set/nv", "v", &client.SetOptions{NoValueOnSuccess: true})
		e.wantStatus(t, http.StatusCreated)
		if r.Action != "set" || r.Node != nil || r.PrevNode != nil {
			t.Errorf("NoValueOnSuccess: action %q node %+v prev %+v", r.Action, r.Node, r.PrevNode)
		}
		e.wantHeaders(t, r)
		r = e.set(t, "/set/nv", "w", &client.SetOptions{NoValueOnSuccess: true})
		e.wantStatus(t, http.StatusOK)
		if r.Node != nil || r.PrevNode != nil {
			t.Errorf("NoValueOnSuccess overwrite: node %+v prev %+v", r.Node, r.PrevNode)
		}
		if g := e.get(t, "/set/nv", nil); g.Node.Value != "w" {
			t.Errorf("value after NoValueOnSuccess writes: %q", g.Node.Value)
		}
		// Errors are unchanged.
		_, err := e.kapi.Set(ctx(t), "/set/nv", "x", &client.SetOptions{NoValueOnSuccess: true, PrevExist: client.PrevNoExist})
		wantError(t, err, client.ErrorCodeNodeExist)
	})
}

func testRefresh(t *testing.T, e *env) {
	before := time.Now()
	orig := e.set(t, "/ref/k", "keep", &client.SetOptions{TTL: 20 * time.Second})
	w := e.kapi.Watcher("/ref/k", &client.WatcherOptions{AfterIndex: orig.Node.ModifiedIndex})

	u := e.set(t, "/ref/k", "", &client.SetOptions{Refresh: true, TTL: 100 * time.Second, PrevExist: client.PrevExist})
	e.wantStatus(t, http.StatusOK)
	if u.Action != "update" || u.Node.Value != "keep" || u.Node.CreatedIndex != orig.Node.CreatedIndex {
		t.Errorf("refresh with PrevExist: %q %+v (created %d)", u.Action, u.Node, orig.Node.CreatedIndex)
	}
	wantTTL(t, u.Node, 100*time.Second, before)

	s := e.set(t, "/ref/k", "", &client.SetOptions{Refresh: true, TTL: 50 * time.Second})
	if s.Action != "set" || s.Node.Value != "keep" {
		t.Errorf("refresh: %q %+v", s.Action, s.Node)
	}
	wantTTL(t, s.Node, 50*time.Second, before)
	if g := e.get(t, "/ref/k", nil); g.Node.Value != "keep" || g.Node.TTL < 45 {
		t.Errorf("after refresh: %+v", g.Node)
	}

	// Refreshes fire no watch event: the watcher's first event is the
	// write that follows them.
	after := e.set(t, "/ref/k", "after", nil)
	ev, err := w.Next(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != "set" || ev.Node.Value != "after" || ev.Node.ModifiedIndex != after.Node.ModifiedIndex {
		t.Errorf("first event after the refreshes: %q %+v, want the set of %q at %d", ev.Action, ev.Node, "after", after.Node.ModifiedIndex)
	}
}

func testSetConditions(t *testing.T, e *env) {
	t.Run("PrevExist", func(t *testing.T) {
		_, err := e.kapi.Set(ctx(t), "/cond/pe", "x", &client.SetOptions{PrevExist: client.PrevExist})
		e.wantStatus(t, http.StatusNotFound)
		wantError(t, err, client.ErrorCodeKeyNotFound)

		c := e.set(t, "/cond/pe", "x", &client.SetOptions{PrevExist: client.PrevNoExist})
		e.wantStatus(t, http.StatusCreated)
		if c.Action != "create" || c.Node.Value != "x" || c.PrevNode != nil {
			t.Errorf("PrevNoExist on a new key: %q %+v", c.Action, c.Node)
		}
		u := e.set(t, "/cond/pe", "y", &client.SetOptions{PrevExist: client.PrevExist})
		e.wantStatus(t, http.StatusOK)
		if u.Action != "update" || u.Node.Value != "y" || u.Node.CreatedIndex != c.Node.CreatedIndex || u.PrevNode == nil || u.PrevNode.Value != "x" {
			t.Errorf("PrevExist on an existing key: %q %+v prev %+v", u.Action, u.Node, u.PrevNode)
		}
		_, err = e.kapi.Set(ctx(t), "/cond/pe", "z", &client.SetOptions{PrevExist: client.PrevNoExist})
		e.wantStatus(t, http.StatusPreconditionFailed)
		if ke := wantError(t, err, client.ErrorCodeNodeExist); ke.Cause != "/cond/pe" {
			t.Errorf("105 cause %q", ke.Cause)
		}
	})

	t.Run("PrevValue", func(t *testing.T) {
		first := e.set(t, "/cond/pv", "a", nil)
		r := e.set(t, "/cond/pv", "b", &client.SetOptions{PrevValue: "a"})
		e.wantStatus(t, http.StatusOK)
		if r.Action != "compareAndSwap" || r.Node.Value != "b" || r.Node.CreatedIndex != first.Node.CreatedIndex || r.PrevNode.Value != "a" {
			t.Errorf("CAS: %q %+v prev %+v", r.Action, r.Node, r.PrevNode)
		}
		_, err := e.kapi.Set(ctx(t), "/cond/pv", "c", &client.SetOptions{PrevValue: "a"})
		e.wantStatus(t, http.StatusPreconditionFailed)
		if ke := wantError(t, err, client.ErrorCodeTestFailed); ke.Cause != "[a != b]" || ke.Index < r.Node.ModifiedIndex {
			t.Errorf("101: %+v", ke)
		}
		if g := e.get(t, "/cond/pv", nil); g.Node.Value != "b" {
			t.Errorf("failed CAS changed the value to %q", g.Node.Value)
		}
	})

	t.Run("PrevIndex", func(t *testing.T) {
		first := e.set(t, "/cond/pi", "1", nil)
		idx := first.Node.ModifiedIndex
		r := e.set(t, "/cond/pi", "2", &client.SetOptions{PrevIndex: idx})
		e.wantStatus(t, http.StatusOK)
		if r.Action != "compareAndSwap" || r.Node.Value != "2" || r.PrevNode.ModifiedIndex != idx {
			t.Errorf("CAS by index: %q %+v prev %+v", r.Action, r.Node, r.PrevNode)
		}
		_, err := e.kapi.Set(ctx(t), "/cond/pi", "3", &client.SetOptions{PrevIndex: idx})
		e.wantStatus(t, http.StatusPreconditionFailed)
		if ke := wantError(t, err, client.ErrorCodeTestFailed); ke.Cause != fmt.Sprintf("[%d != %d]", idx, r.Node.ModifiedIndex) {
			t.Errorf("101 cause %q", ke.Cause)
		}
		// Both conditions at once, both wrong: the cause names both.
		_, err = e.kapi.Set(ctx(t), "/cond/pi", "4", &client.SetOptions{PrevIndex: idx, PrevValue: "nope"})
		if ke := wantError(t, err, client.ErrorCodeTestFailed); ke.Cause != fmt.Sprintf("[nope != 2] [%d != %d]", idx, r.Node.ModifiedIndex) {
			t.Errorf("101 cause with both conditions %q", ke.Cause)
		}
	})
}

func testCreateUpdate(t *testing.T, e *env) {
	c, err := e.kapi.Create(ctx(t), "/cu/c", "1")
	must(t, c, err)
	e.wantStatus(t, http.StatusCreated)
	if c.Action != "create" || c.Node.Key != "/cu/c" || c.Node.Value != "1" {
		t.Errorf("Create: %q %+v", c.Action, c.Node)
	}
	_, err = e.kapi.Create(ctx(t), "/cu/c", "2")
	e.wantStatus(t, http.StatusPreconditionFailed)
	if ke := wantError(t, err, client.ErrorCodeNodeExist); ke.Cause != "/cu/c" || ke.Message != "Key already exists" {
		t.Errorf("Create on an existing key: %+v", ke)
	}

	_, err = e.kapi.Update(ctx(t), "/cu/u", "1")
	e.wantStatus(t, http.StatusNotFound)
	if ke := wantError(t, err, client.ErrorCodeKeyNotFound); ke.Cause != "/cu/u" {
		t.Errorf("Update of a missing key: %+v", ke)
	}
	u, err := e.kapi.Update(ctx(t), "/cu/c", "3")
	must(t, u, err)
	e.wantStatus(t, http.StatusOK)
	if u.Action != "update" || u.Node.Value != "3" || u.PrevNode == nil || u.PrevNode.Value != "1" || u.Node.CreatedIndex != c.Node.CreatedIndex {
		t.Errorf("Update: %q %+v prev %+v", u.Action, u.Node, u.PrevNode)
	}
}

func testCreateInOrder(t *testing.T, e *env) {
	var prev uint64
	for i := range 3 {
		r, err := e.kapi.CreateInOrder(ctx(t), "/q", fmt.Sprintf("job%d", i), nil)
		must(t, r, err)
		e.wantStatus(t, http.StatusCreated)
		if x := e.wire.last(t); e.v2wire() && (x.Method != http.MethodPost || x.Path != "/v2/keys/q") {
			t.Errorf("CreateInOrder sent %s %s", x.Method, x.Path)
		}
		want := fmt.Sprintf("/q/%020d", r.Node.CreatedIndex)
		if r.Action != "create" || r.Node.Key != want || r.Node.Value != fmt.Sprintf("job%d", i) {
			t.Errorf("in-order create %d: %q %+v, want key %s", i, r.Action, r.Node, want)
		}
		if r.Node.CreatedIndex <= prev {
			t.Errorf("in-order index %d not after %d", r.Node.CreatedIndex, prev)
		}
		prev = r.Node.CreatedIndex
		if r.Node.TTL != 0 {
			t.Errorf("in-order key without TTL has TTL %d", r.Node.TTL)
		}
	}
	l := e.get(t, "/q", &client.GetOptions{Sort: true, Recursive: true})
	var vals []string
	for _, n := range l.Node.Nodes {
		vals = append(vals, n.Value)
	}
	if !slices.Equal(vals, []string{"job0", "job1", "job2"}) {
		t.Errorf("sorted queue: %q", vals)
	}

	// In-order keys directly under the root.
	rq, err := e.kapi.CreateInOrder(ctx(t), "/", "rootjob", nil)
	must(t, rq, err)
	if x := e.wire.last(t); e.v2wire() && (x.Method != http.MethodPost || (x.Path != "/v2/keys" && x.Path != "/v2/keys/")) {
		t.Errorf("CreateInOrder at the root sent %s %s", x.Method, x.Path)
	}
	if rq.Node.Key != fmt.Sprintf("/%020d", rq.Node.CreatedIndex) || rq.Node.Value != "rootjob" {
		t.Errorf("in-order key at the root: %+v", rq.Node)
	}
	e.del(t, rq.Node.Key, nil)

	before := time.Now()
	r, err := e.kapi.CreateInOrder(ctx(t), "/qttl", "t", &client.CreateInOrderOptions{TTL: 30 * time.Second})
	must(t, r, err)
	if !strings.HasPrefix(r.Node.Key, "/qttl/") || len(r.Node.Key) != len("/qttl/")+20 {
		t.Errorf("in-order key %q", r.Node.Key)
	}
	wantTTL(t, r.Node, 30*time.Second, before)
}

func testDelete(t *testing.T, e *env) {
	t.Run("File", func(t *testing.T) {
		s := e.set(t, "/del/f", "v", nil)
		r := e.del(t, "/del/f", nil)
		e.wantStatus(t, http.StatusOK)
		if x := e.wire.last(t); e.v2wire() && (x.Method != http.MethodDelete || x.Query != "") {
			t.Errorf("plain Delete sent %s ?%s", x.Method, x.Query)
		}
		if r.Action != "delete" || r.Node.Key != "/del/f" || r.Node.Value != "" || r.Node.ModifiedIndex <= s.Node.ModifiedIndex {
			t.Errorf("delete: %q %+v", r.Action, r.Node)
		}
		if r.PrevNode == nil || r.PrevNode.Value != "v" || r.PrevNode.ModifiedIndex != s.Node.ModifiedIndex {
			t.Errorf("delete prevNode: %+v", r.PrevNode)
		}
		_, err := e.kapi.Get(ctx(t), "/del/f", nil)
		wantError(t, err, client.ErrorCodeKeyNotFound)
	})

	t.Run("Missing", func(t *testing.T) {
		_, err := e.kapi.Delete(ctx(t), "/del/none", nil)
		e.wantStatus(t, http.StatusNotFound)
		if ke := wantError(t, err, client.ErrorCodeKeyNotFound); ke.Cause != "/del/none" {
			t.Errorf("cause %q", ke.Cause)
		}
	})

	t.Run("Recursive", func(t *testing.T) {
		e.set(t, "/del/tree/a/b", "x", nil)
		r := e.del(t, "/del/tree", &client.DeleteOptions{Recursive: true})
		e.wantQuery(t, "recursive=true")
		if r.Action != "delete" || !r.Node.Dir || r.Node.Key != "/del/tree" {
			t.Errorf("recursive delete: %q %+v", r.Action, r.Node)
		}
		_, err := e.kapi.Get(ctx(t), "/del/tree/a/b", nil)
		wantError(t, err, client.ErrorCodeKeyNotFound)
	})

	t.Run("Dir", func(t *testing.T) {
		e.set(t, "/del/empty", "", &client.SetOptions{Dir: true})
		r := e.del(t, "/del/empty", &client.DeleteOptions{Dir: true})
		e.wantQuery(t, "dir=true")
		if r.Action != "delete" || !r.Node.Dir || r.PrevNode == nil || !r.PrevNode.Dir {
			t.Errorf("empty dir delete: %q %+v prev %+v", r.Action, r.Node, r.PrevNode)
		}

		e.set(t, "/del/full/x", "1", nil)
		_, err := e.kapi.Delete(ctx(t), "/del/full", &client.DeleteOptions{Dir: true})
		e.wantStatus(t, http.StatusForbidden)
		wantError(t, err, client.ErrorCodeDirNotEmpty)
		_, err = e.kapi.Delete(ctx(t), "/del/full", nil)
		e.wantStatus(t, http.StatusForbidden)
		wantError(t, err, client.ErrorCodeNotFile)
		if g := e.get(t, "/del/full/x", nil); g.Node.Value != "1" {
			t.Errorf("refused deletes changed the dir: %+v", g.Node)
		}
	})

	t.Run("PrevValue", func(t *testing.T) {
		e.set(t, "/del/cad", "v", nil)
		_, err := e.kapi.Delete(ctx(t), "/del/cad", &client.DeleteOptions{PrevValue: "w"})
		e.wantStatus(t, http.StatusPreconditionFailed)
		if ke := wantError(t, err, client.ErrorCodeTestFailed); ke.Cause != "[w != v]" {
			t.Errorf("cause %q", ke.Cause)
		}
		r := e.del(t, "/del/cad", &client.DeleteOptions{PrevValue: "v"})
		e.wantQuery(t, "prevValue=v")
		if r.Action != "compareAndDelete" || r.PrevNode.Value != "v" {
			t.Errorf("CAD: %q prev %+v", r.Action, r.PrevNode)
		}
	})

	t.Run("PrevIndex", func(t *testing.T) {
		s := e.set(t, "/del/cadi", "v", nil)
		idx := s.Node.ModifiedIndex
		_, err := e.kapi.Delete(ctx(t), "/del/cadi", &client.DeleteOptions{PrevIndex: idx + 1000})
		e.wantStatus(t, http.StatusPreconditionFailed)
		if ke := wantError(t, err, client.ErrorCodeTestFailed); ke.Cause != fmt.Sprintf("[%d != %d]", idx+1000, idx) {
			t.Errorf("cause %q", ke.Cause)
		}
		r := e.del(t, "/del/cadi", &client.DeleteOptions{PrevIndex: idx})
		e.wantQuery(t, fmt.Sprintf("prevIndex=%d", idx))
		if r.Action != "compareAndDelete" || r.PrevNode.ModifiedIndex != idx {
			t.Errorf("CAD by index: %q prev %+v", r.Action, r.PrevNode)
		}
		_, err = e.kapi.Get(ctx(t), "/del/cadi", nil)
		if !client.IsKeyNotFound(err) {
			t.Errorf("after CAD: %v", err)
		}
	})
}

// testPrefix checks NewKeysAPIWithPrefix: every operation of a KeysAPI below
// /v2/keys/ns works on the keys below /ns, and the root of the prefix is /ns.
func testPrefix(t *testing.T, e *env) {
	for _, prefix := range []string{"/v2/keys/ns", "v2/keys/ns/"} {
		t.Run(prefix, func(t *testing.T) {
			kp := client.NewKeysAPIWithPrefix(e.client, prefix)
			s, err := kp.Set(ctx(t), "/a", "1", nil)
			must(t, s, err)
			if x := e.wire.last(t); x.Path != "/v2/keys/ns/a" {
				t.Errorf("Set through the prefix sent %s", x.Path)
			}
			if s.Node.Key != "/ns/a" {
				t.Errorf("stored key %q, want /ns/a", s.Node.Key)
			}
			if g := e.get(t, "/ns/a", nil); g.Node.Value != "1" {
				t.Errorf("/ns/a = %q", g.Node.Value)
			}
			l, err := kp.Get(ctx(t), "/", &client.GetOptions{Sort: true})
			must(t, l, err)
			if l.Node.Key != "/ns" || !l.Node.Dir || len(l.Node.Nodes) == 0 || l.Node.Nodes[0].Key != "/ns/a" {
				t.Errorf("root of the prefix: %+v children %q", l.Node, keysOf(l.Node.Nodes))
			}
			c, err := kp.CreateInOrder(ctx(t), "/q", "j", nil)
			must(t, c, err)
			if !strings.HasPrefix(c.Node.Key, "/ns/q/") {
				t.Errorf("in-order key through the prefix: %q", c.Node.Key)
			}
			w := kp.Watcher("/a", &client.WatcherOptions{AfterIndex: s.Node.ModifiedIndex})
			u, err := kp.Update(ctx(t), "/a", "2")
			must(t, u, err)
			if ev := next(t, w); ev.Node.Key != "/ns/a" || ev.Node.Value != "2" {
				t.Errorf("watch through the prefix: %+v", ev.Node)
			}
			d, err := kp.Delete(ctx(t), "/", &client.DeleteOptions{Recursive: true})
			must(t, d, err)
			if d.Node.Key != "/ns" {
				t.Errorf("delete of the prefix root removed %q", d.Node.Key)
			}
			_, err = e.kapi.Get(ctx(t), "/ns", nil)
			wantError(t, err, client.ErrorCodeKeyNotFound)
		})
	}
}
