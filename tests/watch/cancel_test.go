package watch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// promptCancel is how soon Next must return once its context is cancelled.
const promptCancel = 100 * time.Millisecond

// stacksContain reports whether some goroutine's stack has fn in it: the
// sign that a Next is parked where the test wants it.
func stacksContain(fn string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
}

// TestNextCancelIsPrompt cancels the context of a Next that waits for an
// event: a long poll held by the server, and a stream that has delivered an
// event and waits for the next. Next must return context.Canceled within
// 100 ms, and once the clients' idle connections are closed no goroutine of
// the watch may be left. It runs on every backend (on the v3 backend both
// watches are streams).
func TestNextCancelIsPrompt(t *testing.T) {
	for _, s := range clienttest.Backends(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s.Server, 1)
			ep := cl.Endpoints()[0]
			ignore := goleak.IgnoreCurrent()
			wtr, tr := clienttest.NewTransport(t, nil), clienttest.NewTransport(t, nil)
			writer, _ := s.KeysAPI(t, cl.Endpoints(), client.Config{Transport: wtr})
			kapi, _ := s.KeysAPI(t, cl.Endpoints(), client.Config{Transport: tr})

			var took []string
			for round := range 3 {
				for _, stream := range []bool{false, true} {
					key := fmt.Sprintf("/cancel/%v/%d", stream, round)
					after := storeIndex(t, writer)
					ctx, cancel := context.WithCancel(t.Context())
					w := kapi.Watcher(key, &client.WatcherOptions{AfterIndex: after, Stream: stream})
					if stream {
						// The stream is opened, delivers one event, and stays
						// open for the next.
						got := make(chan error, 1)
						go func() {
							_, err := w.Next(ctx)
							got <- err
						}()
						etcdtest.WaitFor(t, "the stream registered", func() bool { return watchesHeld(s, ep) >= 1 })
						if _, err := writer.Set(ctx, key, "v", nil); err != nil {
							t.Fatal(err)
						}
						if err := <-got; err != nil {
							t.Fatal(err)
						}
					}
					done := make(chan error, 1)
					go func() {
						_, err := w.Next(ctx)
						done <- err
					}()
					if stream {
						etcdtest.WaitFor(t, "Next reading the stream", func() bool { return stacksContain(watchStack(s)) })
					} else {
						etcdtest.WaitFor(t, "the long poll held by the server", func() bool { return watchesHeld(s, ep) >= 1 })
					}
					at := time.Now()
					cancel()
					var err error
					select {
					case err = <-done:
					case <-time.After(10 * time.Second):
						t.Fatalf("stream=%v: Next did not return within 10 s of the cancel", stream)
					}
					d := time.Since(at)
					took = append(took, fmt.Sprintf("stream=%v %v", stream, d.Round(100*time.Microsecond)))
					if !errors.Is(err, context.Canceled) {
						t.Errorf("stream=%v: Next returned %v, want context.Canceled", stream, err)
					}
					if d > promptCancel {
						t.Errorf("stream=%v: Next returned %v after the cancel, want within %v", stream, d, promptCancel)
					}
					etcdtest.WaitFor(t, "the server to drop the watch", func() bool { return watchesHeld(s, ep) == 0 })
				}
			}
			closeIdle(wtr, tr)
			goleak.VerifyNone(t, ignore)
			t.Logf("%s: Next returned after the cancel in: %s; no goroutine left", s, strings.Join(took, ", "))
		})
	}
}

// TestWatchChanCancel ranges over a WatchChan (long polling and streaming)
// for 50 events written while it runs, then cancels: C must close, Err must
// be context.Canceled, and no goroutine may be left. It runs on every
// backend.
func TestWatchChanCancel(t *testing.T) {
	for _, s := range clienttest.Backends(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s.Server, 1)
			ignore := goleak.IgnoreCurrent()
			wtr, tr := clienttest.NewTransport(t, nil), clienttest.NewTransport(t, nil)
			writer, _ := s.KeysAPI(t, cl.Endpoints(), client.Config{Transport: wtr})
			kapi, _ := s.KeysAPI(t, cl.Endpoints(), client.Config{Transport: tr})
			const n = 50

			for _, stream := range []bool{false, true} {
				key := fmt.Sprintf("/wc/%v", stream)
				after := storeIndex(t, writer)
				ctx, cancel := context.WithCancel(t.Context())
				ch := client.WatchChan(ctx, kapi, key, &client.WatcherOptions{AfterIndex: after, Stream: stream})
				wrote := make(chan []uint64, 1)
				go func() {
					var idx []uint64
					defer func() { wrote <- idx }()
					for i := range n {
						r, err := writer.Set(ctx, key, fmt.Sprint(i), nil)
						if err != nil {
							t.Errorf("write %d: %v", i, err)
							return
						}
						idx = append(idx, r.Node.ModifiedIndex)
					}
				}()
				var got []*client.Response
				for resp := range ch.C {
					got = append(got, resp)
					if len(got) == n {
						break
					}
				}
				want := <-wrote
				for i, resp := range got {
					if i >= len(want) || resp.Node.Value != fmt.Sprint(i) || resp.Node.ModifiedIndex != want[i] {
						t.Errorf("stream=%v: event %d is %s=%s @%d", stream, i, resp.Node.Key, resp.Node.Value, resp.Node.ModifiedIndex)
						break
					}
				}
				at := time.Now()
				cancel()
				extra := 0
				for closed := false; !closed; {
					select {
					case _, ok := <-ch.C:
						if ok {
							extra++
						}
						closed = !ok
					case <-time.After(10 * time.Second):
						t.Fatalf("stream=%v: C still open 10 s after the cancel", stream)
					}
				}
				d := time.Since(at)
				if extra > 0 {
					t.Errorf("stream=%v: %d events after the %d written", stream, extra, n)
				}
				if err := ch.Err(); err != context.Canceled {
					t.Errorf("stream=%v: Err() = %v, want context.Canceled", stream, err)
				}
				t.Logf("%s: stream=%v: %d events in order, C closed %v after the cancel", s, stream, len(got), d.Round(100*time.Microsecond))
			}
			closeIdle(wtr, tr)
			goleak.VerifyNone(t, ignore)
		})
	}
}
