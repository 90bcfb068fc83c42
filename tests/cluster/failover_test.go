// Package cluster tests the client against real 3-member etcd clusters whose
// members are killed (SIGKILL), paused (SIGSTOP) and restarted while the
// client works: failover, retries that never apply a write twice, and errors
// that say what happened.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// latencies keeps the worst latency per kind of call.
type latencies struct {
	mu  sync.Mutex
	max map[string]time.Duration
	n   map[string]int
}

func (l *latencies) add(kind string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max == nil {
		l.max, l.n = map[string]time.Duration{}, map[string]int{}
	}
	l.n[kind]++
	if d > l.max[kind] {
		l.max[kind] = d
	}
}

func (l *latencies) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for k, d := range l.max {
		parts = append(parts, fmt.Sprintf("%s: %d calls, max %v", k, l.n[k], d.Round(time.Millisecond)))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// TestKillPinnedMemberDuringMixedLoad: 8 goroutines run plain reads, quorum
// reads and plain sets while the member the client is pinned to is killed
// and later restarted. No read and no set may fail, and every acknowledged
// set must be there at the end.
func TestKillPinnedMemberDuringMixedLoad(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 3)
			c, tr := clienttest.New(t, cl.Endpoints(), client.Config{HeaderTimeoutPerRequest: time.Second})
			kapi := client.NewKeysAPI(c)
			ctx := t.Context()
			if _, err := kapi.Set(ctx, "/mixed/seed", "seed", nil); err != nil {
				t.Fatal(err)
			}
			victim := cl.MemberIndex(t, client.PinnedEndpoint(c))

			stop := make(chan struct{})
			res, wait := mixedLoad(ctx, kapi, "/mixed", 20*time.Second, stop)
			etcdtest.WaitFor(t, "200 operations before the kill", func() bool { return res.ops.Load() >= 200 })
			cl.Kill(victim)
			killedAt := res.ops.Load()
			etcdtest.WaitFor(t, "300 operations with the member dead", func() bool { return res.ops.Load() >= killedAt+300 })
			cl.Restart(victim)
			if err := cl.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			restartedAt := res.ops.Load()
			etcdtest.WaitFor(t, "200 operations after the restart", func() bool { return res.ops.Load() >= restartedAt+200 })
			close(stop)
			wait()
			res.check(t, ctx, kapi)
			t.Logf("%s: %d calls, %d acknowledged sets, 0 missing; %s; %d exchanges validated", s, res.calls, len(res.acked), res.lat.String(), tr.Exchanges())
		})
	}
}

// TestCreateInOrderNeverDoubleApplies makes 1000 in-order creates while the
// pinned member is killed part way: every acknowledged value is stored, and
// no value is stored twice. Calls whose outcome is unknown are reported as
// such and may or may not be stored — once at most.
func TestCreateInOrderNeverDoubleApplies(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 3)
			c, _ := clienttest.New(t, cl.Endpoints(), client.Config{HeaderTimeoutPerRequest: time.Second})
			kapi := client.NewKeysAPI(c)
			ctx := t.Context()
			// 8 workers keep creates in flight, so that the kill lands on
			// requests the member has received but not answered.
			var mu sync.Mutex
			acked := map[string]bool{}
			var unknown, failed int
			var firstFailure error
			var next atomic.Int64
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= 1000 {
							return
						}
						val := fmt.Sprintf("job-%04d", i)
						cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
						_, err := kapi.CreateInOrder(cctx, "/queue", val, nil)
						cancel()
						mu.Lock()
						switch {
						case err == nil:
							acked[val] = true
						case client.IsOutcomeUnknown(err):
							unknown++
						default:
							failed++
							if firstFailure == nil {
								firstFailure = err
							}
						}
						mu.Unlock()
					}
				}()
			}
			etcdtest.WaitFor(t, "300 creates started", func() bool { return next.Load() >= 300 })
			victim := cl.MemberIndex(t, client.PinnedEndpoint(c))
			cl.Kill(victim)
			wg.Wait()
			elapsed := time.Since(start)
			cl.Restart(victim)
			if err := cl.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			resp, err := kapi.Get(ctx, "/queue", &client.GetOptions{Sort: true, Quorum: true})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, n := range resp.Node.Nodes {
				seen[n.Value]++
			}
			for val, n := range seen {
				if n > 1 {
					t.Errorf("%s stored %d times", val, n)
				}
			}
			for val := range acked {
				if seen[val] != 1 {
					t.Errorf("acknowledged %s is not stored", val)
				}
			}
			if len(acked) < 800 {
				t.Errorf("only %d of 1000 creates acknowledged (unknown %d, failed %d: %v)", len(acked), unknown, failed, firstFailure)
			}
			t.Logf("%s: 1000 in-order creates in %v, member %d killed at #300: %d acknowledged, %d outcome unknown, %d failed (first: %v); %d entries stored, none twice",
				s, elapsed.Round(time.Millisecond), victim, len(acked), unknown, failed, firstFailure, len(resp.Node.Nodes))
		})
	}
}

// TestPausedMemberCostsOnlyTheHeaderTimeout pauses (SIGSTOP) the follower the
// client is pinned to: calls from more goroutines than the transport may
// open connections per member (a cap like DefaultTransport's, made small)
// keep succeeding through the other members, each within
// HeaderTimeoutPerRequest plus one second. The calls stuck on the paused
// member hold every connection the cap allows to it; the others queue for
// one, and their header timeout moves them on just the same.
func TestPausedMemberCostsOnlyTheHeaderTimeout(t *testing.T) {
	const headerTimeout = 500 * time.Millisecond
	const connCap, callers, callsEach = 3, 6, 5
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 3)
			leader, err := cl.WaitLeader(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			// Pin a follower: pausing the leader would also stall writes for
			// an election, which is not what this test measures.
			var c client.Client
			for {
				var tr *clienttest.Transport
				c, tr = clienttest.New(t, cl.Endpoints(), client.Config{HeaderTimeoutPerRequest: headerTimeout})
				tr.Base().MaxConnsPerHost = connCap
				if cl.MemberIndex(t, client.PinnedEndpoint(c)) != leader {
					break
				}
			}
			kapi := client.NewKeysAPI(c)
			// The directory the Gets read exists before any Set of the run.
			if _, err := kapi.Set(t.Context(), "/paused/k-before", "v", nil); err != nil {
				t.Fatal(err)
			}
			victim := cl.MemberIndex(t, client.PinnedEndpoint(c))
			cl.Pause(victim)
			defer cl.Resume(victim)
			var mu sync.Mutex
			var worst time.Duration
			var wg sync.WaitGroup
			for g := range callers {
				wg.Go(func() {
					for j := range callsEach {
						i := g*callsEach + j
						cctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
						start := time.Now()
						var err error
						if i%2 == 0 {
							_, err = kapi.Set(cctx, fmt.Sprintf("/paused/k%d", i), "v", nil)
						} else {
							_, err = kapi.Get(cctx, "/paused", &client.GetOptions{Recursive: true})
						}
						cancel()
						d := time.Since(start)
						mu.Lock()
						worst = max(worst, d)
						mu.Unlock()
						if err != nil {
							t.Errorf("call %d with member %d paused: %v", i, victim, err)
							return
						}
						if d > headerTimeout+time.Second {
							t.Errorf("call %d took %v, more than HeaderTimeoutPerRequest (%v) + 1s", i, d, headerTimeout)
						}
					}
				})
			}
			wg.Wait()
			t.Logf("%s: member %d paused, %d calls from %d goroutines over at most %d connections per member succeeded, worst %v (header timeout %v)",
				s, victim, callers*callsEach, callers, connCap, worst.Round(time.Millisecond), headerTimeout)
		})
	}
}

// TestTwoOfThreeDown kills two members: calls that need a quorum fail with a
// clear error well before the caller's deadline, plain reads are still
// served by the survivor, and all succeed again once the members are back.
func TestTwoOfThreeDown(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 3)
			c, _ := clienttest.New(t, cl.Endpoints(), client.Config{HeaderTimeoutPerRequest: time.Second})
			kapi := client.NewKeysAPI(c)
			if _, err := kapi.Set(t.Context(), "/down/k", "before", nil); err != nil {
				t.Fatal(err)
			}
			// Member 0 survives and serves plain reads from its own store:
			// wait until it has applied the write (a follower may lag).
			survivor, _ := clienttest.New(t, cl.Endpoints()[:1], client.Config{HeaderTimeoutPerRequest: time.Second})
			etcdtest.WaitFor(t, "member 0 to apply the write", func() bool {
				_, err := client.NewKeysAPI(survivor).Get(t.Context(), "/down/k", nil)
				return err == nil
			})
			cl.Kill(1)
			cl.Kill(2)
			const deadline = 15 * time.Second
			for _, tc := range []struct {
				name string
				call func(context.Context) error
				ok   bool
			}{
				{"set", func(ctx context.Context) error { _, err := kapi.Set(ctx, "/down/k", "during", nil); return err }, false},
				{"create", func(ctx context.Context) error { _, err := kapi.Create(ctx, "/down/new", "x"); return err }, false},
				{"quorum get", func(ctx context.Context) error {
					_, err := kapi.Get(ctx, "/down/k", &client.GetOptions{Quorum: true})
					return err
				}, false},
				{"plain get", func(ctx context.Context) error { _, err := kapi.Get(ctx, "/down/k", nil); return err }, true},
			} {
				ctx, cancel := context.WithTimeout(t.Context(), deadline)
				start := time.Now()
				err := tc.call(ctx)
				cancel()
				d := time.Since(start)
				if tc.ok {
					if err != nil {
						t.Errorf("%s with two members down: %v", tc.name, err)
					}
					continue
				}
				if err == nil {
					t.Errorf("%s succeeded without a quorum", tc.name)
					continue
				}
				if errors.Is(err, context.DeadlineExceeded) || d >= deadline {
					t.Errorf("%s used up the caller's deadline (%v): %v", tc.name, d, err)
				}
				var ce *client.ClusterError
				if !errors.As(err, &ce) && !client.IsOutcomeUnknown(err) {
					t.Errorf("%s: want a *ClusterError or an outcome-unknown error, got %T: %v", tc.name, err, err)
				}
				if !strings.Contains(err.Error(), cl.Members()[0].ClientURL[len("http://"):]) {
					t.Errorf("%s: error does not name the surviving member: %v", tc.name, err)
				}
				t.Logf("%s: %s failed after %v: %v", s, tc.name, d.Round(time.Millisecond), err)
			}
			cl.Restart(1)
			cl.Restart(2)
			if _, err := cl.WaitLeader(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := cl.WaitHealthy(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			if _, err := kapi.Set(ctx, "/down/k", "after", nil); err != nil {
				t.Fatalf("set after the members came back: %v", err)
			}
		})
	}
}
