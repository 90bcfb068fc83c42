package client

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// These use httptest servers for what a test cannot make a real member do
// on cue: stop half-way through an answer. The whole-member freeze (SIGSTOP)
// and the dead leader are tested against real etcd in tests/cluster and
// tests/watch.

// stallingServer answers keys requests with headers and the start of a body,
// then stops sending; /version never answers either: a member that froze
// in the middle of an answer. It counts the keys requests.
func stallingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/keys") {
			n.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Etcd-Index", "5")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"action":"get","node":{"key":"/k","val`)
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) })
	return s, &n
}

const okGetBody = `{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}` + "\n"

func TestHealthCutsAnAttemptOnAMemberThatStopsAnswering(t *testing.T) {
	hung := hungServer(t)
	healthy, healthyN := countingServer(t, 200, okGetBody)
	var logs bytes.Buffer
	c := pinnedClient(t, Config{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}, hung.URL, healthy.URL)
	k := NewKeysAPI(c)
	start := time.Now()
	r, err := k.Get(context.Background(), "/k", nil)
	d := time.Since(start)
	if err != nil || r.Node.Value != "v" {
		t.Fatalf("Get with the pinned member hung: %v, %v", r, err)
	}
	// probeAfter, then a probe that gets no answer within probeTimeout.
	if d < probeAfter || d > probeAfter+probeTimeout+time.Second {
		t.Errorf("the Get took %v, want about %v", d, probeAfter+probeTimeout)
	}
	if healthyN.Load() != 1 {
		t.Errorf("the healthy member got %d requests, want 1", healthyN.Load())
	}
	h := EndpointsHealth(c)
	if h[0].State != HealthDown || h[0].Probes == 0 || !strings.Contains(h[0].Reason, "no answer") {
		t.Errorf("health of the hung member: %+v, want down after a probe", h[0])
	}
	if !strings.Contains(logs.String(), `"msg":"etcd member health"`) || !strings.Contains(logs.String(), `"to":"down"`) {
		t.Errorf("no health change logged: %s", logs.String())
	}
	// The next call goes straight to the healthy member.
	start = time.Now()
	if _, err := k.Get(context.Background(), "/k", nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > probeAfter/2 {
		t.Errorf("a call after the member was found down took %v", d)
	}
}

func TestHealthResendsAReadCutHalfWay(t *testing.T) {
	stalled, stalledN := stallingServer(t)
	healthy, healthyN := countingServer(t, 200, okGetBody)
	c := pinnedClient(t, Config{}, stalled.URL, healthy.URL)
	r, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	if err != nil || r.Node.Value != "v" {
		t.Fatalf("Get whose answer stalled half-way: %v, %v", r, err)
	}
	if stalledN.Load() != 1 || healthyN.Load() != 1 {
		t.Errorf("requests: stalled member %d, healthy member %d; want 1 and 1", stalledN.Load(), healthyN.Load())
	}
}

func TestHealthDoesNotResendAOneShotWrite(t *testing.T) {
	hung := hungServer(t)
	healthy, healthyN := countingServer(t, 201, okSetBody)
	c := pinnedClient(t, Config{}, hung.URL, healthy.URL)
	_, err := NewKeysAPI(c).Create(context.Background(), "/k", "v")
	if !IsOutcomeUnknown(err) {
		t.Fatalf("Create on a member that stopped answering: %v, want an outcome-unknown error", err)
	}
	if healthyN.Load() != 0 {
		t.Errorf("the create was sent again (%d times) after it may have been applied", healthyN.Load())
	}
	if !strings.Contains(err.Error(), "stopped answering") {
		t.Errorf("error %q does not say the member stopped answering", err)
	}
}

func TestHealthStateNames(t *testing.T) {
	for s, want := range map[HealthState]string{HealthHealthy: "healthy", HealthSuspect: "suspect", HealthDown: "down", 7: "HealthState(7)"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
}
