package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// slowVersionServer answers reads at once and flushes the headers of long
// polls, which then wait for their context; /version never answers: a
// member too busy for its probe's budget. It counts the long polls.
func slowVersionServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var polls atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Etcd-Index", "5")
			if r.URL.Query().Get("wait") != "true" {
				io.WriteString(w, okGetBody)
				return
			}
			polls.Add(1)
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	}))
	t.Cleanup(s.Close)
	return s, &polls
}

// A probe that gets no answer within its budget while other calls get
// theirs from the same member finds it busy, not down: the watch waiting
// on it goes on. Without the other answers, the same member is found down
// and the watch re-issued.
func TestHealthBusyMemberIsNotDown(t *testing.T) {
	for _, busy := range []bool{true, false} {
		s, polls := slowVersionServer(t)
		c := pinnedClient(t, Config{}, s.URL)
		k := NewKeysAPI(c)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			k.Watcher("/k", &WatcherOptions{AfterIndex: 5}).Next(ctx)
		}()
		if busy {
			go func() {
				for ctx.Err() == nil {
					k.Get(ctx, "/k", nil)
					time.Sleep(20 * time.Millisecond)
				}
			}()
		}
		// The first probe, sent once the watch has waited, has timed out
		// when a second one starts.
		waitUntilFor(t, 10*time.Second, "a second probe", func() bool {
			h := EndpointsHealth(c)
			return h[0].Probes >= 2 || polls.Load() >= 2
		})
		h := EndpointsHealth(c)[0]
		switch {
		case busy && (h.State == HealthDown || polls.Load() != 1):
			t.Errorf("member answering other calls: %s (%s), %d long polls; want not down, one poll", h.State, h.Reason, polls.Load())
		case !busy && polls.Load() < 2:
			t.Errorf("member answering nothing: %s, %d long polls after its probe timed out; want the poll cut and re-issued", h.State, polls.Load())
		}
		cancel()
		<-done
	}
}
