// Package hostile points the client at servers no etcd would be: bodies that
// never end, stall half-way, trickle a byte at a time, claim or send
// gigabytes, and headers that never end. Every call must end by the
// caller's context, or by Config.MaxResponseBytes with a
// *ResponseTooLargeError that says so, and the client's memory must stay
// bounded while it happens (measured and logged per case).
package hostile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/meycoin/goetcd/client"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	mib = 1 << 20
	gib = 1 << 30
)

// body describes what a hostile server answers.
type body struct {
	status        int
	prefix        string // sent first
	contentLength int64  // declared; 0 = chunked
	filler        byte   // repeated after prefix, forever (until the client goes)
	rate          int    // bytes per second of filler; 0 = as fast as possible
	stall         bool   // after prefix, send nothing more and keep the connection
}

// server answers every request with b. It counts the bytes it sent and
// returns once the client disconnects or the test ends.
type server struct {
	*httptest.Server
	sent atomic.Int64
}

func newServer(t *testing.T, b body) *server {
	t.Helper()
	done := make(chan struct{})
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Etcd-Index", "7")
		if b.contentLength > 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(b.contentLength, 10))
		}
		status := b.status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		n, _ := io.WriteString(w, b.prefix)
		s.sent.Add(int64(n))
		w.(http.Flusher).Flush()
		if b.stall {
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		chunk := strings.Repeat(string(b.filler), 64<<10)
		var tick *time.Ticker
		if b.rate > 0 {
			chunk = chunk[:min(len(chunk), max(1, b.rate/100))]
			tick = time.NewTicker(time.Second * time.Duration(len(chunk)) / time.Duration(b.rate))
			defer tick.Stop()
		}
		for {
			if tick != nil {
				select {
				case <-tick.C:
				case <-r.Context().Done():
					return
				case <-done:
					return
				}
			}
			n, err := io.WriteString(w, chunk)
			s.sent.Add(int64(n))
			if err != nil {
				return
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}))
	t.Cleanup(func() {
		close(done)
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

// memWatch samples the heap while a call runs and reports the peak growth
// over the baseline.
type memWatch struct {
	base, peak uint64
	stop       chan struct{}
	done       chan struct{}
}

func watchMemory() *memWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &memWatch{base: ms.HeapAlloc, peak: ms.HeapAlloc, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			w.peak = max(w.peak, ms.HeapAlloc)
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// end stops sampling and returns the peak heap growth in bytes.
func (w *memWatch) end() uint64 {
	close(w.stop)
	<-w.done
	return w.peak - w.base
}

// call is one client call against a hostile server.
type call struct {
	name string
	do   func(ctx context.Context, c client.Client) error
}

var calls = []call{
	{"Get", func(ctx context.Context, c client.Client) error {
		_, err := client.NewKeysAPI(c).Get(ctx, "/k", &client.GetOptions{Recursive: true})
		return err
	}},
	{"Set", func(ctx context.Context, c client.Client) error {
		_, err := client.NewKeysAPI(c).Set(ctx, "/k", "v", nil)
		return err
	}},
	{"Watch", func(ctx context.Context, c client.Client) error {
		_, err := client.NewKeysAPI(c).Watcher("/k", &client.WatcherOptions{IdleTimeout: -1}).Next(ctx)
		return err
	}},
	{"StreamWatch", func(ctx context.Context, c client.Client) error {
		_, err := client.NewKeysAPI(c).Watcher("/k", &client.WatcherOptions{Stream: true, IdleTimeout: -1}).Next(ctx)
		return err
	}},
	{"Members", func(ctx context.Context, c client.Client) error {
		_, err := client.NewMembersAPI(c).List(ctx)
		return err
	}},
	{"Version", func(ctx context.Context, c client.Client) error {
		_, err := c.GetVersion(ctx)
		return err
	}},
}

// newClient makes a client over a fresh transport whose connections are
// closed when the test ends.
func newClient(t *testing.T, ep string, limit int64) client.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := client.New(client.Config{Endpoints: []string{ep}, Transport: tr, MaxResponseBytes: limit, HeaderTimeoutPerRequest: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const eventPrefix = `{"action":"set","node":{"key":"/k","modifiedIndex":8,"createdIndex":8,"value":"`

// TestResponseSizeLimit: bodies that never end, and a 3 GiB value (declared
// by Content-Length, or chunked), are cut at Config.MaxResponseBytes with a
// *ResponseTooLargeError naming the limit and the endpoint, for every kind
// of call, at once; the heap grows by at most a small multiple of the limit.
func TestResponseSizeLimit(t *testing.T) {
	const limit = 4 * mib
	bodies := []struct {
		name string
		b    body
	}{
		{"endless", body{prefix: eventPrefix, filler: 'A'}},
		{"3GiB-declared", body{prefix: eventPrefix, filler: 'B', contentLength: 3*gib + int64(len(eventPrefix))}},
		{"endless-error-status", body{status: http.StatusNotFound, prefix: `{"errorCode":100,"message":"`, filler: 'C'}},
		{"endless-whitespace", body{prefix: "", filler: ' '}},
	}
	for _, bd := range bodies {
		for _, cl := range calls {
			t.Run(bd.name+"/"+cl.name, func(t *testing.T) {
				s := newServer(t, bd.b)
				c := newClient(t, s.URL, limit)
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				mw := watchMemory()
				start := time.Now()
				err := cl.do(ctx, c)
				d := time.Since(start)
				grew := mw.end()
				var tl *client.ResponseTooLargeError
				if !errors.As(err, &tl) {
					t.Fatalf("err = %v (%T) after %v, want a *ResponseTooLargeError", err, err, d)
				}
				if tl.Limit != limit || tl.Endpoint != s.URL || !strings.Contains(err.Error(), "MaxResponseBytes") {
					t.Fatalf("error %+v: %v", tl, err)
				}
				if grew > 3*limit+8*mib {
					t.Errorf("heap grew by %.1f MiB reading a body cut at %d MiB", float64(grew)/mib, limit/mib)
				}
				t.Logf("%s/%s: cut after %v; server sent %.1f MiB; heap grew by at most %.1f MiB (limit %d MiB)",
					bd.name, cl.name, d.Round(time.Millisecond), float64(s.sent.Load())/mib, float64(grew)/mib, limit/mib)
			})
		}
	}
}

// TestContextBoundsHostileBodies: without a size limit, a body that stalls
// half-way, trickles a byte at a time, or streams forever (throttled here to
// 64 MiB/s so that the heap figure means something) ends the call when the
// caller's context does, with the context's error, within a small margin;
// the heap grows by no more than a small multiple of what arrived.
func TestContextBoundsHostileBodies(t *testing.T) {
	const deadline = 400 * time.Millisecond
	bodies := []struct {
		name string
		b    body
	}{
		{"stall-mid-body", body{prefix: eventPrefix + "half a value", stall: true}},
		{"stall-declared-length", body{prefix: eventPrefix, contentLength: 1 << 40, stall: true}},
		{"trickle", body{prefix: eventPrefix, filler: 'T', rate: 20}},
		{"endless-64MiB/s", body{prefix: eventPrefix, filler: 'E', rate: 64 * mib}},
		{"3GiB-at-64MiB/s", body{prefix: eventPrefix, filler: 'G', rate: 64 * mib, contentLength: 3 * gib}},
	}
	for _, bd := range bodies {
		for _, cl := range calls {
			t.Run(bd.name+"/"+cl.name, func(t *testing.T) {
				s := newServer(t, bd.b)
				c := newClient(t, s.URL, 0)
				ctx, cancel := context.WithTimeout(t.Context(), deadline)
				defer cancel()
				mw := watchMemory()
				start := time.Now()
				err := cl.do(ctx, c)
				d := time.Since(start)
				grew := mw.end()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v (%T) after %v, want the context's deadline", err, err, d)
				}
				// The margin allows for a loaded machine (make test runs
				// packages side by side); an unbounded read never ends.
				if d > deadline+3*time.Second {
					t.Errorf("the call ended %v after a %v deadline", d, deadline)
				}
				// Without a limit the whole answer so far is buffered: the
				// growing buffer, its previous copy and the garbage the GC
				// has not collected yet come to about 4× what arrived.
				sent := s.sent.Load()
				if grew > uint64(5*sent)+16*mib {
					t.Errorf("heap grew by %.1f MiB while the server sent %.1f MiB", float64(grew)/mib, float64(sent)/mib)
				}
				t.Logf("%s/%s: ended after %v by the context; server sent %.2f MiB; heap grew by at most %.1f MiB",
					bd.name, cl.name, d.Round(time.Millisecond), float64(sent)/mib, float64(grew)/mib)
			})
		}
	}
}

// TestEndlessStreamEvent: a stream watch whose server sends a few good
// events and then one that never ends. With a limit the watch delivers the
// good events and then fails with a *ResponseTooLargeError (the limit
// applies per event, not to the stream); without one, the context ends it.
func TestEndlessStreamEvent(t *testing.T) {
	var good strings.Builder
	for i := 8; i < 11; i++ {
		fmt.Fprintf(&good, `{"action":"set","node":{"key":"/k","value":"%d","modifiedIndex":%d,"createdIndex":%d}}`+"\n", i, i, i)
	}
	for _, limit := range []int64{64 << 10, 0} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			s := newServer(t, body{prefix: good.String() + eventPrefix, filler: 'S'})
			c := newClient(t, s.URL, limit)
			w := client.NewKeysAPI(c).Watcher("/k", &client.WatcherOptions{Stream: true, IdleTimeout: -1})
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			mw := watchMemory()
			var events int
			var err error
			for {
				var r *client.Response
				if r, err = w.Next(ctx); err != nil {
					break
				}
				events++
				if want := strconv.Itoa(7 + events); r.Node.Value != want {
					t.Fatalf("event %d has value %q", events, r.Node.Value)
				}
			}
			grew := mw.end()
			if events != 3 {
				t.Fatalf("%d good events delivered before %v, want 3", events, err)
			}
			var tl *client.ResponseTooLargeError
			if limit > 0 && !errors.As(err, &tl) {
				t.Fatalf("err = %v, want a *ResponseTooLargeError", err)
			}
			if limit == 0 && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the context's deadline", err)
			}
			t.Logf("limit %d: 3 events, then %v; server sent %.1f MiB; heap grew by at most %.1f MiB", limit, err, float64(s.sent.Load())/mib, float64(grew)/mib)
		})
	}
}

// TestEndlessHeaders: a server that answers with header lines that never
// end. The transport's own header limit (1 MiB here) or
// HeaderTimeoutPerRequest ends the attempt; the call fails with an error
// naming the endpoint, within the caller's time.
func TestEndlessHeaders(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				go func() { <-stop; conn.Close() }()
				io.WriteString(conn, "HTTP/1.1 200 OK\r\n")
				line := []byte("X-Endless: " + strings.Repeat("h", 1000) + "\r\n")
				for {
					if _, err := conn.Write(line); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { close(stop); l.Close(); wg.Wait() })
	for _, tc := range []struct {
		name string
		tr   *http.Transport
	}{
		{"header-limit", &http.Transport{MaxResponseHeaderBytes: mib}},
		{"header-timeout", &http.Transport{MaxResponseHeaderBytes: 1 << 40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(tc.tr.CloseIdleConnections)
			ep := "http://" + l.Addr().String()
			c, err := client.New(client.Config{Endpoints: []string{ep}, Transport: tc.tr, HeaderTimeoutPerRequest: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			mw := watchMemory()
			start := time.Now()
			_, err = client.NewKeysAPI(c).Get(ctx, "/k", nil)
			d := time.Since(start)
			grew := mw.end()
			if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), l.Addr().String()) {
				t.Fatalf("err = %v after %v; want an error naming the endpoint before the context ends", err, d)
			}
			t.Logf("%s: %v after %v; heap grew by at most %.1f MiB", tc.name, err, d.Round(time.Millisecond), float64(grew)/mib)
		})
	}
}
