package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// The promises of member health are tested with the documented defaults:
// the Config sets Endpoints (and SelectionMode where said) and nothing else,
// so no HeaderTimeoutPerRequest bounds an attempt.

// loadResult is what a mixed load saw.
type loadResult struct {
	// ops counts the calls made so far (read while the load runs).
	ops      atomic.Int64
	calls    int
	failures []string
	acked    map[string]string
	worst    time.Duration
	// worstKind and worstAt say which call was the worst and when it
	// started.
	worstKind string
	worstAt   time.Time
	lat       latencies
}

// mixedLoad runs 8 workers of Get / quorum Get / Set below prefix, each
// call under deadline, until stop is closed; wait returns once they have
// all ended.
func mixedLoad(ctx context.Context, kapi client.KeysAPI, prefix string, deadline time.Duration, stop <-chan struct{}) (res *loadResult, wait func()) {
	res = &loadResult{acked: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, deadline)
				start := time.Now()
				var kind string
				var err error
				key, val := fmt.Sprintf("%s/g%d/k%05d", prefix, g, n), fmt.Sprintf("v%d-%d", g, n)
				switch (g + n) % 3 {
				case 0:
					kind = "get"
					_, err = kapi.Get(cctx, prefix+"/seed", nil)
				case 1:
					kind = "quorum get"
					_, err = kapi.Get(cctx, prefix+"/seed", &client.GetOptions{Quorum: true})
				case 2:
					kind = "set"
					_, err = kapi.Set(cctx, key, val, nil)
				}
				cancel()
				d := time.Since(start)
				res.lat.add(kind, d)
				mu.Lock()
				res.calls++
				if d > res.worst {
					res.worst, res.worstKind, res.worstAt = d, kind, start
				}
				if err != nil {
					res.failures = append(res.failures, fmt.Sprintf("%s after %v: %v", kind, d.Round(time.Millisecond), err))
				} else if kind == "set" {
					res.acked[key] = val
				}
				mu.Unlock()
				res.ops.Add(1)
			}
		}()
	}
	return res, wg.Wait
}

// check fails the test for any failed call or lost acknowledged set.
func (r *loadResult) check(t *testing.T, ctx context.Context, kapi client.KeysAPI) {
	t.Helper()
	if len(r.failures) > 0 {
		t.Errorf("%d of %d calls failed; first: %s", len(r.failures), r.calls, strings.Join(r.failures[:min(5, len(r.failures))], " | "))
	}
	lost := 0
	for key, val := range r.acked {
		resp, err := kapi.Get(ctx, key, &client.GetOptions{Quorum: true})
		if err != nil || resp.Node.Value != val {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged set %s=%s: read back %v, %v", key, val, resp, err)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d acknowledged sets lost", lost)
	}
}

// runFault runs the mixed load for 15 s: fault at 5 s, heal at 10 s. The
// worst call is logged with when it started relative to the fault and the
// heal.
func runFault(t *testing.T, cl *etcdtest.Cluster, kapi client.KeysAPI, fault, heal func()) *loadResult {
	ctx := t.Context()
	if _, err := kapi.Set(ctx, "/health/seed", "seed", nil); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	res, wait := mixedLoad(ctx, kapi, "/health", 5*time.Second, stop)
	phase := time.NewTimer(5 * time.Second)
	<-phase.C
	faultAt := time.Now()
	fault()
	phase.Reset(5 * time.Second)
	<-phase.C
	healAt := time.Now()
	heal()
	phase.Reset(5 * time.Second)
	<-phase.C
	close(stop)
	wait()
	t.Logf("worst call: a %s that started %v after the fault (%v after the heal) and took %v",
		res.worstKind, res.worstAt.Sub(faultAt).Round(time.Millisecond), res.worstAt.Sub(healAt).Round(time.Millisecond), res.worst.Round(time.Millisecond))
	return res
}

// electionTime measures how long after the kill of a leader the live
// members agree on a new one.
func electionTime(ctx context.Context, cl *etcdtest.Cluster, killed time.Time) (time.Duration, error) {
	if _, err := cl.WaitLeader(ctx); err != nil {
		return 0, err
	}
	return time.Since(killed), nil
}

// TestDeadLeaderWithDefaults: the leader is SIGKILLed under load and
// restarted; with the default Config no read and no set may fail, no
// acknowledged set may be lost, and the worst call takes no more than the
// election plus the time health needs to see it (a probe interval and the
// commit grace) and some slack for a busy machine.
func TestDeadLeaderWithDefaults(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		for _, mode := range []struct {
			name string
			sel  client.EndpointSelectionMode
		}{{"leader-pinned", client.EndpointSelectionPrioritizeLeader}, {"random", client.EndpointSelectionRandom}} {
			t.Run(s.String()+"/"+mode.name, func(t *testing.T) {
				cl := etcdtest.StartCluster(t, s, 3)
				c, tr := clienttest.New(t, cl.Endpoints(), client.Config{SelectionMode: mode.sel})
				if mode.sel == client.EndpointSelectionPrioritizeLeader {
					if err := c.Sync(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
				kapi := client.NewKeysAPI(c)
				leader := cl.LeaderIndex()
				var killed time.Time
				var election time.Duration
				res := runFault(t, cl, kapi, func() {
					killed = time.Now()
					cl.Kill(leader)
					var err error
					if election, err = electionTime(t.Context(), cl, killed); err != nil {
						t.Errorf("no new leader: %v", err)
					}
				}, func() {
					cl.Restart(leader)
					if err := cl.WaitHealthy(t.Context()); err != nil {
						t.Fatal(err)
					}
				})
				res.check(t, t.Context(), kapi)
				t.Logf("%s %s: leader killed: election %v; %d calls, %d acknowledged sets, 0 lost; worst call %v; %s; %d exchanges validated",
					s, mode.name, election.Round(time.Millisecond), res.calls, len(res.acked), res.worst.Round(time.Millisecond), res.lat.String(), tr.Exchanges())
				if limit := election + 2*time.Second; res.worst > limit {
					t.Errorf("worst call %v, more than the election (%v) + 2s", res.worst, election)
				}
			})
		}
		t.Run(s.String()+"/follower", func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 3)
			c, tr := clienttest.New(t, cl.Endpoints(), client.Config{})
			kapi := client.NewKeysAPI(c)
			leader := cl.LeaderIndex()
			victim := (leader + 1) % 3
			res := runFault(t, cl, kapi, func() { cl.Kill(victim) }, func() {
				cl.Restart(victim)
				if err := cl.WaitHealthy(t.Context()); err != nil {
					t.Fatal(err)
				}
			})
			res.check(t, t.Context(), kapi)
			t.Logf("%s: follower killed: %d calls, %d acknowledged sets, 0 lost; worst call %v; %s; %d exchanges validated",
				s, res.calls, len(res.acked), res.worst.Round(time.Millisecond), res.lat.String(), tr.Exchanges())
			if res.worst > 3*time.Second {
				t.Errorf("worst call %v with a follower killed, want at most 3s", res.worst)
			}
		})
	}
}

// TestFrozenMemberWithDefaults: the member the client is pinned to is
// SIGSTOPped for 8 s under load and then SIGCONTed; with the default Config
// no call may fail, and health must see the freeze in about 2 s.
func TestFrozenMemberWithDefaults(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 3)
			c, tr := clienttest.New(t, cl.Endpoints(), client.Config{})
			kapi := client.NewKeysAPI(c)
			if _, err := kapi.Set(t.Context(), "/health/seed", "seed", nil); err != nil {
				t.Fatal(err)
			}
			victim := cl.MemberIndex(t, client.PinnedEndpoint(c))
			victimURL := cl.Members()[victim].ClientURL
			var sawDown time.Duration
			res := runFault(t, cl, kapi, func() {
				paused := time.Now()
				cl.Pause(victim)
				etcdtest.WaitFor(t, "health to mark the frozen member down", func() bool {
					for _, h := range client.EndpointsHealth(c) {
						if h.Endpoint == victimURL && h.State == client.HealthDown {
							return true
						}
					}
					return false
				})
				sawDown = time.Since(paused)
			}, func() {
				cl.Resume(victim)
			})
			res.check(t, t.Context(), kapi)
			var probes []string
			for _, h := range client.EndpointsHealth(c) {
				probes = append(probes, fmt.Sprintf("%s %s (%d probes)", h.Endpoint, h.State, h.Probes))
			}
			t.Logf("%s: member frozen 8 s: marked down after %v; %d calls, %d acknowledged sets, 0 lost; worst call %v; %s; health: %s; %d exchanges validated",
				s, sawDown.Round(time.Millisecond), res.calls, len(res.acked), res.worst.Round(time.Millisecond), res.lat.String(), strings.Join(probes, ", "), tr.Exchanges())
			if sawDown > 3*time.Second {
				t.Errorf("the frozen member was marked down after %v, want about 2s", sawDown)
			}
			if res.worst > 3500*time.Millisecond {
				t.Errorf("worst call %v with the pinned member frozen, want about 2-3s", res.worst)
			}
		})
	}
}
