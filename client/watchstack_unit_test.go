package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestWaitingWatcherStack: a watcher waiting for its event, on a client
// made with the default Config, holds one goroutine of the smallest stack
// Go grows to under a waiting read (4 KiB), where a watch whose goroutine
// waited deeper would hold 8 KiB: with 10,000 watchers, 40 MiB of
// difference. Measured over 2,000 watchers of distinct keys, each resuming
// from an index and called from a consumer's frame, against a
// member whose connections hold no goroutine once a long poll's headers
// are out. The race detector doubles stack guards, so it skips under it.
func TestWaitingWatcherStack(t *testing.T) {
	if raceDetector {
		t.Skip("stack sizes are not those of a normal build under the race detector")
	}
	const n = 2000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	defer func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				// Headers of a long poll at once, the event never: the
				// connection is kept, its goroutine ends.
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil || req.URL.Query().Get("wait") != "true" {
					// Anything but a watch (member health's probes): a
					// short answer.
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
					c.Close()
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Etcd-Index: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}()
		}
	}()
	c, err := New(Config{Endpoints: []string{"http://" + ln.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	k := NewKeysAPI(c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range n {
		w := k.Watcher(fmt.Sprintf("/stack/%d", i), &WatcherOptions{AfterIndex: 5})
		wg.Go(func() { consume(ctx, w) })
	}
	for end := time.Now().Add(30 * time.Second); ; {
		mu.Lock()
		got := len(held)
		mu.Unlock()
		if got == n && runtime.NumGoroutine()-g0 <= n+4 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("after 30 s: %d of %d long polls held, %d goroutines more than before", got, n, runtime.NumGoroutine()-g0)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Collections shrink stacks that use little of what they hold.
	for range 4 {
		runtime.GC()
	}
	runtime.ReadMemStats(&after)
	per := float64(after.StackInuse-before.StackInuse) / n
	t.Logf("%d waiting watchers: %d goroutines more, %.0f bytes of stack and %.0f of heap each", n,
		runtime.NumGoroutine()-g0, per, float64(after.HeapInuse-before.HeapInuse)/n)
	if per > 6<<10 {
		t.Errorf("a waiting watcher holds %.0f bytes of stack, want at most 4 KiB (plus slack)", per)
	}
}

// consume is a consumer's loop around Next: a frame of its own above the
// watch's, as every program has. With it, a request path 136 bytes deeper
// (the index headers read inline in request) put a waiting watcher at 6.5
// KB of stack, against 4.8 KB.
//
//go:noinline
func consume(ctx context.Context, w Watcher) {
	var last [8]uint64 // what a consumer keeps of its events
	if r, err := w.Next(ctx); err == nil && r.Node != nil {
		last[r.Node.ModifiedIndex%8] = r.Node.ModifiedIndex
	}
	runtime.KeepAlive(&last)
}
