package watch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// hangDetect is how soon after the pause the first event must arrive:
// member health probes a member that watches wait on every second, and
// gives each probe a second to answer.
const hangDetect = 3 * time.Second

// TestWatchSurvivesPausedMember SIGSTOPs the member serving a polling and a
// streaming watch (it keeps its sockets but answers nothing, like a hung
// machine) while writes go on through the other two. The watchers run with
// the default options (IdleTimeout one minute): member health must see the
// freeze within about 2 s, and the watches move to another member and
// deliver every write made meanwhile, from the last event they delivered,
// in order and once, the first within hangDetect of the pause. It runs on
// every backend (on the v3 backend both watches are streams).
func TestWatchSurvivesPausedMember(t *testing.T) {
	for _, b := range clienttest.Backends(t) {
		t.Run(b.String(), func(t *testing.T) {
			f := newFrozen(t, b)
			cl, eps, victim, writer := f.cl, f.eps, f.victim, f.writer
			const key, writes = "/hang/k", 20

			first, err := writer.Set(t.Context(), key, "v00", nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			type delivery struct {
				value string
				index uint64
				at    time.Time
			}
			got := make([][]delivery, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, stream := range []bool{false, true} {
				w := f.kapi.Watcher(key, &client.WatcherOptions{AfterIndex: first.Node.ModifiedIndex - 1, Stream: stream})
				wg.Go(func() {
					for len(got[i]) < writes+1 {
						r, err := w.Next(ctx)
						if err != nil {
							errs[i] = err
							return
						}
						got[i] = append(got[i], delivery{r.Node.Value, r.Node.ModifiedIndex, time.Now()})
					}
				})
			}
			// Both watches wait on the victim for the write after v00.
			etcdtest.WaitFor(t, "both watches registered on the member to pause", func() bool { return watchesHeld(b, eps[victim]) >= 2 })
			cl.Pause(victim)
			paused := time.Now()
			t.Cleanup(func() { cl.Resume(victim) })

			want := []uint64{first.Node.ModifiedIndex}
			for n := 1; n <= writes; n++ {
				r, err := writer.Set(t.Context(), key, fmt.Sprintf("v%02d", n), nil)
				if err != nil {
					t.Fatalf("write %d with a follower paused: %v", n, err)
				}
				want = append(want, r.Node.ModifiedIndex)
			}
			lastWrite := time.Now()
			wg.Wait()
			for i, name := range []string{"poll", "stream"} {
				if errs[i] != nil {
					t.Fatalf("%s watcher after %d events: %v", name, len(got[i]), errs[i])
				}
				var idx []uint64
				for n, d := range got[i] {
					idx = append(idx, d.index)
					if wantV := fmt.Sprintf("v%02d", n); d.value != wantV {
						t.Errorf("%s watcher: event %d has value %q, want %q", name, n, d.value, wantV)
					}
				}
				if !slices.Equal(idx, want) {
					t.Errorf("%s watcher delivered indexes %v, want %v", name, idx, want)
				}
				if ep := f.serving(); ep == eps[victim] {
					t.Errorf("the watch client still sends to the paused member %s", ep)
				}
				if d := got[i][1].at.Sub(paused); d > hangDetect {
					t.Errorf("%s watcher: first write after the pause delivered %v after the pause, want at most %v", name, d, hangDetect)
				}
				t.Logf("%s: %s watcher (default options): first write after the pause delivered %v after the pause, last one %v after it was written",
					cl.Server(), name, got[i][1].at.Sub(paused).Round(time.Millisecond), got[i][writes].at.Sub(lastWrite).Round(time.Millisecond))
			}
			t.Logf("%s: %d watch exchanges validated", b, f.exchanges())
		})
	}
}
