package watch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// historySize is how many events etcd keeps: the oldest index a watch may
// still ask for is the current index - (historySize - 1).
const historySize = 1000

// fill makes n writes to a key outside the watched trees, pushing older
// events out of the history.
func fill(t *testing.T, ctx context.Context, kapi client.KeysAPI, n int) {
	t.Helper()
	for i := range n {
		if _, err := kapi.Set(ctx, "/filler", fmt.Sprint(i), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEventIndexCleared watches from indexes just inside and just outside
// the 1000-event history. Outside, Next (long polling and streaming) and
// WatchChan end with the server's error as a client.Error: errorCode 401 and
// Index the server's current index. Inside, the watch works. It is skipped
// on the v3 backend (v3Skips).
func TestEventIndexCleared(t *testing.T) {
	for _, b := range clienttest.Backends(t) {
		t.Run(b.String(), func(t *testing.T) {
			skipOnV3(t, b)
			s := b.Server
			cl := etcdtest.StartCluster(t, s, 1)
			c, _ := clienttest.New(t, cl.Endpoints(), client.Config{})
			kapi := client.NewKeysAPI(c)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()

			r, err := kapi.Set(ctx, "/win/k", "old", nil)
			if err != nil {
				t.Fatal(err)
			}
			old := r.Node.ModifiedIndex
			fill(t, ctx, kapi, historySize+100)
			cur := storeIndex(t, kapi)

			for _, stream := range []bool{false, true} {
				w := kapi.Watcher("/win/k", &client.WatcherOptions{AfterIndex: old, Stream: stream})
				for attempt := range 2 {
					resp, err := w.Next(ctx)
					var e client.Error
					switch {
					case err == nil:
						t.Fatalf("stream=%v: Next from cleared index %d returned %s @%d", stream, old+1, resp.Action, resp.Index)
					case !errors.As(err, &e):
						t.Fatalf("stream=%v: Next: %v (%T), want a client.Error", stream, err, err)
					case e.Code != client.ErrorCodeEventIndexCleared || e.Index != cur || !client.IsEventIndexCleared(err):
						t.Errorf("stream=%v, attempt %d: got %#v, want code %d and index %d", stream, attempt, e, client.ErrorCodeEventIndexCleared, cur)
					}
					if attempt == 0 {
						t.Logf("%s: stream=%v: %v", s, stream, err)
					}
				}
			}

			wc := client.WatchChan(ctx, kapi, "/win/k", &client.WatcherOptions{AfterIndex: old})
			for resp := range wc.C {
				t.Errorf("WatchChan from a cleared index delivered %s", resp.Action)
			}
			if err := wc.Err(); !client.IsEventIndexCleared(err) {
				t.Errorf("WatchChan ended with %v, want the cleared-index error", err)
			}

			// The window's edge: cur-999 is still there, cur-1000 is not.
			rec := func(after uint64) (*client.Response, error) {
				return kapi.Watcher("/", &client.WatcherOptions{AfterIndex: after, Recursive: true}).Next(ctx)
			}
			edge := cur - (historySize - 1)
			if resp, err := rec(edge - 1); err != nil || resp.Node.ModifiedIndex != edge {
				t.Errorf("watch from %d (the oldest index kept): %v, %v; want the event at %d", edge, resp, err, edge)
			}
			if _, err := rec(edge - 2); !client.IsEventIndexCleared(err) {
				t.Errorf("watch from %d (just outside the history): %v, want the cleared-index error", edge-1, err)
			}
		})
	}
}

// tree is a directory's content flattened: key to value, "<dir>" for
// directories; the watched directory itself is left out.
type tree map[string]string

const dirMark = "<dir>"

// flatten adds n's descendants to tr.
func (tr tree) flatten(n *client.Node) {
	if n == nil {
		return
	}
	for _, c := range n.Nodes {
		if c.Dir {
			tr[c.Key] = dirMark
			tr.flatten(c)
		} else {
			tr[c.Key] = c.Value
		}
	}
}

// apply changes tr by one watched event under root.
func (tr tree) apply(root string, resp *client.Response) error {
	n := resp.Node
	switch resp.Action {
	case "set", "create", "update", "compareAndSwap":
		// A write creates the missing directories above it, without events.
		for p := path.Dir(n.Key); p != root && strings.HasPrefix(p, root+"/"); p = path.Dir(p) {
			tr[p] = dirMark
		}
		if n.Dir {
			tr[n.Key] = dirMark
		} else {
			tr[n.Key] = n.Value
		}
	case "delete", "compareAndDelete", "expire":
		delete(tr, n.Key)
		for k := range tr {
			if strings.HasPrefix(k, n.Key+"/") {
				delete(tr, k)
			}
		}
	default:
		return fmt.Errorf("unexpected action %q on %s", resp.Action, n.Key)
	}
	return nil
}

// diff describes how got differs from want, or returns "".
func (tr tree) diff(want tree) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := tr[k]; !ok {
			out = append(out, fmt.Sprintf("missing %s=%s", k, want[k]))
		} else if g != want[k] {
			out = append(out, fmt.Sprintf("%s=%s, server has %s", k, g, want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(tr)) {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("extra %s=%s", k, tr[k]))
		}
	}
	return strings.Join(out, "; ")
}

// mutate makes n writes of every kind under root (sets, creates, updates,
// compare-and-swaps, deletes, compare-and-deletes, directories made and
// removed recursively, in-order keys, a key with a TTL), then, once the TTL
// key has expired, writes root/end=end. Writes refused because a key is
// missing or exists, or a compare fails, are part of the mix.
func mutate(ctx context.Context, kapi client.KeysAPI, root string, n int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	if _, err := kapi.Set(ctx, root+"/ttl", "short-lived", &client.SetOptions{TTL: time.Second}); err != nil {
		return err
	}
	for i := range n {
		k := fmt.Sprintf("%s/k%d", root, rng.IntN(20))
		d := fmt.Sprintf("%s/d%d", root, rng.IntN(5))
		val := fmt.Sprintf("v%d", i)
		var err error
		switch i % 9 {
		case 0:
			_, err = kapi.Set(ctx, k, val, nil)
		case 1:
			_, err = kapi.Create(ctx, k, val)
		case 2:
			_, err = kapi.Update(ctx, k, val)
		case 3:
			var r *client.Response
			if r, err = kapi.Get(ctx, k, nil); err == nil {
				_, err = kapi.Set(ctx, k, val, &client.SetOptions{PrevValue: r.Node.Value})
			}
		case 4:
			_, err = kapi.Delete(ctx, k, nil)
		case 5:
			var r *client.Response
			if r, err = kapi.Get(ctx, k, nil); err == nil {
				_, err = kapi.Delete(ctx, k, &client.DeleteOptions{PrevIndex: r.Node.ModifiedIndex})
			}
		case 6:
			_, err = kapi.Set(ctx, fmt.Sprintf("%s/sub%d/x", d, rng.IntN(3)), val, nil)
		case 7:
			if rng.IntN(3) == 0 {
				_, err = kapi.Delete(ctx, d, &client.DeleteOptions{Dir: true, Recursive: true})
			} else {
				_, err = kapi.Set(ctx, d+"/empty", "", &client.SetOptions{Dir: true})
			}
		case 8:
			_, err = kapi.CreateInOrder(ctx, root+"/queue", val, nil)
		}
		var e client.Error
		if err != nil && !(errors.As(err, &e) && slices.Contains([]int{client.ErrorCodeKeyNotFound, client.ErrorCodeNodeExist, client.ErrorCodeTestFailed, client.ErrorCodeNotFile}, e.Code)) {
			return fmt.Errorf("write %d: %w", i, err)
		}
	}
	for {
		_, err := kapi.Get(ctx, root+"/ttl", &client.GetOptions{Quorum: true})
		if client.IsKeyNotFound(err) {
			break
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	_, err := kapi.Set(ctx, root+"/end", "end", nil)
	return err
}

// TestResync starts recursive watches (long polling and streaming) with
// Resync from an index the history no longer holds, while another client
// changes the tree. The first Response is an ActionResync carrying the tree;
// the events after it, applied on top, must give exactly the tree a final
// quorum read returns. A Resync watch of a missing key gets an ActionResync
// with no node. On the v3 backend the history is compacted instead of
// outrun.
func TestResync(t *testing.T) {
	for _, s := range clienttest.Backends(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s.Server, 1)
			writer, _ := s.KeysAPI(t, cl.Endpoints(), client.Config{Transport: clienttest.NewTransport(t, nil)})
			kapi, _ := s.KeysAPI(t, cl.Endpoints(), client.Config{Transport: clienttest.NewTransport(t, nil)})
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()

			// Both trees are made, then pushed out of the history together.
			for _, stream := range []bool{false, true} {
				root := fmt.Sprintf("/rs%v", stream)
				for _, kv := range [][2]string{{"/a", "1"}, {"/sub/b", "2"}, {"/sub/deep/c", "3"}} {
					if _, err := writer.Set(ctx, root+kv[0], kv[1], nil); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := writer.Set(ctx, root+"/emptydir", "", &client.SetOptions{Dir: true}); err != nil {
					t.Fatal(err)
				}
			}
			old := storeIndex(t, writer)
			if s.V3 {
				fill(t, ctx, writer, 10)
				cl.Compact(ctx, int64(storeIndex(t, writer)))
			} else {
				fill(t, ctx, writer, historySize+100)
			}
			cleared := storeIndex(t, writer)
			resp, err := kapi.Watcher("/rsfalse/missing", &client.WatcherOptions{AfterIndex: old, Resync: true}).Next(ctx)
			if err != nil || resp.Action != client.ActionResync || resp.Node != nil || resp.Index != cleared {
				t.Errorf("resync of a missing key: %+v, %v; want %q with no node at index %d", resp, err, client.ActionResync, cleared)
			}

			for _, stream := range []bool{false, true} {
				root := fmt.Sprintf("/rs%v", stream)
				mutated := make(chan error, 1)
				go func() { mutated <- mutate(ctx, writer, root, 300) }()

				w := kapi.Watcher(root, &client.WatcherOptions{AfterIndex: old, Recursive: true, Resync: true, Stream: stream})
				first, err := w.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if first.Action != client.ActionResync || first.Node == nil || !first.Node.Dir || first.Node.Key != root || first.Index < cleared {
					t.Fatalf("stream=%v: first Response %s %v @%d, want %q of %s at %d or later", stream, first.Action, first.Node, first.Index, client.ActionResync, root, cleared)
				}
				state := tree{}
				state.flatten(first.Node)
				resyncKeys := len(state)
				last, events := first.Index, 0
				actions := map[string]int{}
				for {
					resp, err := w.Next(ctx)
					if err != nil {
						t.Fatalf("stream=%v: after %d events: %v", stream, events, err)
					}
					if resp.Action == client.ActionResync {
						t.Fatalf("stream=%v: a second resync after %d events", stream, events)
					}
					if resp.Node.ModifiedIndex <= last {
						t.Fatalf("stream=%v: event %s %s @%d after @%d", stream, resp.Action, resp.Node.Key, resp.Node.ModifiedIndex, last)
					}
					last = resp.Node.ModifiedIndex
					events++
					actions[resp.Action]++
					if err := state.apply(root, resp); err != nil {
						t.Fatal(err)
					}
					if resp.Node.Key == root+"/end" {
						break
					}
				}
				if err := <-mutated; err != nil {
					t.Fatal(err)
				}
				final, err := writer.Get(ctx, root, &client.GetOptions{Recursive: true, Quorum: true})
				if err != nil {
					t.Fatal(err)
				}
				want := tree{}
				want.flatten(final.Node)
				if d := state.diff(want); d != "" {
					t.Errorf("stream=%v: resync state + events differs from the server's tree: %s", stream, d)
				}
				t.Logf("%s: stream=%v: watch from %d, cleared at %d: resync at index %d with %d keys, then %d events %v; the final tree of %d keys matches the server's",
					s, stream, old+1, cleared, first.Index, resyncKeys, events, actions, len(want))
			}
		})
	}
}
