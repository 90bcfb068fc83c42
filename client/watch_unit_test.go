package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Faults a real etcd cannot be made to produce on demand: empty long-poll
// answers, a member vanishing mid-answer, a proxy that does not stream, a
// member that hangs after its headers. Real-etcd watch tests are in
// tests/watch.

func event(action string, index int) string {
	return fmt.Sprintf(`{"action":%q,"node":{"key":"/w","value":"v%d","modifiedIndex":%d,"createdIndex":%d}}`+"\n", action, index, index, index)
}

func TestWatchEmptyAnswersAreRepolledWithoutSpinning(t *testing.T) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1) <= 4 {
			w.WriteHeader(200) // the long poll ended without an event
			return
		}
		io.WriteString(w, event("set", 7))
	}))
	defer s.Close()
	c := pinnedClient(t, Config{}, s.URL)
	start := time.Now()
	resp, err := NewKeysAPI(c).Watcher("/w", nil).Next(context.Background())
	if err != nil || resp.Node.ModifiedIndex != 7 {
		t.Fatalf("Next = %v, %v", resp, err)
	}
	if n.Load() != 5 {
		t.Fatalf("%d requests, want 5", n.Load())
	}
	if d := time.Since(start); d < 4*repollWaitMin/2 {
		t.Fatalf("4 empty answers re-polled in %v: no pause between them", d)
	}
}

func TestWatchResumesOnAnotherMemberFromTheSameIndex(t *testing.T) {
	waits := make(chan string, 4)
	dying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waits <- "dying " + r.URL.Query().Get("waitIndex")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // the member dies while the watch waits
	}))
	defer dying.Close()
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		waits <- "healthy " + r.URL.Query().Get("waitIndex")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, event("set", 43))
	}))
	defer healthy.Close()
	c := pinnedClient(t, Config{}, dying.URL, healthy.URL)
	w := NewKeysAPI(c).Watcher("/w", &WatcherOptions{AfterIndex: 41})
	// The dying member accepted the poll: it stays pinned until it fails
	// again, so take it out of the ring as a killed member would be.
	go func() {
		<-waits
		dying.Close()
	}()
	resp, err := w.Next(context.Background())
	if err != nil || resp.Node.ModifiedIndex != 43 {
		t.Fatalf("Next = %v, %v", resp, err)
	}
	if got := <-waits; got != "healthy 42" {
		t.Fatalf("the resumed poll was %q, want the healthy member asked for index 42", got)
	}
}

func TestWatchIdleTimeoutMovesToAnotherMember(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		select { // headers sent, then nothing: a member that stopped answering
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	var asked atomic.Value
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.URL.Query().Get("waitIndex"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, event("set", 10))
	}))
	defer healthy.Close()
	c := pinnedClient(t, Config{}, hung.URL, healthy.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := NewKeysAPI(c).Watcher("/w", &WatcherOptions{AfterIndex: 9, IdleTimeout: 100 * time.Millisecond}).Next(ctx)
	if err != nil || resp.Node.ModifiedIndex != 10 {
		t.Fatalf("Next = %v, %v", resp, err)
	}
	if asked.Load() != "10" {
		t.Fatalf("healthy member asked for %v, want 10", asked.Load())
	}
}

func TestWatchStreamDropsDuplicatesAndFallsBack(t *testing.T) {
	t.Run("duplicates", func(t *testing.T) {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("stream") != "true" {
				t.Errorf("stream not requested: %s", r.URL.RawQuery)
			}
			w.Header().Set("Content-Type", "application/json")
			for _, e := range []string{event("set", 5), event("delete", 6), event("delete", 6), event("set", 7)} {
				io.WriteString(w, e)
				w.(http.Flusher).Flush()
			}
			<-r.Context().Done()
		}))
		defer s.Close()
		c := pinnedClient(t, Config{}, s.URL)
		w := NewKeysAPI(c).Watcher("/w", &WatcherOptions{Stream: true})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var got []string
		for i := 0; i < 3; i++ {
			resp, err := w.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s@%d", resp.Action, resp.Node.ModifiedIndex))
		}
		if strings.Join(got, " ") != "set@5 delete@6 set@7" {
			t.Fatalf("events %v", got)
		}
	})
	t.Run("non-streaming proxy", func(t *testing.T) {
		var mu sync.Mutex
		var queries []string
		index := 20
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			queries = append(queries, r.URL.Query().Get("stream"))
			index++
			i := index
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, event("set", i)) // one event, then the answer ends
		}))
		defer s.Close()
		c := pinnedClient(t, Config{}, s.URL)
		w := NewKeysAPI(c).Watcher("/w", &WatcherOptions{Stream: true})
		for i := 0; i < 5; i++ {
			resp, err := w.Next(context.Background())
			if err != nil || resp.Node.ModifiedIndex != uint64(21+i) {
				t.Fatalf("Next %d = %v, %v", i, resp, err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if queries[0] != "true" || queries[len(queries)-1] != "" {
			t.Fatalf("stream= per request %q: want streaming first, long polling once it proved not to stream", queries)
		}
	})
}

func TestWatchContextCancelIsPrompt(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer s.Close()
	c := pinnedClient(t, Config{}, s.URL)
	for _, stream := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := NewKeysAPI(c).Watcher("/w", &WatcherOptions{Stream: stream}).Next(ctx)
		if err != context.Canceled {
			t.Fatalf("stream=%v: err = %v, want context.Canceled", stream, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("stream=%v: Next returned %v after the cancel", stream, d)
		}
	}
}

func TestWatchChanEndsWithTheContext(t *testing.T) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, event("set", int(n.Add(1))))
	}))
	defer s.Close()
	c := pinnedClient(t, Config{}, s.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wc := WatchChan(ctx, NewKeysAPI(c), "/w", nil)
	var last uint64
	for resp := range wc.C {
		if resp.Node.ModifiedIndex != last+1 {
			t.Fatalf("event %d after %d", resp.Node.ModifiedIndex, last)
		}
		last = resp.Node.ModifiedIndex
		if last == 5 {
			cancel()
		}
	}
	if err := wc.Err(); err != context.Canceled {
		t.Fatalf("Err = %v, want context.Canceled", err)
	}
}

// The index headers of a long poll's answer come before its event; the
// event carries them, and one that is not a number fails the event as it
// fails any answer.
func TestWatchEventCarriesTheAnswersHeaders(t *testing.T) {
	term := "3"
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Etcd-Index", "12")
		h.Set("X-Raft-Index", "40")
		h.Set("X-Raft-Term", term)
		h.Set("X-Etcd-Cluster-Id", "cdf818194e3a8c32")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		io.WriteString(w, event("set", 13))
	}))
	defer s.Close()
	c := pinnedClient(t, Config{}, s.URL)
	resp, err := NewKeysAPI(c).Watcher("/w", &WatcherOptions{AfterIndex: 12}).Next(context.Background())
	if err != nil || resp.Index != 12 || resp.RaftIndex != 40 || resp.RaftTerm != 3 || resp.ClusterID != "cdf818194e3a8c32" || resp.Node.ModifiedIndex != 13 {
		t.Fatalf("Next = %+v, %v", resp, err)
	}
	term = "three"
	_, err = NewKeysAPI(c).Watcher("/w", &WatcherOptions{AfterIndex: 12}).Next(context.Background())
	if err == nil || !strings.Contains(err.Error(), `header X-Raft-Term: "three" is not an index`) {
		t.Fatalf("Next with a bad X-Raft-Term: %v", err)
	}
}
