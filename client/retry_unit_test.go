package client

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests use httptest servers only for faults a real etcd cannot be
// made to produce on demand; the same behaviours against real members are in
// tests/.

const okSetBody = `{"action":"set","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}` + "\n"

func TestOneShotWriteIsNotResentAfterA5xx(t *testing.T) {
	sick, sickN := countingServer(t, 500, `{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}`)
	healthy, healthyN := countingServer(t, 201, okSetBody)
	c := pinnedClient(t, Config{}, sick.URL, healthy.URL)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"create", func() error { _, err := NewKeysAPI(c).Create(context.Background(), "/k", "v"); return err }},
		{"in-order", func() error {
			_, err := NewKeysAPI(c).CreateInOrder(context.Background(), "/q", "v", nil)
			return err
		}},
		{"cas", func() error {
			_, err := NewKeysAPI(c).Set(context.Background(), "/k", "v", &SetOptions{PrevValue: "old"})
			return err
		}},
		{"cad", func() error {
			_, err := NewKeysAPI(c).Delete(context.Background(), "/k", &DeleteOptions{PrevIndex: 3})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.repin(c.endpoints, 0)
			sickN.Store(0)
			healthyN.Store(0)
			err := tc.call()
			if !IsOutcomeUnknown(err) {
				t.Fatalf("err = %v, want an outcome-unknown error", err)
			}
			var e Error
			if !errors.As(err, &e) || e.Code != ErrorCodeRaftInternal || !strings.Contains(e.Cause, "timed out") {
				t.Fatalf("the server's error is lost: %v", err)
			}
			if sickN.Load() != 1 || healthyN.Load() != 0 {
				t.Fatalf("requests: sick %d, healthy %d; want 1 and 0 (never sent twice)", sickN.Load(), healthyN.Load())
			}
		})
	}
	// The pin moved on: the next call goes to the other member.
	if _, err := NewKeysAPI(c).Get(context.Background(), "/k", nil); err != nil {
		t.Fatal(err)
	}
	if healthyN.Load() != 1 {
		t.Fatalf("after an unknown outcome the next call did not go elsewhere")
	}
}

func TestOneShotWriteIsNotResentAfterAReset(t *testing.T) {
	reset, resetN := resettingServer(t)
	healthy, healthyN := countingServer(t, 201, okSetBody)
	c := pinnedClient(t, Config{}, reset.URL, healthy.URL)
	_, err := NewKeysAPI(c).CreateInOrder(context.Background(), "/q", "job", nil)
	if !IsOutcomeUnknown(err) {
		t.Fatalf("err = %v, want outcome unknown", err)
	}
	if resetN.Load() != 1 || healthyN.Load() != 0 {
		t.Fatalf("requests: reset %d, healthy %d; want 1 and 0", resetN.Load(), healthyN.Load())
	}
}

func TestWritesFailOverWhenTheyNeverLeft(t *testing.T) {
	healthy, healthyN := countingServer(t, 201, okSetBody)
	c := pinnedClient(t, Config{}, deadEndpoint(t), healthy.URL)
	if _, err := NewKeysAPI(c).Create(context.Background(), "/k", "v"); err != nil {
		t.Fatalf("create with a dead pinned member: %v", err)
	}
	if healthyN.Load() != 1 {
		t.Fatalf("healthy member got %d requests, want 1", healthyN.Load())
	}
	// The client now prefers the member that answered.
	if _, err := NewKeysAPI(c).Get(context.Background(), "/k", nil); err != nil {
		t.Fatal(err)
	}
	if healthyN.Load() != 2 {
		t.Fatalf("pin did not move to the healthy member")
	}
}

func TestIdempotentWritesAndReadsFailOver(t *testing.T) {
	reset, _ := resettingServer(t)
	sick, _ := countingServer(t, 503, `{"message":"During election"}`)
	healthy, healthyN := countingServer(t, 200, okSetBody)
	c := pinnedClient(t, Config{}, reset.URL, sick.URL, healthy.URL)
	kapi := NewKeysAPI(c)
	if _, err := kapi.Set(context.Background(), "/k", "v", nil); err != nil {
		t.Fatalf("plain set: %v", err)
	}
	c.repin(c.endpoints, 0)
	if _, err := kapi.Get(context.Background(), "/k", &GetOptions{Quorum: true}); err != nil {
		t.Fatalf("quorum get: %v", err)
	}
	if healthyN.Load() != 2 {
		t.Fatalf("healthy member got %d requests, want 2", healthyN.Load())
	}
}

func TestAllMembersFailingGivesAClusterError(t *testing.T) {
	sick, _ := countingServer(t, 500, `{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}`)
	dead := deadEndpoint(t)
	c := pinnedClient(t, Config{}, sick.URL, dead)
	_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	var ce *ClusterError
	if !errors.As(err, &ce) || !errors.Is(err, ErrClusterUnavailable) {
		t.Fatalf("err = %v, want a *ClusterError", err)
	}
	msg := err.Error()
	for _, want := range []string{sick.URL, strings.TrimPrefix(dead, "http://"), "request timed out"} {
		if !strings.Contains(msg, want) {
			t.Errorf("cluster error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "no leader") {
		t.Errorf("a 500 is not labelled 'no leader': %q", msg)
	}
	var e Error
	if !errors.As(err, &e) || e.Code != ErrorCodeRaftInternal {
		t.Errorf("errors.As does not find the etcd error in %v", err)
	}
}

func TestHungMemberCostsOnlyTheHeaderTimeout(t *testing.T) {
	hung := hungServer(t)
	healthy, _ := countingServer(t, 200, okSetBody)
	c := pinnedClient(t, Config{HeaderTimeoutPerRequest: 200 * time.Millisecond}, hung.URL, healthy.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := NewKeysAPI(c).Get(ctx, "/k", nil); err != nil {
		t.Fatalf("get with a hung pinned member: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the hung member used up the caller's deadline")
	}
}

func TestCancelledContextEndsTheCallWithItsError(t *testing.T) {
	hung := hungServer(t)
	c := pinnedClient(t, Config{}, hung.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := NewKeysAPI(c).Set(ctx, "/k", "v", nil)
	if err != context.DeadlineExceeded {
		t.Fatalf("err = %v, want context.DeadlineExceeded itself", err)
	}
}

func TestNotAnEtcdAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		sentinel          error
		want              string
	}{
		{"v2 disabled", "text/plain; charset=utf-8", "404 page not found\n", 404, ErrInvalidJSON, "--enable-v2"},
		{"html proxy page", "text/html", "<html><body>Bad Gateway</body></html>", 404, ErrInvalidJSON, "not an etcd v2 answer"},
		{"malformed json", "application/json", `{"action":"get","node":`, 200, ErrInvalidJSON, "unexpected end of JSON"},
		{"empty 200", "application/json", "", 200, ErrEmptyBody, "empty body"},
		{"json without action", "application/json", `{"hello":"world"}`, 200, ErrInvalidJSON, "no action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer s.Close()
			c := pinnedClient(t, Config{}, s.URL)
			_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
			var re *ResponseError
			if !errors.Is(err, tc.sentinel) || !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *ResponseError wrapping %v", err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), s.URL) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q should name the endpoint and say %q", err, tc.want)
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	type seen struct {
		method, body, auth string
	}
	got := make(chan seen, 4)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, string(b), r.Header.Get("Authorization")}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		io.WriteString(w, okSetBody)
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") == "" {
			t.Errorf("the configured member did not get the credentials")
		}
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()

	c := pinnedClient(t, Config{Username: "root", Password: "s3cret"}, redirector.URL)
	if _, err := NewKeysAPI(c).Set(context.Background(), "/k", "v", &SetOptions{TTL: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.method != "PUT" || !strings.Contains(s.body, "value=v") || !strings.Contains(s.body, "ttl=10") {
		t.Errorf("redirected request = %+v, want the same PUT with its body", s)
	}
	if s.auth != "" {
		t.Errorf("credentials were sent to another host on a redirect")
	}

	t.Run("limit", func(t *testing.T) {
		var loop *httptest.Server
		loop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, loop.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		}))
		defer loop.Close()
		var hops atomic.Int32
		c := pinnedClient(t, Config{CheckRedirect: func(via int) error {
			hops.Store(int32(via))
			return DefaultCheckRedirect(via)
		}}, loop.URL)
		_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
		if !errors.Is(err, ErrTooManyRedirects) {
			t.Fatalf("err = %v, want ErrTooManyRedirects", err)
		}
		if hops.Load() != 11 {
			t.Fatalf("CheckRedirect last saw via=%d, want 11", hops.Load())
		}
	})

	t.Run("https to http refused", func(t *testing.T) {
		tlsRedirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		}))
		defer tlsRedirector.Close()
		tr := tlsRedirector.Client().Transport.(*http.Transport)
		c := pinnedClient(t, Config{Transport: tr}, tlsRedirector.URL)
		_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
		if err == nil || !strings.Contains(err.Error(), "downgrade https to http") {
			t.Fatalf("err = %v, want a refused downgrade", err)
		}
		select {
		case s := <-got:
			t.Fatalf("the http target was reached: %+v", s)
		default:
		}
	})
}

func TestTLSVerificationIsOnByDefault(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a server with an untrusted certificate was sent a request")
	}))
	defer s.Close()
	c := pinnedClient(t, Config{}, s.URL)
	_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
}

func TestResentDeleteThatFindsNoKeyIsOutcomeUnknown(t *testing.T) {
	reset, _ := resettingServer(t)
	gone, goneN := countingServer(t, 404, `{"errorCode":100,"message":"Key not found","cause":"/k","index":9}`)
	c := pinnedClient(t, Config{}, reset.URL, gone.URL)
	_, err := NewKeysAPI(c).Delete(context.Background(), "/k", nil)
	if !IsOutcomeUnknown(err) || !IsKeyNotFound(err) {
		t.Fatalf("err = %v, want outcome unknown wrapping key-not-found", err)
	}
	if goneN.Load() != 1 {
		t.Fatalf("the delete was not resent to the other member")
	}
	// Without an earlier doubtful attempt, not found is just not found.
	c2 := pinnedClient(t, Config{}, gone.URL)
	if _, err := NewKeysAPI(c2).Delete(context.Background(), "/k", nil); IsOutcomeUnknown(err) || !IsKeyNotFound(err) {
		t.Fatalf("plain not found: %v", err)
	}
}

// A call that fails on every member goes through go-retryablehttp's loop:
// each member is tried retryRounds times, the second round only after the
// back-off, and go-retryablehttp itself prints nothing (its logger is off;
// attempts are logged to Config.Logger, when given).
func TestRetriesAreQuietAndBackOffBetweenRounds(t *testing.T) {
	sick, n := countingServer(t, 500, `{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}`)
	sick2, n2 := countingServer(t, 503, `{"message":"During election"}`)
	c := pinnedClient(t, Config{}, sick.URL, sick2.URL)

	// go-retryablehttp's default logger writes to the stderr it saw at
	// start-up, which no test can swap: check that the calls' clients have
	// none, and that nothing reaches the standard logger either.
	if l := newCall().rc.Logger; l != nil {
		t.Fatalf("go-retryablehttp logs to %T", l)
	}
	var logged strings.Builder
	log.SetOutput(&logged)
	start := time.Now()
	_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	took := time.Since(start)
	log.SetOutput(os.Stderr)

	var ce *ClusterError
	if !errors.As(err, &ce) || len(ce.Errors) != 2*retryRounds {
		t.Fatalf("err = %v, want a *ClusterError of %d attempts", err, 2*retryRounds)
	}
	if got := n.Load() + n2.Load(); got != 2*retryRounds || n.Load() != n2.Load() {
		t.Errorf("attempts per member: %d and %d, want %d each", n.Load(), n2.Load(), retryRounds)
	}
	// The back-off before the second round is jittered in [min/2, min].
	if took < retryWaitMin/2 {
		t.Errorf("four attempts took %v: no back-off before the second round (at least %v)", took, retryWaitMin/2)
	}
	if logged.Len() > 0 {
		t.Errorf("retries printed %q to the log", logged.String())
	}
}

// A call that gives up (here a one-shot write answered with a 5xx) must not
// close the idle connections of the other members: go-retryablehttp closes
// its client's idle connections whenever it gives up, and the client's pool
// is shared by every call.
func TestGivingUpKeepsOtherMembersConnections(t *testing.T) {
	var conns atomic.Int32
	healthy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Etcd-Index", "5")
		io.WriteString(w, okSetBody)
	}))
	healthy.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	healthy.Start()
	t.Cleanup(healthy.Close)
	sick, _ := countingServer(t, 500, `{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}`)
	c := pinnedClient(t, Config{}, healthy.URL, sick.URL)
	kapi := NewKeysAPI(c)
	ctx := context.Background()
	if _, err := kapi.Get(ctx, "/k", nil); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.pinned = 1
	c.mu.Unlock()
	if _, err := kapi.Create(ctx, "/k", "v"); !IsOutcomeUnknown(err) {
		t.Fatalf("create on a 500: %v, want an unknown outcome", err)
	}
	if _, err := kapi.Get(ctx, "/k", nil); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the healthy member saw %d connections, want 1: a failed call closed the shared pool's idle connections", n)
	}
}

// TestResentWriteCarriesItsWholeBody: a write resent after a reset and
// after a 5xx sends the same form each time, and the member that answers
// gets it whole.
func TestResentWriteCarriesItsWholeBody(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
	)
	record := func(status int, answer string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			w.WriteHeader(status)
			io.WriteString(w, answer)
		}))
		t.Cleanup(s.Close)
		return s
	}
	reset, _ := resettingServer(t)
	sick := record(503, `{"message":"During election"}`)
	healthy := record(200, okSetBody)
	c := pinnedClient(t, Config{}, reset.URL, sick.URL, healthy.URL)
	if _, err := NewKeysAPI(c).Set(context.Background(), "/k", "v", &SetOptions{TTL: time.Minute}); err != nil {
		t.Fatalf("set: %v", err)
	}
	want := "ttl=60&value=v"
	if len(bodies) != 2 || bodies[0] != want || bodies[1] != want {
		t.Fatalf("bodies sent after the reset: %q, want twice %q", bodies, want)
	}
}
