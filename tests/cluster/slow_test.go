package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestSlowButHealthyAnswerIsNotCut: a recursive Get of a 100,000-node tree
// from a member kept busy on purpose (other clients read the same tree at
// the same time) takes longer than member health waits before it probes;
// with the default Config the member answers its probes, so the Get is
// never cut off and completes — health decides, not a hidden timeout.
func TestSlowButHealthyAnswerIsNotCut(t *testing.T) {
	const nodes, busyReaders = 100_000, 6
	s := etcdtest.ServerFor(t, "3.5")
	cl := etcdtest.StartCluster(t, s, 1, etcdtest.WithArgs("--snapshot-count=10000000"))
	fill, _ := clienttest.New(t, cl.Endpoints(), client.Config{})
	fkapi := client.NewKeysAPI(fill)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= nodes {
					return
				}
				if _, err := fkapi.Set(t.Context(), fmt.Sprintf("/big/k%06d", i), "value", nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// The busy readers share one client of their own; the measured Get
	// goes through a client with nothing but Endpoints set.
	busyC, _ := clienttest.New(t, cl.Endpoints(), client.Config{})
	busy := client.NewKeysAPI(busyC)
	ctx, cancel := context.WithCancel(t.Context())
	var readers sync.WaitGroup
	for range busyReaders {
		readers.Go(func() {
			for ctx.Err() == nil {
				busy.Get(ctx, "/big", &client.GetOptions{Recursive: true})
			}
		})
	}
	c, _ := clienttest.New(t, cl.Endpoints(), client.Config{})
	kapi := client.NewKeysAPI(c)
	var worst time.Duration
	for range 3 {
		start := time.Now()
		resp, err := kapi.Get(t.Context(), "/big", &client.GetOptions{Recursive: true})
		d := time.Since(start)
		if err != nil {
			cancel()
			readers.Wait()
			t.Fatalf("recursive Get of %d nodes from a busy member failed after %v: %v", nodes, d, err)
		}
		if len(resp.Node.Nodes) != nodes {
			t.Errorf("recursive Get: %d children, want %d", len(resp.Node.Nodes), nodes)
		}
		worst = max(worst, d)
	}
	cancel()
	readers.Wait()
	h := client.EndpointsHealth(c)[0]
	t.Logf("recursive Get of %d nodes beside %d busy readers: slowest of 3 took %v; the member was probed %d times and is %s",
		nodes, busyReaders, worst.Round(time.Millisecond), h.Probes, h.State)
	if h.State != client.HealthHealthy {
		t.Errorf("the busy member is %s (%s), want healthy", h.State, h.Reason)
	}
}
