package watch

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/contract"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// v3Writes is how many writes each series of runSeries gets on the v3
// backend: the v3 store keeps its history until compaction (there is no
// 1000-event window to outrun), and its watches stream, so a shorter run
// proves the same in less of the test budget.
const v3Writes = 1000

// v3Watches makes the v3 KeysAPIs of runSeries: a writer, and two watch
// clients that send to eps[victim] (each KeysAPI pins a random member, so
// new ones are made until one pins the victim).
func v3Watches(t *testing.T, cl *etcdtest.Cluster, victim int) watches {
	eps := cl.Endpoints()
	writer, wtr := newV3(t, eps, 2*time.Second)
	poll, ptr := pinnedV3(t, eps, eps[victim])
	stream, str := pinnedV3(t, eps, eps[victim])
	return watches{
		writer: writer, poll: poll, stream: stream,
		held:      func() int { return ptr.openStreams(eps[victim]) + str.openStreams(eps[victim]) },
		serving:   func() []string { return []string{ptr.lastEndpoint(), str.lastEndpoint()} },
		exchanges: func() [3]int { return [3]int{wtr.ct.Exchanges(), ptr.ct.Exchanges(), str.ct.Exchanges()} },
	}
}

// pinnedV3 makes v3 KeysAPIs over eps until one sends its first request to
// target.
func pinnedV3(t *testing.T, eps []string, target string) (client.KeysAPI, *streamWire) {
	t.Helper()
	for range 200 {
		k, sw := newV3(t, eps, 0)
		if _, err := k.Get(t.Context(), "/", nil); err != nil {
			t.Fatal(err)
		}
		if sw.lastEndpoint() == target {
			return k, sw
		}
	}
	t.Fatalf("no v3 KeysAPI pinned %s", target)
	return nil, nil
}

// newV3 makes a v3 KeysAPI whose exchanges are validated and recorded.
func newV3(t *testing.T, eps []string, headerTimeout time.Duration) (client.KeysAPI, *streamWire) {
	t.Helper()
	base := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(base.CloseIdleConnections)
	sw := &streamWire{base: base, open: map[string]int{}}
	sw.ct = contract.New(t, "", sw)
	k, _ := clienttest.Backend{Server: etcdtest.Server{}, V3: true}.KeysAPI(t, eps, client.Config{Transport: &clienttest.Transport{Transport: sw.ct}, HeaderTimeoutPerRequest: headerTimeout})
	return k, sw
}

// streamWire records, below the contract transport, the member each gateway
// request went to and the v3 watch streams open on each member.
type streamWire struct {
	base http.RoundTripper
	ct   *contract.Transport

	mu   sync.Mutex
	last string
	open map[string]int
}

func (w *streamWire) RoundTrip(req *http.Request) (*http.Response, error) {
	ep := req.URL.Scheme + "://" + req.URL.Host
	if strings.HasPrefix(req.URL.Path, "/v3/") {
		// Only the gateway's requests: member health's probes (/version)
		// go through the same transport.
		w.mu.Lock()
		w.last = ep
		w.mu.Unlock()
	}
	resp, err := w.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(req.URL.Path, "/v3/watch") {
		return resp, err
	}
	w.mu.Lock()
	w.open[ep]++
	w.mu.Unlock()
	resp.Body = &closeOnce{ReadCloser: resp.Body, done: func() {
		w.mu.Lock()
		w.open[ep]--
		w.mu.Unlock()
	}}
	return resp, nil
}

func (w *streamWire) lastEndpoint() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *streamWire) openStreams(ep string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.open[ep]
}

// closeOnce runs done when the body is first closed.
type closeOnce struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (c *closeOnce) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(c.done)
	return err
}

// v3Skips are the tests of this package that do not run on the v3 backend,
// each for a difference from a v2 server listed in the README's table
// ("Leaving v2: the v3 backend"). Keys are test names without the backend.
var v3Skips = map[string]string{
	"TestEventIndexCleared": "the v3 store keeps every revision until it is compacted, not the last 1000 events (README: Watch history); " +
		"a compacted revision's 401 is tested by TestResync here and TestCompaction in tests/v3keys",
}

// skipOnV3 skips t on the v3 backend when v3Skips names it.
func skipOnV3(t *testing.T, b clienttest.Backend) {
	t.Helper()
	if !b.V3 {
		return
	}
	name := strings.Replace(t.Name(), "/"+b.String(), "", 1)
	if reason, ok := v3Skips[name]; ok {
		t.Skip("v3 backend: " + reason)
	}
}

// watchesHeld returns how many watches member endpoint holds right now for
// backend b, or -1 when the member does not answer: the v2 store's watchers
// (serverWatchers) for the v2 client, the v3 store's
// (etcd_debugging_mvcc_watcher_total of GET /metrics) for the v3 backend.
func watchesHeld(b clienttest.Backend, endpoint string) int {
	if !b.V3 {
		return serverWatchers(endpoint)
	}
	resp, err := probe.Get(endpoint + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	const gauge = "etcd_debugging_mvcc_watcher_total "
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), gauge); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}

// watchStack is a function that a Next of backend b waiting on an open
// stream has on its goroutine's stack.
func watchStack(b clienttest.Backend) string {
	if b.V3 {
		return "v3keys.(*stream).read"
	}
	return "client.(*watchStream).next"
}
