package watch

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestWatchersKeepOffTheCappedPool: with a Transport capped at a few
// connections per member (as DefaultTransport is, at 64) and a separate
// WatchTransport, more watchers than the cap wait at once while writes from
// more goroutines than the cap go through the capped pool: every write
// succeeds without opening more connections than the cap, and every watcher
// gets its event. Were the watches sent through the capped transport, they
// would hold all its connections and the rest would never register. It
// runs on every backend.
func TestWatchersKeepOffTheCappedPool(t *testing.T) {
	const connCap, watchers, writers, writesEach = 4, 24, 12, 10
	for _, s := range clienttest.Backends(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s.Server, 1)
			ep := cl.Endpoints()[0]
			unary := clienttest.NewTransport(t, nil)
			base := unary.Base()
			base.MaxConnsPerHost = connCap
			var dials atomic.Int64
			dial := base.DialContext
			base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return dial(ctx, network, addr)
			}
			kapi, _ := s.KeysAPI(t, []string{ep}, client.Config{Transport: unary, WatchTransport: clienttest.NewTransport(t, nil)})
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()

			got := make([]string, watchers)
			errs := make([]error, watchers)
			var wg sync.WaitGroup
			for i := range watchers {
				w := kapi.Watcher(fmt.Sprintf("/cap/w%02d", i), nil)
				wg.Go(func() {
					r, err := w.Next(ctx)
					if err != nil {
						errs[i] = err
						return
					}
					got[i] = r.Node.Value
				})
			}
			etcdtest.WaitFor(t, fmt.Sprintf("%d watchers registered", watchers), func() bool { return watchesHeld(s, ep) >= watchers })

			var next atomic.Int64
			writeErrs := make(chan error, writers)
			var ww sync.WaitGroup
			for range writers {
				ww.Go(func() {
					for range writesEach {
						i := int(next.Add(1)) - 1
						if _, err := kapi.Set(ctx, fmt.Sprintf("/cap/w%02d", i), fmt.Sprintf("v%d", i), nil); err != nil {
							writeErrs <- err
							return
						}
					}
				})
			}
			ww.Wait()
			close(writeErrs)
			for err := range writeErrs {
				t.Fatalf("a write beside %d waiting watchers: %v", watchers, err)
			}
			wg.Wait()
			for i := range watchers {
				if errs[i] != nil || got[i] != fmt.Sprintf("v%d", i) {
					t.Errorf("watcher %d: %q, %v; want v%d", i, got[i], errs[i], i)
				}
			}
			if n := dials.Load(); n > connCap {
				t.Errorf("%d writers opened %d connections through a transport capped at %d", writers, n, connCap)
			}
			t.Logf("%d watchers served, %d writes by %d goroutines over %d connection(s) (cap %d)", watchers, writers*writesEach, writers, dials.Load(), connCap)
		})
	}
}
