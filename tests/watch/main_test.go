// Package watch proves the Watcher against real etcd (3.5 and Debian's 3.4):
// every event delivered once and in order across thousands of writes, a
// killed or hung member, stream mode and its duplicate delete events, the
// 1000-event history window with and without Resync, cancellation without
// leftover goroutines, and a thousand watchers on one client. The tests that
// take a clienttest.Backend also prove the v3 backend's Watcher, on etcd
// 3.5 and 3.6; v3Skips names the ones skipped there for a documented
// difference. Tests of the v2 wire itself (the raw stream=true answers of
// TestStreamDropsDuplicateDeleteAndExpire and TestStreamCatchesUpFromHistory)
// and TestThousandWatchersShareTheProbes (on the v3 backend every Watcher
// has a stream of the whole prefix, README "Watch cost") run on v2 only.
package watch

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock, and checks that
// nothing the tests started (watch goroutines, connections, member reapers)
// is still running once they are all done.
func TestMain(m *testing.M) {
	etcdtest.Main(m)
}

// waitTimeout bounds every wait on a condition; it is generous because a
// busy 2-core machine runs several test binaries at once.
const waitTimeout = 2 * time.Minute

// probe is a plain HTTP client for looking at a member from the side (store
// statistics, raw streams). Keep-alives are off so that it leaves no
// connection goroutine behind.
var probe = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

// serverWatchers returns how many watches member endpoint holds right now
// ("watchers" of GET /v2/stats/store, which counts the member's own
// watcher hub), or -1 when the member does not answer.
func serverWatchers(endpoint string) int {
	resp, err := probe.Get(endpoint + "/v2/stats/store")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return -1
	}
	var st struct {
		Watchers int `json:"watchers"`
	}
	if json.Unmarshal(body, &st) != nil {
		return -1
	}
	return st.Watchers
}

// storeIndex returns the store's current index (X-Etcd-Index of a quorum
// read of the root).
func storeIndex(t *testing.T, kapi client.KeysAPI) uint64 {
	t.Helper()
	resp, err := kapi.Get(t.Context(), "/", &client.GetOptions{Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Index
}

// pinTo makes c send its next request to endpoint. New and SetEndpoints pin
// a random member, so it sets the same endpoints again until the draw falls
// on endpoint.
func pinTo(t *testing.T, c client.Client, endpoints []string, endpoint string) {
	t.Helper()
	for range 1000 {
		if client.PinnedEndpoint(c) == endpoint {
			return
		}
		if err := c.SetEndpoints(endpoints); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("could not pin the client to %s", endpoint)
}

// closeIdle closes the idle connections of the given transports, so that
// goleak sees only what is really still running.
func closeIdle(trs ...interface{ CloseIdleConnections() }) {
	for _, tr := range trs {
		tr.CloseIdleConnections()
	}
}

// requests counts the requests a client made through its validating
// transport, less the probes its member health sent through it.
func requests(tr interface{ Exchanges() int }, c client.Client) int {
	n := tr.Exchanges()
	for _, h := range client.EndpointsHealth(c) {
		n -= int(h.Probes)
	}
	return n
}

// frozenFollower is the set-up of the tests that freeze the member a watch
// waits on: a 3-member cluster, a watch KeysAPI pinned to a follower (the
// member to freeze; a follower, so that no election slows the writes) and a
// writer over the other two members, both with the default Config. watch
// and watchTr are the v2 watch client and its transport (nil on the v3
// backend).
type frozenFollower struct {
	cl      *etcdtest.Cluster
	eps     []string
	victim  int
	watch   client.Client
	watchTr *clienttest.Transport
	writer  client.KeysAPI
	// kapi is the watch KeysAPI, on either backend.
	kapi client.KeysAPI
	// serving is the member the watch KeysAPI sends to now.
	serving func() string
	// exchanges counts the watch KeysAPI's validated exchanges.
	exchanges func() int
}

// newFrozenFollower is newFrozen for the v2 client on s.
func newFrozenFollower(t *testing.T, s etcdtest.Server) *frozenFollower {
	t.Helper()
	return newFrozen(t, clienttest.Backend{Server: s})
}

// newFrozen starts the frozen-follower set-up for backend b.
func newFrozen(t *testing.T, b clienttest.Backend) *frozenFollower {
	t.Helper()
	f := &frozenFollower{cl: etcdtest.StartCluster(t, b.Server, 3)}
	f.eps = f.cl.Endpoints()
	f.victim = (f.cl.LeaderIndex() + 1) % len(f.eps)
	var others []string
	for i, ep := range f.eps {
		if i != f.victim {
			others = append(others, ep)
		}
	}
	if b.V3 {
		f.writer, _ = newV3(t, others, 0)
		kapi, sw := pinnedV3(t, f.eps, f.eps[f.victim])
		f.kapi, f.serving, f.exchanges = kapi, sw.lastEndpoint, sw.ct.Exchanges
		return f
	}
	f.watch, f.watchTr = clienttest.New(t, f.eps, client.Config{})
	pinTo(t, f.watch, f.eps, f.eps[f.victim])
	wc, _ := clienttest.New(t, others, client.Config{})
	f.writer = client.NewKeysAPI(wc)
	f.kapi = client.NewKeysAPI(f.watch)
	f.serving = func() string { return client.PinnedEndpoint(f.watch) }
	f.exchanges = f.watchTr.Exchanges
	return f
}
