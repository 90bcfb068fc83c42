package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestSyncAndLeaderSelection: from one known endpoint, Sync finds every
// member; in PrioritizeLeader mode the leader is pinned, and AutoSync moves
// the pin to the new leader after the old one is killed, riding through the
// errors it meets meanwhile.
func TestSyncAndLeaderSelection(t *testing.T) {
	s := etcdtest.ServerFor(t, "3.5")
	cl := etcdtest.StartCluster(t, s, 3)
	all := cl.Endpoints()

	c, _ := clienttest.New(t, all[:1], client.Config{HeaderTimeoutPerRequest: time.Second})
	if err := c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := c.Endpoints()
	slices.Sort(got)
	want := slices.Clone(all)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("after Sync: %v, want %v", got, want)
	}

	lc, _ := clienttest.New(t, all, client.Config{HeaderTimeoutPerRequest: time.Second, SelectionMode: client.EndpointSelectionPrioritizeLeader})
	if err := lc.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	leader, err := cl.WaitLeader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if p := client.PinnedEndpoint(lc); p != all[leader] {
		t.Fatalf("pinned %s, want the leader %s", p, all[leader])
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- lc.AutoSync(ctx, 100*time.Millisecond) }()
	cl.Kill(leader)
	newLeader := -1
	etcdtest.WaitFor(t, "a new leader", func() bool {
		i, err := cl.WaitLeader(t.Context())
		newLeader = i
		return err == nil && i != leader
	})
	etcdtest.WaitFor(t, "AutoSync to pin the new leader", func() bool { return client.PinnedEndpoint(lc) == all[newLeader] })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("AutoSync returned %v, want context.Canceled once its context ends", err)
	}
}
