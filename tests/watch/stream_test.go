package watch

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// rawEvent is the part of a streamed event the raw reader looks at.
type rawEvent struct {
	Action string `json:"action"`
	Node   struct {
		Key           string `json:"key"`
		Value         string `json:"value"`
		ModifiedIndex uint64 `json:"modifiedIndex"`
	} `json:"node"`
}

// rawStream reads a stream=true watch with plain HTTP, next to the client,
// to show what the server really sends.
type rawStream struct {
	events chan rawEvent
	err    error // set before events is closed
}

// openRawStream starts a stream watch of key on endpoint from waitIndex and
// returns once its headers are in; it ends with ctx.
func openRawStream(t *testing.T, ctx context.Context, endpoint, key string, waitIndex uint64) *rawStream {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v2/keys%s?wait=true&stream=true&waitIndex=%d", endpoint, key, waitIndex), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("raw stream: %s", resp.Status)
	}
	rs := &rawStream{events: make(chan rawEvent, 64)}
	go func() {
		defer close(rs.events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var e rawEvent
			if rs.err = json.Unmarshal(sc.Bytes(), &e); rs.err != nil {
				return
			}
			select {
			case rs.events <- e:
			case <-ctx.Done():
				return
			}
		}
		rs.err = sc.Err()
	}()
	return rs
}

// TestStreamDropsDuplicateDeleteAndExpire deletes, and lets expire, the key a
// stream watch watches. etcd sends the delete and the expire event twice on
// such a stream (a raw stream next to the client proves it does here); the
// client delivers each once, and the events after them follow in order, all
// on the one stream.
func TestStreamDropsDuplicateDeleteAndExpire(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 1)
			ep := cl.Endpoints()[0]
			wc, _ := clienttest.New(t, cl.Endpoints(), client.Config{})
			sc, str := clienttest.New(t, cl.Endpoints(), client.Config{})
			writer := client.NewKeysAPI(wc)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()

			const key = "/dup/k"
			r, err := writer.Set(ctx, key, "v1", nil)
			if err != nil {
				t.Fatal(err)
			}
			after := r.Node.ModifiedIndex
			raw := openRawStream(t, ctx, ep, key, after+1)
			w := client.NewKeysAPI(sc).Watcher(key, &client.WatcherOptions{AfterIndex: after, Stream: true})
			type result struct {
				resp *client.Response
				err  error
			}
			results := make(chan result)
			go func() {
				for {
					resp, err := w.Next(ctx)
					select {
					case results <- result{resp, err}:
					case <-ctx.Done():
						return
					}
					if err != nil {
						return
					}
				}
			}()
			// Both streams must be registered before the first write, so that
			// every event arrives on them rather than from the history.
			etcdtest.WaitFor(t, "both stream watches registered", func() bool { return serverWatchers(ep) >= 2 })

			var want []string
			del, err := writer.Delete(ctx, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("delete %s= @%d", key, del.Node.ModifiedIndex))
			for _, v := range []string{"v2", "v3"} {
				r, err := writer.Set(ctx, key, v, nil)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, fmt.Sprintf("set %s=%s @%d", key, v, r.Node.ModifiedIndex))
			}
			// v4 expires by itself; v5 is written once it has.
			r, err = writer.Set(ctx, key, "v4", &client.SetOptions{TTL: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("set %s=v4 @%d", key, r.Node.ModifiedIndex), "expire")
			ttlSetAt := time.Now()

			var got []string
			var expiredAfter time.Duration
			for wroteV5 := false; len(got) < len(want); {
				res := <-results
				if res.err != nil {
					t.Fatalf("after %v: %v", got, res.err)
				}
				n := res.resp.Node
				line := fmt.Sprintf("%s %s=%s @%d", res.resp.Action, n.Key, n.Value, n.ModifiedIndex)
				if res.resp.Action == "expire" {
					// The expire's index is not known beforehand.
					want[len(got)] = fmt.Sprintf("expire %s= @%d", key, n.ModifiedIndex)
					expiredAfter = time.Since(ttlSetAt)
				}
				got = append(got, line)
				if len(got) == len(want) && !wroteV5 {
					r, err := writer.Set(ctx, key, "v5", nil)
					if err != nil {
						t.Fatal(err)
					}
					want = append(want, fmt.Sprintf("set %s=v5 @%d", key, r.Node.ModifiedIndex))
					wroteV5 = true
				}
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("event %d: got %q, want %q", i, got[i], want[i])
				}
			}
			if n := requests(str, sc); n != 1 {
				t.Errorf("the watch made %d requests; all events should have come on one stream", n)
			}

			// What the server sent on the raw stream, up to v5.
			counts := map[string]int{}
			for sawV5 := false; !sawV5; {
				e, ok := <-raw.events
				if !ok {
					t.Fatalf("raw stream ended before v5: %v (so far %v)", raw.err, counts)
				}
				counts[fmt.Sprintf("%s@%d", e.Action, e.Node.ModifiedIndex)]++
				sawV5 = e.Node.Value == "v5"
			}
			dups := 0
			for ev, n := range counts {
				if n > 1 {
					dups++
					t.Logf("%s: the server sent %s %d times on the raw stream", s, ev, n)
				}
			}
			if dups != 2 {
				t.Errorf("the server duplicated %d events on the raw stream (%v), want the delete and the expire: the test no longer exercises the duplicate drop", dups, counts)
			}
			t.Logf("%s: client delivered %d events, each once, on 1 stream: %v (the expire came %v after the 1 s TTL write)", s, len(got), got, expiredAfter.Round(time.Millisecond))
		})
	}
}

// TestStreamCatchesUpFromHistory starts a stream watch from an index whose
// events are already in the server's history, then keeps writing. etcd
// answers such a stream with the first matching event from the history and
// nothing after it: the watch is not registered, so the answer stays open
// and silent (a raw stream next to the client shows it). The client must
// still deliver every event promptly, not one per IdleTimeout.
func TestStreamCatchesUpFromHistory(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 1)
			ep := cl.Endpoints()[0]
			wc, _ := clienttest.New(t, cl.Endpoints(), client.Config{})
			sc, str := clienttest.New(t, cl.Endpoints(), client.Config{})
			writer := client.NewKeysAPI(wc)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()

			const key, past, live = "/hist/k", 50, 20
			start := storeIndex(t, writer)
			var want []uint64
			set := func(i int) {
				r, err := writer.Set(ctx, key, fmt.Sprintf("v%03d", i), nil)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, r.Node.ModifiedIndex)
			}
			for i := range past {
				set(i)
			}
			raw := openRawStream(t, ctx, ep, key, start+1)

			// IdleTimeout stays at its default (a minute): a stall shows as
			// the test's deadline, not as a slow pass.
			w := client.NewKeysAPI(sc).Watcher(key, &client.WatcherOptions{AfterIndex: start, Stream: true})
			began := time.Now()
			check := func(i int, resp *client.Response, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("event %d: %v (the stream opened from the history stalled)", i, err)
				}
				if resp.Node.ModifiedIndex != want[i] || resp.Node.Value != fmt.Sprintf("v%03d", i) {
					t.Fatalf("event %d: %s=%s @%d, want v%03d @%d", i, resp.Node.Key, resp.Node.Value, resp.Node.ModifiedIndex, i, want[i])
				}
			}
			for i := range past {
				resp, err := w.Next(ctx)
				check(i, resp, err)
			}
			caughtUp := time.Since(began)
			historyRequests := requests(str, sc)

			// Caught up, the next stream is registered and carries every
			// live event.
			type result struct {
				resp *client.Response
				err  error
			}
			results := make(chan result, live)
			go func() {
				for range live {
					resp, err := w.Next(ctx)
					results <- result{resp, err}
					if err != nil {
						return
					}
				}
			}()
			etcdtest.WaitFor(t, "the live stream registered", func() bool { return serverWatchers(ep) >= 1 })
			liveStart := time.Now()
			for i := past; i < past+live; i++ {
				set(i)
			}
			for i := past; i < past+live; i++ {
				r := <-results
				check(i, r.resp, r.err)
			}
			liveTook := time.Since(liveStart)
			if n := requests(str, sc) - historyRequests; n != 1 {
				t.Errorf("the live events took %d requests, want 1 stream", n)
			}

			// The raw stream got the first event and nothing since.
			var rawGot []uint64
			select {
			case e := <-raw.events:
				rawGot = append(rawGot, e.Node.ModifiedIndex)
			case <-ctx.Done():
				t.Fatal("raw stream: no event")
			}
		drain:
			for {
				select {
				case e := <-raw.events:
					rawGot = append(rawGot, e.Node.ModifiedIndex)
				default:
					break drain
				}
			}
			if len(rawGot) != 1 {
				t.Logf("%s: the raw stream from the history delivered %d events (%v); the server no longer stalls such streams", s, len(rawGot), rawGot)
			}
			t.Logf("%s: %d events from the history in %v over %d requests (one each), then %d live in %v on 1 stream; a raw stream opened from the same index delivered %v and then nothing", s, past, caughtUp.Round(time.Millisecond), historyRequests, live, liveTook.Round(time.Millisecond), rawGot)
		})
	}
}
