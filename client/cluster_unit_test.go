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

func TestSyncKeepsEndpointsWhenTheListIsUnusable(t *testing.T) {
	dead := deadEndpoint(t)
	for _, tc := range []struct {
		name    string
		members [][]string
		want    string
	}{
		{"no client URLs", [][]string{{}, {}}, "none of the 2 members lists a usable client URL"},
		{"invalid client URLs", [][]string{{"localhost:2379"}}, "has the scheme"},
		{"unreachable advertised URLs", [][]string{{dead}, {"http://127.0.0.1:9"}}, "none of the members' advertised client URLs answered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := membersServer(t, tc.members...)
			c := pinnedClient(t, Config{}, s.URL)
			err := c.Sync(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sync err = %v, want one saying %q", err, tc.want)
			}
			if eps := c.Endpoints(); len(eps) != 1 || eps[0] != s.URL {
				t.Fatalf("endpoints changed to %v", eps)
			}
		})
	}
	t.Run("duplicates dropped", func(t *testing.T) {
		var self string
		s := httptest.NewUnstartedServer(nil)
		s.Start()
		defer s.Close()
		self = s.URL
		s.Config.Handler = membersServer(t, []string{self, self + "/"}, []string{self}).Config.Handler
		c := pinnedClient(t, Config{}, deadEndpoint(t), self)
		if err := c.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if eps := c.Endpoints(); len(eps) != 1 || eps[0] != self {
			t.Fatalf("after Sync: %v, want only %s", eps, self)
		}
	})
}

func TestAutoSyncSurvivesErrors(t *testing.T) {
	s, calls := countingServer(t, 500, `{"message":"Internal Server Error"}`)
	c := pinnedClient(t, Config{}, s.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.AutoSync(ctx, 10*time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 10 { // five failed syncs at least (2 attempts each)
		if time.Now().After(deadline) {
			t.Fatalf("AutoSync stopped after %d requests", calls.Load())
		}
		select {
		case err := <-done:
			t.Fatalf("AutoSync returned on a failed Sync: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("AutoSync = %v, want context.Canceled", err)
	}
}

func TestMaxResponseBytes(t *testing.T) {
	big := `{"action":"get","node":{"key":"/k","value":"` + strings.Repeat("x", 4096) + `"}}`
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, big)
	}))
	defer s.Close()
	c := pinnedClient(t, Config{MaxResponseBytes: 1024}, s.URL)
	_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	var tl *ResponseTooLargeError
	if !errors.As(err, &tl) || tl.Endpoint != s.URL || !strings.Contains(err.Error(), "1024") {
		t.Fatalf("err = %v, want a *ResponseTooLargeError naming the endpoint and limit", err)
	}
	c2 := pinnedClient(t, Config{MaxResponseBytes: int64(len(big))}, s.URL)
	if _, err := NewKeysAPI(c2).Get(context.Background(), "/k", nil); err != nil {
		t.Fatalf("an answer of exactly the limit was refused: %v", err)
	}
	if _, err := New(Config{Endpoints: []string{s.URL}, MaxResponseBytes: -1}); err == nil {
		t.Fatal("a negative MaxResponseBytes was accepted")
	}
}

// TestTransportDefaults: an *http.Transport (DefaultTransport too) drives
// the Client's connection transport, and its watches go through
// NewWatchTransport of it (over a copy without the cap); the ones made from
// DefaultTransport are shared by all clients. A Transport of another type
// is used as is, for watches too; Config.WatchTransport when it is set.
func TestTransportDefaults(t *testing.T) {
	dt := DefaultTransport.(*http.Transport)
	if dt.MaxConnsPerHost != dt.MaxIdleConnsPerHost || dt.MaxConnsPerHost == 0 {
		t.Fatalf("DefaultTransport: MaxConnsPerHost %d, MaxIdleConnsPerHost %d; want the same cap", dt.MaxConnsPerHost, dt.MaxIdleConnsPerHost)
	}
	if !dt.DisableCompression {
		t.Error("DefaultTransport asks for gzip, which etcd never sends")
	}
	of := func(cfg Config) (keys, watches CancelableTransport) {
		t.Helper()
		cfg.Endpoints = []string{"http://127.0.0.1:2379"}
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c.cluster().transport, c.cluster().watchTransport
	}
	k1, w1 := of(Config{})
	k2, w2 := of(Config{Transport: DefaultTransport})
	if kc, ok := k1.(*conns); !ok || kc.base != dt {
		t.Fatalf("requests of a default client go through %#v, want NewTransport(DefaultTransport)", k1)
	}
	wc, ok := w1.(*conns)
	if !ok {
		t.Fatalf("watches of a default client go through %#v, want the watch transport", w1)
	}
	w := wc.base
	if w == dt || w.MaxConnsPerHost != 0 || w.MaxIdleConnsPerHost != watchIdlePerMember || w.TLSClientConfig == nil ||
		w.ReadBufferSize != watchReadBuffer || w.WriteBufferSize != watchWriteBuffer {
		t.Fatalf("watches of a default client go through %#v, want an uncapped copy of DefaultTransport with small buffers and room for idle connections", w1)
	}
	if w2 != w1 || k2 != k1 {
		t.Error("two default clients do not share their transports")
	}
	capped := dt.Clone()
	capped.MaxConnsPerHost = 8
	k, w3 := of(Config{Transport: capped})
	if kc, ok := k.(*conns); !ok || kc.base != capped {
		t.Errorf("a capped Transport's requests go through %#v, want NewTransport of it", k)
	}
	if w, ok := w3.(*conns); !ok || w.base == capped || w.base.MaxConnsPerHost != 0 {
		t.Errorf("a capped Transport's watches go through %#v, want the watch transport over an uncapped copy", w3)
	}
	other := &cannedTransport{}
	if k, w := of(Config{Transport: other}); w != other || k != other {
		t.Error("a Transport that is not an *http.Transport is not used as is")
	}
	if _, w := of(Config{Transport: capped, WatchTransport: other}); w != other {
		t.Error("Config.WatchTransport is not used")
	}
}
