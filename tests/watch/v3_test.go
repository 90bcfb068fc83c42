package watch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
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

// streamWire records, below the contract transport, the member each request
// went to and the v3 watch streams open on each member.
type streamWire struct {
	base http.RoundTripper
	ct   *contract.Transport

	mu   sync.Mutex
	last string
	open map[string]int
}

func (w *streamWire) RoundTrip(req *http.Request) (*http.Response, error) {
	ep := req.URL.Scheme + "://" + req.URL.Host
	w.mu.Lock()
	w.last = ep
	w.mu.Unlock()
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

// TestWatchSurvivesPausedMemberV3 is TestWatchSurvivesPausedMember on the
// v3 backend: the follower serving two watches of the same key is
// SIGSTOPped while writes go on through the other members; the watches
// have only their IdleTimeout to notice, and must then open again on
// another member and deliver every write, in order, once.
func TestWatchSurvivesPausedMemberV3(t *testing.T) {
	for _, s := range etcdtest.V3Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 3)
			eps := cl.Endpoints()
			victim := (cl.LeaderIndex() + 1) % len(eps) // a follower: no election slows the writes
			writer, wtr := newV3(t, slices.Delete(slices.Clone(eps), victim, victim+1), 2*time.Second)
			kapi, sw := pinnedV3(t, eps, eps[victim])
			const key, writes = "/hang/k", 20
			first, err := writer.Set(t.Context(), key, "v00", nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			got := make([][]uint64, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range got {
				w := kapi.Watcher(key, &client.WatcherOptions{AfterIndex: first.Node.ModifiedIndex - 1, IdleTimeout: hangIdle})
				wg.Go(func() {
					for len(got[i]) < writes+1 {
						r, err := w.Next(ctx)
						if err != nil {
							errs[i] = err
							return
						}
						got[i] = append(got[i], r.Node.ModifiedIndex)
					}
				})
			}
			etcdtest.WaitFor(t, "both watches open on the member to pause", func() bool { return sw.openStreams(eps[victim]) >= 2 })
			cl.Pause(victim)
			t.Cleanup(func() { cl.Resume(victim) })
			want := []uint64{first.Node.ModifiedIndex}
			for n := 1; n <= writes; n++ {
				r, err := writer.Set(t.Context(), key, fmt.Sprintf("v%02d", n), nil)
				if err != nil {
					t.Fatalf("write %d with a follower paused: %v", n, err)
				}
				want = append(want, r.Node.ModifiedIndex)
			}
			wg.Wait()
			for i := range got {
				if errs[i] != nil {
					t.Fatalf("watcher %d after %d events: %v", i, len(got[i]), errs[i])
				}
				if !slices.Equal(got[i], want) {
					t.Errorf("watcher %d delivered indexes %v, want %v", i, got[i], want)
				}
			}
			if ep := sw.lastEndpoint(); ep == eps[victim] {
				t.Errorf("the watches still go to the paused member %s", ep)
			}
			t.Logf("%s: %d writer and %d watch exchanges validated", cl.Server(), wtr.ct.Exchanges(), sw.ct.Exchanges())
		})
	}
}

// hangIdle is the v3 watchers' IdleTimeout in the paused-member test: the
// v3 backend's watch stream is not yet watched by member health, so the
// idle timeout is what moves it off a member that stopped answering.
const hangIdle = time.Second
