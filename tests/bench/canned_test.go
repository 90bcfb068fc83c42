package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The canned answers are the bytes etcd 3.5.35 sends, captured with
// `curl --raw -i` from a member started with --enable-v2: the same headers in
// the same order, Content-Length for small answers, and for large ones
// (etcd's handler writes the whole JSON in one Write, past net/http's
// 2 KiB buffer) a single chunk of Transfer-Encoding: chunked. Bodies end
// with the newline of json.Encoder.
const etcdHeaders = "Access-Control-Allow-Headers: accept, content-type, authorization\r\n" +
	"Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r\n" +
	"Access-Control-Allow-Origin: *\r\n" +
	"Content-Type: application/json\r\n" +
	"X-Etcd-Cluster-Id: d1cfaf999eb97a2a\r\n"

const etcdDate = "Date: Sun, 29 Nov 2026 07:05:20 GMT\r\n"

// smallGetBody is etcd's answer to GET /v2/keys/foo.
const smallGetBody = `{"action":"get","node":{"key":"/foo","value":"bar","modifiedIndex":4,"createdIndex":4}}` + "\n"

const (
	smallIndex = 4
	bigIndex   = 100_004
	bigKey     = "/big"
	// BigChildren is the number of children of the canned directory.
	bigChildren = 100_000
)

// etcdAnswer frames body as etcd does, with the index headers.
func etcdAnswer(status string, index uint64, body []byte, chunked bool) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + status + "\r\n")
	b.WriteString(etcdHeaders)
	fmt.Fprintf(&b, "X-Etcd-Index: %d\r\nX-Raft-Index: %d\r\nX-Raft-Term: 2\r\n", index, index+1)
	writeBody(&b, body, chunked)
	return b.Bytes()
}

// writeBody ends an answer's headers with the Date and the body's framing,
// and writes the body: Content-Length, or one chunk.
func writeBody(b *bytes.Buffer, body []byte, chunked bool) {
	b.WriteString(etcdDate)
	if chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		fmt.Fprintf(b, "%x\r\n", len(body))
		b.Write(body)
		b.WriteString("\r\n0\r\n\r\n")
	} else {
		fmt.Fprintf(b, "Content-Length: %d\r\n\r\n", len(body))
		b.Write(body)
	}
}

// bigDirBody is etcd's answer to a recursive GET of a directory with n
// children of small values, in etcd's field order.
func bigDirBody(n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 90)
	b.WriteString(`{"action":"get","node":{"key":"/big","dir":true,"nodes":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		idx := 5 + i
		fmt.Fprintf(&b, `{"key":"/big/key-%06d","value":"value-%06d","modifiedIndex":%d,"createdIndex":%d}`, i, i, idx, idx)
	}
	b.WriteString(`],"modifiedIndex":4,"createdIndex":4}}` + "\n")
	return b.Bytes()
}

var notFoundBody = []byte(`{"errorCode":100,"message":"Key not found","cause":"/nokey","index":4}` + "\n")

// cannedServer is a minimal HTTP/1.1 keep-alive server on 127.0.0.1 that
// answers each request with fixed bytes chosen by path. It allocates next to
// nothing per request, so that allocs/op and B/op measure the client alone;
// its CPU per request (two syscalls) is the same for every client.
type cannedServer struct {
	ln       net.Listener
	url      string
	routes   map[string][]byte
	notFound []byte

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startCanned(tb testing.TB, routes map[string][]byte) *cannedServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &cannedServer{
		ln:       ln,
		url:      "http://" + ln.Addr().String(),
		routes:   routes,
		notFound: etcdAnswer("404 Not Found", smallIndex, notFoundBody, false),
		conns:    map[net.Conn]struct{}{},
	}
	s.wg.Add(1)
	go s.serve()
	tb.Cleanup(s.close)
	return s
}

func (s *cannedServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.handle(c)
	}
}

func (s *cannedServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

var contentLength = []byte("content-length:")

func (s *cannedServer) handle(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	br := bufio.NewReaderSize(c, 16<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		// "GET /v2/keys/foo?recursive=false HTTP/1.1\r\n": route by path.
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			return
		}
		target := line[sp+1:]
		if sp = bytes.IndexByte(target, ' '); sp < 0 {
			return
		}
		target = target[:sp]
		if q := bytes.IndexByte(target, '?'); q >= 0 {
			target = target[:q]
		}
		answer, ok := s.routes[string(target)]
		if !ok {
			answer = s.notFound
		}
		bodyLen := 0
		for {
			h, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(h) <= 2 {
				break
			}
			if len(h) > len(contentLength) && bytes.EqualFold(h[:len(contentLength)], contentLength) {
				bodyLen, _ = strconv.Atoi(string(bytes.TrimSpace(h[len(contentLength):])))
			}
		}
		if bodyLen > 0 {
			if _, err := br.Discard(bodyLen); err != nil {
				return
			}
		}
		if _, err := c.Write(answer); err != nil {
			return
		}
	}
}

// cannedClients are compared on the canned server. The official client's
// transport settings do not matter for one connection at a time, so only
// the tuned variant runs here.
var cannedClients = []string{nameGoetcd, nameOfficial, nameRaw}

// BenchmarkCannedSmallGet is the client's cost of one small Get: build the
// request, send it, read and decode the answer (key, value, indexes and the
// index headers). cpu-ns/op is the process's CPU time per Get, which
// includes the canned server's two syscalls per request, the same for every
// client.
func BenchmarkCannedSmallGet(b *testing.B) {
	srv := startCanned(b, map[string][]byte{
		"/v2/keys/foo": etcdAnswer("200 OK", smallIndex, []byte(smallGetBody), false),
		"/v3/kv/txn":   v3SmallGet(),
	})
	for _, name := range inOrder(append(cannedClients, nameGoetcdV3)) {
		b.Run("client="+name, func(b *testing.B) {
			benchSmallGet(b, newKV(b, name, srv.url))
		})
	}
}

// BenchmarkCannedSmallGetNetHTTP is BenchmarkCannedSmallGet against a
// net/http server (httptest) instead of the lean canned server: what an
// in-process end-to-end test sees, server cost included in every number.
func BenchmarkCannedSmallGetNetHTTP(b *testing.B) {
	h := http.Header{
		"Access-Control-Allow-Headers": {"accept, content-type, authorization"},
		"Access-Control-Allow-Methods": {"POST, GET, OPTIONS, PUT, DELETE"},
		"Access-Control-Allow-Origin":  {"*"},
		"Content-Type":                 {"application/json"},
		"X-Etcd-Cluster-Id":            {"d1cfaf999eb97a2a"},
		"X-Etcd-Index":                 {strconv.Itoa(smallIndex)},
		"X-Raft-Index":                 {strconv.Itoa(smallIndex + 1)},
		"X-Raft-Term":                  {"2"},
		"Content-Length":               {strconv.Itoa(len(smallGetBody))},
	}
	body := []byte(smallGetBody)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wh := w.Header()
		for k, v := range h {
			wh[k] = v
		}
		w.Write(body)
	}))
	defer srv.Close()
	for _, name := range inOrder(cannedClients) {
		b.Run("client="+name, func(b *testing.B) {
			benchSmallGet(b, newKV(b, name, srv.URL))
		})
	}
}

func benchSmallGet(b *testing.B, c kv) {
	defer c.close()
	ctx := context.Background()
	check := func() {
		r, err := c.get(ctx, "/foo", false)
		if err != nil {
			b.Fatal(err)
		}
		if r.value != "bar" || r.index != smallIndex {
			b.Fatalf("decoded %+v", r)
		}
	}
	check() // opens the connection
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		check()
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(c.conns()), "conns")
}

// BenchmarkCannedBigGet is a recursive Get of a directory with 100,000
// children (an 8 MiB answer). The clients take turns call by call, each
// call after a collection, so that a burst of other work on the machine
// hits all of them alike; the sub-benchmarks then report each client's
// medians: call-ns (wall time per call), cpu-ns/op, peak-heap-MiB (the
// highest heap in use during a call above the settled heap before it,
// sampled every 100 µs, in calls apart from the timed ones), allocs/op and
// B/op.
func BenchmarkCannedBigGet(b *testing.B) {
	body := bigDirBody(bigChildren)
	srv := startCanned(b, map[string][]byte{
		"/v2/keys/big": etcdAnswer("200 OK", bigIndex, body, true),
		"/v3/kv/txn":   v3BigGet(),
	})
	names := inOrder(append(cannedClients, nameGoetcdV3))
	type acc struct {
		wall, cpu     latencies
		peak          []float64
		allocs, bytes uint64
		calls         int
	}
	kvs := map[string]kv{}
	res := map[string]*acc{}
	ctx := context.Background()
	get := func(c kv) {
		r, err := c.get(ctx, bigKey, true)
		if err != nil {
			b.Fatal(err)
		}
		if r.children != bigChildren || r.index != bigIndex {
			b.Fatalf("decoded index %d, %d children", r.index, r.children)
		}
	}
	for _, name := range names {
		kvs[name] = newKV(b, name, srv.url)
		defer kvs[name].close()
		res[name] = &acc{}
		get(kvs[name]) // opens the connection
	}
	const rounds = 7
	var ms runtime.MemStats
	for range rounds {
		for _, name := range names {
			c, a := kvs[name], res[name]
			base := settledHeap()
			p := startPeakSampler(100 * time.Microsecond)
			get(c)
			peak := p.Stop()
			a.peak = append(a.peak, mebibytes(peak-min(base, peak)))

			settledHeap()
			runtime.ReadMemStats(&ms)
			mallocs, total := ms.Mallocs, ms.TotalAlloc
			t0, cpu0 := time.Now(), cpuTime()
			get(c)
			a.wall = append(a.wall, time.Since(t0))
			a.cpu = append(a.cpu, cpuTime()-cpu0)
			runtime.ReadMemStats(&ms)
			a.allocs += ms.Mallocs - mallocs
			a.bytes += ms.TotalAlloc - total
			a.calls++
		}
	}
	b.Logf("body %d bytes, %d rounds", len(body), rounds)
	for _, name := range names {
		a := res[name]
		reportAs(b, "client="+name,
			metric{float64(a.wall.percentile(0.5)), "call-ns"},
			metric{float64(a.cpu.percentile(0.5)), "cpu-ns/op"},
			metric{median(a.peak), "peak-heap-MiB"},
			metric{float64(a.allocs) / float64(a.calls), "allocs/op"},
			metric{float64(a.bytes) / float64(a.calls), "B/op"})
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// BenchmarkCannedSmallGetFloor is what net/http's Transport alone costs for
// the same exchange: a request made once and copied per Get (no URL
// building), RoundTrip, the body read into a reused buffer, nothing
// decoded. No client can allocate less per Get over this Transport.
func BenchmarkCannedSmallGetFloor(b *testing.B) {
	srv := startCanned(b, map[string][]byte{
		"/v2/keys/foo": etcdAnswer("200 OK", smallIndex, []byte(smallGetBody), false),
	})
	b.Run("client=transport", func(b *testing.B) {
		d := newCountingDialer()
		tr := tunedTransport(d)
		defer tr.CloseIdleConnections()
		proto, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.url+"/v2/keys/foo", nil)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 512)
		get := func() {
			req := *proto
			resp, err := tr.RoundTrip(&req)
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
		}
		get()
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for range b.N {
			get()
		}
		cpu := cpuTime() - cpu0
		b.StopTimer()
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(d.count.Load()), "conns")
	})
}
