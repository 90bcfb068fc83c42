package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDoSendsThroughThePipeline(t *testing.T) {
	var dead = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"message":"unavailable"}`)
	}))
	defer dead.Close()
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, _, _ := r.BasicAuth()
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b)+" "+user)
	}))
	defer live.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, err := New(Config{Endpoints: []string{dead.URL, live.URL + "/base"}, Username: "u", Password: "p", Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "/v3/kv/range", strings.NewReader(`{"key":"YQ=="}`))
	resp, err := Do(context.Background(), c, req, RequestIdempotent)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if got, want := string(b), `POST /base/v3/kv/range {"key":"YQ=="} u`; got != want {
		t.Fatalf("answer %q, want %q", got, want)
	}

	// A one-shot request that got a 5xx is not resent.
	c2, _ := New(Config{Endpoints: []string{dead.URL, live.URL}, Transport: tr})
	req, _ = http.NewRequest(http.MethodPost, "/v3/kv/txn", strings.NewReader(`{}`))
	for range 4 {
		resp, err := Do(context.Background(), c2, req, RequestOneShot)
		if err == nil {
			resp.Body.Close()
		} else if !IsOutcomeUnknown(err) {
			t.Fatalf("one-shot after a 5xx: %v, want an outcome-unknown error or success", err)
		}
	}
	if _, err := Do(context.Background(), c2, req, RequestClass(9)); err == nil {
		t.Fatal("an unknown class was accepted")
	}
}

// TestDoWatchBodyUnderMemberHealth: the body of a RequestWatch answer whose
// member then stops answering (its /version probe hangs) is ended by member
// health within a few seconds with a timeout error naming the member, and
// the Client's pin leaves it; a body that is closed leaves no wait behind.
func TestDoWatchBodyUnderMemberHealth(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v3/watch" {
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"result":{"created":true}}`+"\n")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer other.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, err := New(Config{Endpoints: []string{hung.URL, other.URL}, Transport: tr, WatchTransport: tr})
	if err != nil {
		t.Fatal(err)
	}
	for PinnedEndpoint(c) != hung.URL {
		if err := c.SetEndpoints([]string{hung.URL, other.URL}); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "/v3/watch", strings.NewReader(`{}`))
	resp, err := Do(context.Background(), c, req, RequestWatch)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = io.ReadAll(resp.Body)
	took := time.Since(start)
	resp.Body.Close()
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() || !strings.Contains(err.Error(), "stopped answering") {
		t.Fatalf("reading the stream of a hung member: %v, want health's timeout error", err)
	}
	if took > 5*time.Second {
		t.Errorf("health ended the stream after %v, want within about 2 s", took)
	}
	if p := PinnedEndpoint(c); p == hung.URL {
		t.Errorf("the Client is still pinned to the hung member")
	}
	m := c.cluster().health.member(hung.URL)
	m.mu.Lock()
	n := len(m.waiters)
	m.mu.Unlock()
	if n != 0 {
		t.Errorf("%d waits left on the member after Close", n)
	}
	t.Logf("stream of a hung member ended %v after it began: %v", took.Round(time.Millisecond), err)
}

// TestDoResentAfter: an idempotent request whose first attempt reached a
// member that dropped the connection unanswered is resent, and ResentAfter
// gives that first failure; an answer at the first attempt gives nil.
func TestDoResentAfter(t *testing.T) {
	reset, hits := resettingServer(t)
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	defer live.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := pinnedClient(t, Config{Transport: tr}, reset.URL, live.URL)
	req, _ := http.NewRequest(http.MethodPost, "/v3/kv/txn", strings.NewReader(`{}`))
	resp, err := Do(context.Background(), c, req, RequestIdempotent)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	earlier := ResentAfter(resp)
	if hits.Load() != 1 || earlier == nil || !strings.Contains(earlier.Error(), reset.URL) {
		t.Fatalf("after a dropped attempt (%d hits): ResentAfter = %v, want the failure at %s", hits.Load(), earlier, reset.URL)
	}
	resp, err = Do(context.Background(), c, req, RequestIdempotent)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if earlier := ResentAfter(resp); earlier != nil {
		t.Errorf("an answer at the first attempt: ResentAfter = %v, want nil", earlier)
	}
	if ResentAfter(nil) != nil {
		t.Error("ResentAfter(nil) is not nil")
	}
}
