package migrate_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/etcdtest"
	"github.com/meycoin/goetcd/v3keys"
)

// The tree of TestMigrateOnline: exactly onlineKeys nodes that are keys,
// in plain directories (every ttlEvery-th key expiring), an expiring
// directory, in-order queues, and empty directories.
const (
	onlineKeys = 100_000
	plainDirs  = 400
	queues     = 4
	queueLen   = 500
	ttlEvery   = 97
	keyTTL     = 600 * time.Second
	dirTTL     = 900 * time.Second
	emptyDirs  = 50
)

// seedOnline writes the tree with many writers at once.
func seedOnline(t *testing.T, kapi client.KeysAPI) {
	t.Helper()
	must(t)(kapi.Set(ctx(t), "/load/expiring", "", &client.SetOptions{Dir: true, TTL: dirTTL}))
	plain := onlineKeys - queues*queueLen
	var next atomic.Int64
	jobs := []func(c context.Context) error{}
	for range 48 {
		jobs = append(jobs, func(c context.Context) error {
			for {
				i := int(next.Add(1) - 1)
				if i >= plain {
					return nil
				}
				key := fmt.Sprintf("/load/d%03d/k%05d", i%plainDirs, i)
				if i%1000 == 7 {
					key = fmt.Sprintf("/load/expiring/k%05d", i)
				}
				opts := &client.SetOptions{}
				if i%ttlEvery == 0 {
					opts.TTL = keyTTL
				}
				if _, err := kapi.Set(c, key, fmt.Sprintf("v%d %s", i, strings.Repeat("x", i%40)), opts); err != nil {
					return err
				}
			}
		})
	}
	for q := range queues {
		jobs = append(jobs, func(c context.Context) error {
			for j := range queueLen {
				if _, err := kapi.CreateInOrder(c, fmt.Sprintf("/load/queue%d", q), fmt.Sprintf("job %d.%d", q, j), nil); err != nil {
					return err
				}
			}
			return nil
		})
	}
	jobs = append(jobs, func(c context.Context) error {
		for i := range emptyDirs {
			if _, err := kapi.Set(c, fmt.Sprintf("/load/empty/e%02d", i), "", &client.SetOptions{Dir: true}); err != nil {
				return err
			}
		}
		return nil
	})
	runAll(t, jobs)
}

// runAll runs the jobs at once and fails the test on the first error.
func runAll(t *testing.T, jobs []func(context.Context) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(jobs))
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j(t.Context()); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// load is mixed v2 traffic at about rate writes a second on /load/hot and
// /load/ttl: sets, creates, compare-and-swaps, deletes, short TTLs that
// expire, in-order creates and directories. It records when each index
// was written, for the lag.
type load struct {
	kapi    client.KeysAPI
	stop    chan struct{}
	done    sync.WaitGroup
	writes  atomic.Int64
	unknown atomic.Int64
	mu      sync.Mutex
	written map[uint64]time.Time
	errs    []error
}

// loadWriters and loadTick make the rate: each writer writes once a tick.
const (
	// 13 writers x 20 ticks/s = 260 attempts/s, of which about a quarter
	// change nothing (a delete of a missing key, a failed compare): about
	// 200 writes/s.
	loadWriters = 13
	loadTick    = 50 * time.Millisecond
	shortTTL    = 2 * time.Second
)

func startLoad(kapi client.KeysAPI) *load {
	l := &load{kapi: kapi, stop: make(chan struct{}), written: map[uint64]time.Time{}}
	for w := range loadWriters {
		l.done.Add(1)
		go l.writer(w)
	}
	return l
}

func (l *load) writer(w int) {
	defer l.done.Done()
	rng := rand.New(rand.NewPCG(uint64(w), 42))
	tick := time.NewTicker(loadTick)
	defer tick.Stop()
	ctx := context.Background()
	for n := 0; ; n++ {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		hot := fmt.Sprintf("/load/hot/w%d/h%03d", w, rng.IntN(200))
		var r *client.Response
		var err error
		switch op := rng.IntN(10); op {
		case 0, 1:
			r, err = l.kapi.Set(ctx, hot, fmt.Sprint("set ", n), nil)
		case 2:
			r, err = l.kapi.Create(ctx, fmt.Sprintf("/load/hot/w%d/new/c%06d", w, n), "created")
		case 3:
			var cur *client.Response
			if cur, err = l.kapi.Get(ctx, hot, nil); err == nil {
				r, err = l.kapi.Set(ctx, hot, fmt.Sprint("cas ", n), &client.SetOptions{PrevValue: cur.Node.Value})
			}
		case 4:
			r, err = l.kapi.Delete(ctx, hot, nil)
		case 5:
			r, err = l.kapi.Set(ctx, fmt.Sprintf("/load/ttl/w%d/t%06d", w, n), "short", &client.SetOptions{TTL: shortTTL})
		case 6:
			r, err = l.kapi.CreateInOrder(ctx, fmt.Sprintf("/load/queue%d", w%queues), fmt.Sprint("more ", n), nil)
		case 7:
			r, err = l.kapi.Set(ctx, fmt.Sprintf("/load/hot/w%d/dirs/x%06d", w, n), "", &client.SetOptions{Dir: true})
		case 8:
			r, err = l.kapi.Set(ctx, fmt.Sprintf("/load/d%03d/k%05d", rng.IntN(plainDirs), rng.IntN(onlineKeys-queues*queueLen)), fmt.Sprint("overwritten ", n), nil)
		case 9:
			r, err = l.kapi.Delete(ctx, fmt.Sprintf("/load/hot/w%d/new", w), &client.DeleteOptions{Recursive: true})
		}
		var ke client.Error
		if errors.As(err, &ke) && (ke.Code == client.ErrorCodeKeyNotFound || ke.Code == client.ErrorCodeNodeExist || ke.Code == client.ErrorCodeTestFailed) {
			continue // the traffic's own races: nothing written
		}
		if client.IsOutcomeUnknown(err) {
			l.unknown.Add(1) // a busy machine: the write may or may not be in
			continue
		}
		if err != nil {
			l.mu.Lock()
			l.errs = append(l.errs, err)
			l.mu.Unlock()
			continue
		}
		l.writes.Add(1)
		if r != nil && r.Node != nil {
			l.mu.Lock()
			l.written[r.Node.ModifiedIndex] = time.Now()
			l.mu.Unlock()
		}
	}
}

// halt stops the writers and returns their errors.
func (l *load) halt() []error {
	close(l.stop)
	l.done.Wait()
	return l.errs
}

// writtenAt is when the first write after index i was made (false when
// none was).
func (l *load) firstAfter(i uint64) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best uint64
	var at time.Time
	for idx, t := range l.written {
		if idx > i && (best == 0 || idx < best) {
			best, at = idx, t
		}
	}
	return at, best != 0
}

// process is one run of the goetcdctl binary.
type process struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process and waits for it to end.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v (output: %s)", err, p.out.String())
	}
	<-p.done
}

// buildGoetcdctl builds the command from this checkout.
func buildGoetcdctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "goetcdctl")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/meycoin/goetcd/cmd/goetcdctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building goetcdctl: %v\n%s", err, out)
	}
	return bin
}

// v3count counts the v3 keys under p, through the contract transport.
func (e *env) v3count(t *testing.T, p string) int64 {
	t.Helper()
	end := []byte(p)
	end[len(end)-1]++
	body := `{"key":"` + base64.StdEncoding.EncodeToString([]byte(p)) + `","range_end":"` + base64.StdEncoding.EncodeToString(end) + `","count_only":true}`
	req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, e.cluster.Endpoints()[0]+"/v3/kv/range", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.trs[0].Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Count string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("count: %d %v", resp.StatusCode, err)
	}
	n, _ := strconv.ParseInt(out.Count, 10, 64)
	return n
}

// v2Index is v2's current index.
func (e *env) v2Index(t *testing.T) uint64 {
	t.Helper()
	r, err := e.v2.Get(ctx(t), "/load/nothing", nil)
	var ke client.Error
	switch {
	case err == nil:
		return r.Index
	case errors.As(err, &ke):
		return ke.Index
	}
	t.Fatal(err)
	return 0
}

// marker reads the migration's marker (nil before the first run wrote it).
func (e *env) marker(t *testing.T) *v3keys.MigrationMarker {
	t.Helper()
	mk, err := v3keys.MigrationStatus(ctx(t), e.v3)
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// TestMigrateOnline is the migration of a 100,000-key tree (directories,
// empty directories, TTL keys, an expiring directory, in-order keys) by
// the goetcdctl binary while about 200 writes a second of mixed v2 traffic
// go on: the program is SIGKILLed once during the copy and once while it
// follows, and started again each time. Once the writers stop and their
// short TTLs have run out, `goetcdctl migrate --until-lag 0 --verify` finds
// no difference, and the v3 backend's recursive Get equals v2's (TTLs
// within 1s). It logs the copy's throughput, the lag under load and the
// time from the writers' stop to a verified tree.
func TestMigrateOnline(t *testing.T) {
	e := newEnv(t)
	bin := buildGoetcdctl(t)
	start := time.Now()
	seedOnline(t, e.v2)
	t.Logf("seeded %d keys in %s", onlineKeys, time.Since(start).Round(time.Millisecond))

	l := startLoad(e.v2)
	loadStart := time.Now()
	defer func() {
		select {
		case <-l.stop:
		default:
			l.halt()
		}
	}()
	args := []string{"--no-sync", "--endpoints", strings.Join(e.cluster.Endpoints(), ","), "migrate", "--prefix", prefix}

	// 1: killed during the copy, once some of the tree is in.
	run := startProcess(t, bin, append(args, "--follow")...)
	copyStart := time.Now()
	etcdtest.WaitFor(t, "the copy to be under way", func() bool {
		if run.exited() {
			t.Fatalf("goetcdctl migrate ended: %v\n%s", run.err, run.out.String())
		}
		mk := e.marker(t)
		return mk != nil && mk.Phase == v3keys.PhaseCopy && e.v3count(t, prefix+"/0") >= onlineKeys/5
	})
	run.kill(t)
	if mk := e.marker(t); mk.Phase != v3keys.PhaseCopy {
		t.Fatalf("killed after the copy: %+v", mk)
	}
	t.Logf("killed during the copy, %d v3 keys written after %s", e.v3count(t, prefix+"/0"), time.Since(copyStart).Round(time.Millisecond))

	// 2: started again (copies again from a fresh snapshot), killed while
	// following.
	run = startProcess(t, bin, append(args, "--follow")...)
	copyStart = time.Now()
	var snapshot uint64
	etcdtest.WaitFor(t, "the copy to end", func() bool {
		if run.exited() {
			t.Fatalf("goetcdctl migrate ended: %v\n%s", run.err, run.out.String())
		}
		mk := e.marker(t)
		snapshot = mk.Snapshot
		return mk.Phase == v3keys.PhaseFollow
	})
	copyTook := time.Since(copyStart)
	nodes := e.v3count(t, prefix+"/0")
	t.Logf("copy (restarted): %d v3 node keys in about %s: %.0f keys/s", nodes, copyTook.Round(time.Millisecond), float64(nodes)/copyTook.Seconds())
	// Killed once 200 events are applied and the follower is close behind
	// v2 (so that v2's 1000-event history still holds what it needs).
	etcdtest.WaitFor(t, "200 events to be applied and the lag to be small", func() bool {
		mk := e.marker(t)
		return mk.Index >= snapshot+200 && e.v2Index(t) < mk.Index+300
	})
	run.kill(t)
	killedAt := e.marker(t).Index
	t.Logf("killed while following at index %d (snapshot %d)", killedAt, snapshot)

	// 3: started again, it resumes after the last index it applied; the
	// lag is sampled under the load.
	run = startProcess(t, bin, append(args, "--follow")...)
	var lags []uint64
	var lagTimes []time.Duration
	var sampleUntil time.Time
	etcdtest.WaitFor(t, "eight seconds of following after the restart", func() bool {
		if run.exited() {
			t.Fatalf("goetcdctl migrate ended: %v\n%s", run.err, run.out.String())
		}
		mk := e.marker(t)
		if mk.Index <= killedAt {
			return false
		}
		if sampleUntil.IsZero() {
			sampleUntil = time.Now().Add(8 * time.Second)
		}
		idx := e.v2Index(t)
		lag := time.Duration(0)
		if at, ok := l.firstAfter(mk.Index); ok {
			lag = time.Since(at)
		}
		lags = append(lags, idx-min(idx, mk.Index))
		lagTimes = append(lagTimes, lag)
		return time.Now().After(sampleUntil)
	})
	if errs := l.halt(); len(errs) > 0 {
		t.Fatalf("%d writes failed, first: %v", len(errs), errs[0])
	}
	stopped := time.Now()
	t.Logf("load: %d writes (and %d of unknown outcome) in %s (%.0f/s)", l.writes.Load(), l.unknown.Load(), stopped.Sub(loadStart).Round(time.Millisecond), float64(l.writes.Load())/stopped.Sub(loadStart).Seconds())
	slices.Sort(lags)
	slices.Sort(lagTimes)
	if len(lags) > 0 && len(lagTimes) > 0 {
		p90 := len(lags) * 9 / 10
		t.Logf("follow lag under load after the restart (%d samples): median %d indexes / %s, 90th percentile %d / %s, max %d / %s",
			len(lags), lags[len(lags)/2], lagTimes[len(lagTimes)/2].Round(time.Millisecond), lags[p90], lagTimes[p90].Round(time.Millisecond),
			lags[len(lags)-1], lagTimes[len(lagTimes)-1].Round(time.Millisecond))
	}

	// Cut-over: the short TTLs run out in v2, the follower is stopped, and
	// a last run catches up and verifies.
	etcdtest.WaitFor(t, "the short TTLs to run out in v2", func() bool {
		r, err := e.v2.Get(ctx(t), "/load/ttl", &client.GetOptions{Recursive: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range r.Node.Nodes {
			if len(w.Nodes) > 0 {
				return false
			}
		}
		return true
	})
	expired := time.Since(stopped)
	if err := run.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-run.done
	if run.err != nil {
		t.Fatalf("goetcdctl migrate --follow after SIGINT: %v\n%s", run.err, run.out.String())
	}
	if out := run.out.String(); !strings.Contains(out, "migrate: resumed") || !strings.Contains(out, " 0 re-copies") {
		t.Fatalf("the run started after the kill while following did not resume where it stopped:\n%s", out)
	}
	final := startProcess(t, bin, append(args, "--until-lag", "0", "--verify")...)
	<-final.done
	verified := time.Since(stopped)
	out := final.out.String()
	if final.err != nil || !strings.Contains(out, "verify: 0 differences") || !strings.Contains(out, "migrate: resumed") {
		t.Fatalf("goetcdctl migrate --until-lag 0 --verify: %v\n%s", final.err, out)
	}
	t.Logf("writers stopped -> verified: %s (of which %s waiting for the last TTLs to run out in v2)\n%s", verified.Round(time.Millisecond), expired.Round(time.Millisecond), strings.TrimSpace(out))

	d, err := v3keys.Verify(ctx(t), e.v2, e.v3, v3keys.VerifyOptions{})
	if err != nil || len(d) != 0 {
		t.Fatalf("Verify: %v, %d differences:\n%s", err, len(d), joinDiffs(d))
	}
	a, b := flatten(t, e.v2, "/"), flatten(t, e.v3, "/")
	if len(a) < onlineKeys {
		t.Fatalf("v2 holds %d nodes, want at least %d", len(a), onlineKeys)
	}
	if diffs := sameTrees(a, b, time.Second); len(diffs) != 0 {
		t.Fatalf("the recursive Gets differ:\n%s", strings.Join(diffs, "\n"))
	}
}
