// Package dropin_test runs a third-party-style store (../dropin/store,
// written for go.etcd.io/etcd/client/v2) unchanged on goetcd (the same
// source with only the import switched, ../dropin/goetcdstore) and on etcd's
// own client v2.305.35, against real etcd 3.5 and 3.4, and compares what the
// store's callers see: listings, compare-and-swap outcomes, a
// compare-and-swap counter, recursive watch events, TTL locks (1.5 s and
// 3 s, abandoned and kept alive). Every exchange of both clients is
// validated against openapi.yaml.
package dropin_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/dropin/goetcdstore"
	"github.com/meycoin/goetcd/tests/dropin/kv"
	"github.com/meycoin/goetcd/tests/dropin/store"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

func TestMain(m *testing.M) { etcdtest.Main(m) }

var update = flag.Bool("update", false, "rewrite goetcdstore/store.go from store/store.go")

// switchImport is the whole of the change a user of the drop-in
// replacement makes to the store: the import line (and, here, the package
// name, since both copies live in one module).
func switchImport(src string) (string, error) {
	_, body, ok := strings.Cut(src, "\npackage store\n")
	if !ok {
		return "", errors.New("store/store.go has no 'package store' line")
	}
	const from, to = `etcd "go.etcd.io/etcd/client/v2"`, `etcd "github.com/meycoin/goetcd/client"`
	if strings.Count(body, from) != 1 {
		return "", fmt.Errorf("store/store.go does not import %s exactly once", from)
	}
	return "// Code generated from ../store/store.go by TestGoetcdStoreIsTheStore -update; only the import differs. DO NOT EDIT.\n\n" +
		"package goetcdstore\n" + strings.Replace(body, from, to, 1), nil
}

// TestGoetcdStoreIsTheStore: the store run on goetcd is the store written
// for etcd's client, with only the import switched.
func TestGoetcdStoreIsTheStore(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("store", "store.go"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := switchImport(string(src))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("goetcdstore", "store.go")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is not store/store.go with only the import switched; run go test ./dropin/ -run %s -update", path, t.Name())
	}
}

// client is one way to make the store.
type client struct {
	name string
	open func(endpoints []string, tr kv.Transport, closeIdle func(), root string) (kv.Store, error)
	// lockTTL is what etcd shows on a fresh lock of 1.5 s: etcd's client
	// sends whole seconds truncated (ttl=1), goetcd rounds up (ttl=2).
	lockTTL int64
}

var clients = []client{
	{"official-v2.305.35", func(eps []string, tr kv.Transport, closeIdle func(), root string) (kv.Store, error) {
		return store.New(eps, tr, closeIdle, root)
	}, 1},
	{"goetcd", func(eps []string, tr kv.Transport, closeIdle func(), root string) (kv.Store, error) {
		return goetcdstore.New(eps, tr, closeIdle, root)
	}, 2},
}

// TestStoreOnBothClients runs the scenario on each client against each
// server and compares the transcripts with each other and with the
// expected one.
func TestStoreOnBothClients(t *testing.T) {
	t.Parallel()
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			cl := etcdtest.StartCluster(t, s, 1)
			var mu sync.Mutex
			got := map[string][]string{}
			t.Run("clients", func(t *testing.T) {
				for _, c := range clients {
					t.Run(c.name, func(t *testing.T) {
						t.Parallel()
						tr := runScenario(t, cl, c)
						mu.Lock()
						got[c.name] = tr
						mu.Unlock()
						if d := diff(expected, tr); d != "" {
							t.Errorf("transcript differs from the expected one:\n%s", d)
						}
					})
				}
			})
			if a, b := got[clients[0].name], got[clients[1].name]; a != nil && b != nil {
				if d := diff(a, b); d != "" {
					t.Errorf("%s and %s differ:\n%s", clients[0].name, clients[1].name, d)
				}
			}
		})
	}
}

// expected is what the store's callers see on either client.
var expected = []string{
	"list dir: a=v-dir/a b=v-dir/b sub/c=v-dir/sub/c sub/deeper/d=v-dir/sub/deeper/d",
	"list nodir: not found",
	"get dir/missing: not found",
	"put ttl -1s: ok, then get: ok",
	"put ttl 0s: ok, then get: ok",
	"put ttl 1.5s: ok, then get: ok",
	"put ttl 3s: ok, then get: ok",
	"create cas: ok",
	"create cas again: exists",
	"swap cas at its index: ok",
	"swap cas at a stale index: modified",
	"delete cas at a stale index: modified",
	"delete cas at its index: ok",
	"get cas: not found",
	"counter after 4x10 increments: 40; each of 1..40 returned once: true",
	"watch: set w/a=1",
	"watch: set w/b/c=2",
	"watch: compareAndSwap w/a=3",
	"watch: compareAndDelete w/a=",
	"watch: set w/ttl=t",
	"watch: expire w/ttl=",
	"lock 1.5s: ok",
	"abandoned 1.5s lock still there: ok",
	"second store takes the abandoned 1.5s lock: ok",
	"unlock: ok",
	"lock 3s: ok, etcd shows ttl 3",
	"after 4s (past the 3s TTL, kept alive) the contender still waits: true",
	"unlock: ok",
	"contender takes it after the unlock: ok",
	"contender unlocks: ok",
}

func diff(want, got []string) string {
	var b strings.Builder
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			fmt.Fprintf(&b, "  line %d:\n    want %q\n    got  %q\n", i, w, g)
		}
	}
	return b.String()
}

// outcome names an error the way the store's callers tell them apart.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, kv.ErrKeyNotFound):
		return "not found"
	case errors.Is(err, kv.ErrKeyModified):
		return "modified"
	case errors.Is(err, kv.ErrKeyExists):
		return "exists"
	}
	return "error: " + err.Error()
}

// runScenario opens two stores of client c (two processes of one program)
// on cl, below a root of their own, and returns the transcript of what
// they see.
func runScenario(t *testing.T, cl *etcdtest.Cluster, c client) []string {
	// Bounds every step; a store that waits forever (for a lock it took
	// a local refusal for "held") fails here instead of hanging.
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	open := func() kv.Store {
		tr := clienttest.NewTransport(t, nil)
		s, err := c.open(cl.Endpoints(), tr, tr.CloseIdleConnections, "/"+c.name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	a, b := open(), open()
	var out []string
	log := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	must := func(what string, err error) {
		if err != nil {
			t.Fatalf("%s: %v (transcript so far: %q)", what, err, out)
		}
	}

	// Directory listing.
	for _, k := range []string{"dir/b", "dir/a", "dir/sub/c", "dir/sub/deeper/d"} {
		must("put "+k, a.Put(ctx, k, "v-"+k, 0))
	}
	list, err := b.List(ctx, "dir")
	must("list dir", err)
	var items []string
	for _, p := range list {
		items = append(items, strings.TrimPrefix(p.Key, "dir/")+"="+p.Value)
	}
	log("list dir: %s", strings.Join(items, " "))
	_, err = b.List(ctx, "nodir")
	log("list nodir: %s", outcome(err))
	_, err = b.Get(ctx, "dir/missing")
	log("get dir/missing: %s", outcome(err))

	// TTLs as callers pass them: none, zero, negative and fractional.
	for _, ttl := range []time.Duration{-time.Second, 0, 1500 * time.Millisecond, 3 * time.Second} {
		err := a.Put(ctx, "ttl/x", "v", ttl)
		_, gerr := b.Get(ctx, "ttl/x")
		log("put ttl %v: %s, then get: %s", ttl, outcome(err), outcome(gerr))
	}

	// Compare-and-swap and compare-and-delete.
	p1, err := a.AtomicPut(ctx, "cas", "1", nil)
	log("create cas: %s", outcome(err))
	_, err = b.AtomicPut(ctx, "cas", "x", nil)
	log("create cas again: %s", outcome(err))
	p2, err := a.AtomicPut(ctx, "cas", "2", p1)
	log("swap cas at its index: %s", outcome(err))
	_, err = b.AtomicPut(ctx, "cas", "x", p1)
	log("swap cas at a stale index: %s", outcome(err))
	err = b.AtomicDelete(ctx, "cas", p1)
	log("delete cas at a stale index: %s", outcome(err))
	err = a.AtomicDelete(ctx, "cas", p2)
	log("delete cas at its index: %s", outcome(err))
	_, err = b.Get(ctx, "cas")
	log("get cas: %s", outcome(err))

	// A compare-and-swap counter, two workers on each store.
	const workers, each = 4, 10
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []int
		incErr  error
	)
	for w := range workers {
		s := []kv.Store{a, b}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				n, _, err := s.Increment(ctx, "counter")
				mu.Lock()
				if err != nil {
					incErr = err
				}
				results = append(results, n)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	must("increment", incErr)
	final, err := a.Get(ctx, "counter")
	must("get counter", err)
	slices.Sort(results)
	once := len(results) == workers*each
	for i, n := range results {
		once = once && n == i+1
	}
	log("counter after %dx%d increments: %s; each of 1..%d returned once: %v", workers, each, final.Value, workers*each, once)

	// A recursive watch of one store sees the other's changes, in order,
	// and the expiry of a 1.5 s TTL.
	wctx, wcancel := context.WithCancel(ctx)
	events, err := a.WatchTree(wctx, "w")
	must("watch w", err)
	defer func() {
		wcancel()
		for range events {
		}
	}()
	must("put w/a", b.Put(ctx, "w/a", "1", 0))
	must("put w/b/c", b.Put(ctx, "w/b/c", "2", 0))
	must("put other/x", b.Put(ctx, "other/x", "not watched", 0))
	pa, err := b.Get(ctx, "w/a")
	must("get w/a", err)
	pa, err = b.AtomicPut(ctx, "w/a", "3", pa)
	must("swap w/a", err)
	must("delete w/a", b.AtomicDelete(ctx, "w/a", pa))
	must("put w/ttl", b.Put(ctx, "w/ttl", "t", 1500*time.Millisecond))
	for range 6 {
		select {
		case ev := <-events:
			log("watch: %s", ev)
		case <-ctx.Done():
			t.Fatalf("waiting for watch events: %v (transcript so far: %q)", ctx.Err(), out)
		}
	}

	// A 1.5 s lock whose holder goes away without unlocking: the other
	// store gets it once the TTL has run out.
	l1 := a.NewLock("locks/short", 1500*time.Millisecond)
	err = l1.Lock(ctx)
	log("lock 1.5s: %s", outcome(err))
	if err != nil {
		return out
	}
	ttl, err := l1.TTL(ctx)
	must("ttl of the 1.5s lock", err)
	if ttl != c.lockTTL {
		t.Errorf("etcd shows ttl %d on a 1.5s lock taken with %s, want %d", ttl, c.name, c.lockTTL)
	}
	l1.Abandon()
	_, err = b.Get(ctx, "locks/short")
	log("abandoned 1.5s lock still there: %s", outcome(err))
	l2 := b.NewLock("locks/short", 1500*time.Millisecond)
	err = l2.Lock(ctx)
	log("second store takes the abandoned 1.5s lock: %s", outcome(err))
	if err == nil {
		log("unlock: %s", outcome(l2.Unlock(ctx)))
	}

	// A 3 s lock kept alive by refreshes past its TTL; the contender gets
	// it when it is unlocked.
	l3 := a.NewLock("locks/held", 3*time.Second)
	err = l3.Lock(ctx)
	must("lock 3s", err)
	ttl, err = l3.TTL(ctx)
	must("ttl of the 3s lock", err)
	log("lock 3s: %s, etcd shows ttl %d", outcome(err), ttl)
	l4 := b.NewLock("locks/held", 3*time.Second)
	acquired := make(chan error, 1)
	go func() { acquired <- l4.Lock(ctx) }()
	// The hold itself is what is tested: longer than the TTL, so only
	// the refreshes keep the lock.
	time.Sleep(4 * time.Second)
	select {
	case err := <-acquired:
		log("after 4s (past the 3s TTL, kept alive) the contender still waits: false (%s)", outcome(err))
		return out
	default:
		log("after 4s (past the 3s TTL, kept alive) the contender still waits: true")
	}
	log("unlock: %s", outcome(l3.Unlock(ctx)))
	err = <-acquired
	log("contender takes it after the unlock: %s", outcome(err))
	if err == nil {
		log("contender unlocks: %s", outcome(l4.Unlock(ctx)))
	}
	return out
}
