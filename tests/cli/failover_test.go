package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestWatchesSurviveMemberKill runs `watch --forever --recursive` and
// `exec-watch --recursive` on a 3-member cluster while every member in turn
// is SIGKILLed and restarted, so whichever member the watches use dies
// under them, and checks that each printed every event exactly once, in
// order, and ended cleanly on Ctrl-C.
func TestWatchesSurviveMemberKill(t *testing.T) {
	const keys = 240
	srv := etcdtest.ServerFor(t, "3.5")
	cl := etcdtest.StartCluster(t, srv, 3)
	hc, _ := clienttest.New(t, cl.Endpoints(), client.Config{})
	kapi := client.NewKeysAPI(hc)
	tl := newGoetcdctl(t, cl.Endpoints())

	// Both watches start from the index before the first write, so no
	// event can slip by before they are in place.
	resp, err := kapi.Set(t.Context(), "/wk-start", "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	after := fmt.Sprint(resp.Node.ModifiedIndex)
	out := filepath.Join(t.TempDir(), "events")
	waitWatch, watchOut := tl.start(t, invocation{args: []string{"watch", "--forever", "--recursive", "--after-index", after, "/wk"}})
	waitExec, _ := tl.start(t, invocation{args: []string{"exec-watch", "--recursive", "--after-index", after, "/wk", "--",
		"sh", "-c", `echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY=$ETCD_WATCH_VALUE" >> ` + out}})

	var want, wantExec []string
	for i := range keys {
		if i%80 == 20 { // members 0, 1 and 2 in turn
			m := i / 80
			cl.Kill(m)
			t.Logf("killed member %d after %d writes", m, i)
			if m == 0 {
				// Once the other two agree on a leader, exactly one member
				// is down: cluster-health says which, and exits 5.
				waitFor(t, "the two live members to agree on a leader", func() bool {
					r := run(t, tl, invocation{args: []string{"cluster-health"}})
					return strings.Contains(r.stdout, "1 of 3 members are not healthy")
				})
				checkHealth(t, tl, 5, "member [0-9a-f]+ is unreachable: \\["+regexp.QuoteMeta(cl.Endpoints()[0])+"\\] are all unreachable", "cluster is degraded: 1 of 3 members are not healthy")
			}
		}
		if i%80 == 50 {
			m := i / 80
			cl.Restart(m)
			if err := cl.WaitHealthy(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Logf("member %d back after %d writes", m, i)
		}
		key, value := fmt.Sprintf("/wk/k%04d", i), fmt.Sprintf("v%04d", i)
		create(t, kapi, key, value)
		want = append(want, "[create] "+key, value)
		wantExec = append(wantExec, "create "+key+"="+value)
	}

	checkHealth(t, tl, 0, `member [0-9a-f]+ is healthy: got healthy result from \S+ \(version 3\.5\.35, leader [0-9a-f]+, raft index [0-9]+\)`, "cluster is healthy")

	waitFor(t, "watch --forever to print the last event", func() bool {
		return strings.Contains(watchOut.String(), fmt.Sprintf("v%04d", keys-1))
	})
	waitFor(t, "exec-watch to run for the last event", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), fmt.Sprintf("v%04d", keys-1))
	})
	w, e := waitWatch(true), waitExec(true)
	if w.code != 0 || e.code != 0 {
		t.Errorf("exit codes after Ctrl-C: watch %d (%s), exec-watch %d (%s); want 0", w.code, w.stderr, e.code, e.stderr)
	}
	if got := strings.Split(strings.TrimSpace(w.stdout), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("watch --forever printed %d lines, want %d (every event once, in order):\n%s", len(got), len(want), firstDifference(got, want))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSpace(string(b)), "\n"); strings.Join(got, "\n") != strings.Join(wantExec, "\n") {
		t.Errorf("exec-watch ran for %d events, want %d (every event once, in order):\n%s", len(got), len(wantExec), firstDifference(got, wantExec))
	}
	t.Logf("watch stderr: %q; exec-watch stderr: %q", w.stderr, e.stderr)
}

// checkHealth runs cluster-health and checks its exit code and that its
// output matches each pattern.
func checkHealth(t *testing.T, tl tool, code int, patterns ...string) {
	t.Helper()
	r := run(t, tl, invocation{args: []string{"cluster-health"}})
	if r.code != code {
		t.Errorf("cluster-health: exit %d, want %d\n%s%s", r.code, code, r.stdout, r.stderr)
	}
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(r.stdout) {
			t.Errorf("cluster-health output lacks %q:\n%s", p, r.stdout)
		}
	}
}

// create makes key once: a create is never resent by the client, so when
// its outcome is unknown the key is read to learn whether it was made.
func create(t *testing.T, kapi client.KeysAPI, key, value string) {
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), client.DefaultRequestTimeout)
		_, err := kapi.Create(ctx, key, value)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("create %s: %v", key, err)
		}
		// An election after a kill: back off a little before asking again.
		time.Sleep(50 * time.Millisecond)
		ctx, cancel = context.WithTimeout(t.Context(), client.DefaultRequestTimeout)
		resp, gerr := kapi.Get(ctx, key, &client.GetOptions{Quorum: true})
		cancel()
		if gerr == nil && resp.Node.Value == value {
			return
		}
	}
}

// firstDifference shows where two line lists part.
func firstDifference(got, want []string) string {
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("line %d: got %q, want %q", i, g, w)
		}
	}
	return "(same lines)"
}

// TestWatchResync starts watch and exec-watch from an index that etcd's
// 1000-event history no longer holds: both say so on standard error, show
// the current state as "resync" events, and go on with the next change.
func TestWatchResync(t *testing.T) {
	srv := etcdtest.ServerFor(t, "3.5")
	cl := etcdtest.StartCluster(t, srv, 1)
	hc, _ := clienttest.New(t, cl.Endpoints(), client.Config{})
	kapi := client.NewKeysAPI(hc)
	resp, err := kapi.Set(t.Context(), "/rs/a", "1", nil)
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprint(resp.Node.ModifiedIndex - 1)
	for i := range 1100 {
		if _, err := kapi.Set(t.Context(), "/other", fmt.Sprint(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	tl := newGoetcdctl(t, cl.Endpoints())
	out := filepath.Join(t.TempDir(), "events")
	waitWatch, watchOut := tl.start(t, invocation{args: []string{"watch", "--forever", "--recursive", "--after-index", old, "/rs"}})
	waitExec, _ := tl.start(t, invocation{args: []string{"exec-watch", "--recursive", "--after-index", old, "/rs", "--",
		"sh", "-c", `echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY=$ETCD_WATCH_VALUE" >> ` + out}})
	waitFor(t, "the watch to show the resynced state", func() bool { return strings.Contains(watchOut.String(), "[resync] /rs/a\n1\n") })
	waitFor(t, "exec-watch to run for the resynced state", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "resync /rs/a=1\n")
	})
	if _, err := kapi.Set(t.Context(), "/rs/a", "2", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watch to go on after the resync", func() bool { return strings.Contains(watchOut.String(), "[set] /rs/a\n2\n") })
	waitFor(t, "exec-watch to go on after the resync", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "set /rs/a=2\n")
	})
	w, e := waitWatch(true), waitExec(true)
	for name, r := range map[string]result{"watch": w, "exec-watch": e} {
		if r.code != 0 || !strings.Contains(r.stderr, "resynced") || !strings.Contains(r.stderr, "events may have been missed") {
			t.Errorf("%s: exit %d, stderr %q: want 0 and a note of the resync", name, r.code, r.stderr)
		}
	}
	if want := "[resync] /rs/a\n1\n[set] /rs/a\n2\n"; w.stdout != want {
		t.Errorf("watch printed %q, want %q", w.stdout, want)
	}
}
