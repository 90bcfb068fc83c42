package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// The tree of TestExportImport: plain keys in directories (some with
// values that need escaping, some expiring), in-order queues, an expiring
// directory and empty directories; exactly transferKeys keys.
const (
	transferKeys   = 100_000
	transferDirs   = 400
	queueDirs      = 4
	queueLen       = 500
	ttlEvery       = 97 // every 97th plain key expires
	transferTTL    = 600
	expiringDirTTL = 900
)

var inOrderName = regexp.MustCompile(`/[0-9]{20}$`)

// seedTree writes the tree with many writers at once.
func seedTree(t *testing.T, kapi client.KeysAPI) {
	ctx := t.Context()
	if _, err := kapi.Set(ctx, "/big/expiring", "", &client.SetOptions{Dir: true, TTL: expiringDirTTL * time.Second}); err != nil {
		t.Fatal(err)
	}
	plain := transferKeys - queueDirs*queueLen
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= plain {
					return
				}
				key := fmt.Sprintf("/big/d%03d/k%05d", i%transferDirs, i)
				value := fmt.Sprintf("value %d & \"quoted\" ✓ %s", i, strings.Repeat("x", i%50))
				opts := &client.SetOptions{}
				if i%ttlEvery == 0 {
					opts.TTL = transferTTL * time.Second
				}
				if i == 7 {
					key = "/big/expiring/k"
				}
				if _, err := kapi.Set(ctx, key, value, opts); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for q := range queueDirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queueLen {
				if _, err := kapi.CreateInOrder(ctx, fmt.Sprintf("/big/queue%d", q), fmt.Sprintf("job %d.%d", q, j), nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("seeding: %v", err)
	}
	for _, d := range []string{"/big/empty", "/big/d000/empty"} {
		if _, err := kapi.Set(ctx, d, "", &client.SetOptions{Dir: true}); err != nil {
			t.Fatal(err)
		}
	}
}

// flatNode is what the comparison keeps of a node.
type flatNode struct {
	dir   bool
	value string
	ttl   int64
}

// readTree reads /big recursively and sorted: the plain nodes by key, and
// the values of each in-order directory in order.
func readTree(t *testing.T, kapi client.KeysAPI) (map[string]flatNode, map[string][]string) {
	resp, err := kapi.Get(t.Context(), "/big", &client.GetOptions{Recursive: true, Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]flatNode{}
	queues := map[string][]string{}
	var walk func(n *client.Node)
	walk = func(n *client.Node) {
		if inOrderName.MatchString(n.Key) {
			dir := n.Key[:strings.LastIndexByte(n.Key, '/')]
			queues[dir] = append(queues[dir], n.Value)
		} else {
			nodes[n.Key] = flatNode{dir: n.Dir, value: n.Value, ttl: n.TTL}
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(resp.Node)
	return nodes, queues
}

// TestExportImport exports a 100,000-key tree with goetcdctl, imports it
// into an empty cluster and checks that the copy is exact: values,
// directories (empty ones too), TTLs within a second of what remained at
// export, and in-order keys in their order. It logs both times.
func TestExportImport(t *testing.T) {
	srv := etcdtest.ServerFor(t, "3.5")
	src := etcdtest.StartCluster(t, srv, 1)
	dst := etcdtest.StartCluster(t, srv, 1)
	srcClient, _ := clienttest.New(t, src.Endpoints(), client.Config{})
	dstClient, _ := clienttest.New(t, dst.Endpoints(), client.Config{})
	srcKeys, dstKeys := client.NewKeysAPI(srcClient), client.NewKeysAPI(dstClient)

	start := time.Now()
	seedTree(t, srcKeys)
	t.Logf("seeded %d keys in %s", transferKeys, time.Since(start).Round(time.Millisecond))

	file := filepath.Join(t.TempDir(), "big.json")
	start = time.Now()
	res := run(t, newGoetcdctl(t, src.Endpoints()), invocation{args: []string{"export", "--file", file, "/big"}})
	exportTime := time.Since(start)
	if res.code != 0 {
		t.Fatalf("export: exit %d: %s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, fmt.Sprintf("exported %d keys (%d in order)", transferKeys, queueDirs*queueLen)) {
		t.Errorf("export summary: %q", res.stderr)
	}
	exported := readExportFile(t, file)
	// The source as it is now: its TTLs have run for at most exportTime
	// since the export read them.
	want, wantQueues := readTree(t, srcKeys)
	slack := int64((time.Since(start)+time.Second-1)/time.Second) + 1

	start = time.Now()
	res = run(t, newGoetcdctl(t, dst.Endpoints()), invocation{args: []string{"import", "--file", file}})
	importTime := time.Since(start)
	if res.code != 0 {
		t.Fatalf("import: exit %d: %s", res.code, res.stderr)
	}
	t.Logf("goetcdctl export of %d keys: %s (%s); import into an empty cluster: %s (%s)",
		transferKeys, exportTime.Round(time.Millisecond), strings.TrimSpace(res.stderr), importTime.Round(time.Millisecond), "every exchange validated against openapi.yaml")

	got, gotQueues := readTree(t, dstKeys)
	sinceImport := time.Since(start)
	if len(got) != len(want) {
		t.Errorf("%d plain nodes after import, want %d", len(got), len(want))
	}
	keys, ttls := 0, 0
	for key, w := range want {
		g, ok := got[key]
		switch {
		case !ok:
			t.Errorf("%s missing after import", key)
			continue
		case g.dir != w.dir || g.value != w.value:
			t.Errorf("%s: got dir=%v value=%q, want dir=%v value=%q", key, g.dir, g.value, w.dir, w.value)
		}
		if !w.dir {
			keys++
		}
		if w.ttl == 0 {
			if g.ttl != 0 {
				t.Errorf("%s: TTL %d after import, want none", key, g.ttl)
			}
			continue
		}
		ttls++
		// The export holds what remained then (within a second of the
		// source); the copy counts down from it since the import wrote it.
		e := exported[key]
		if e.TTL < w.ttl || e.TTL > w.ttl+slack {
			t.Errorf("%s: exported TTL %d, the source has %d a moment later", key, e.TTL, w.ttl)
		}
		if low := e.TTL - int64(sinceImport/time.Second) - 1; g.ttl < low || g.ttl > e.TTL+1 {
			t.Errorf("%s: TTL %d after import, want %d..%d", key, g.ttl, low, e.TTL+1)
		}
	}
	for dir, values := range wantQueues {
		keys += len(values)
		if strings.Join(gotQueues[dir], "\n") != strings.Join(values, "\n") {
			t.Errorf("in-order keys of %s: got %d values %.80q..., want %d in order %.80q...", dir, len(gotQueues[dir]), gotQueues[dir], len(values), values)
		}
	}
	if keys != transferKeys || len(wantQueues) != queueDirs || ttls < (transferKeys-queueDirs*queueLen)/ttlEvery {
		t.Errorf("the source tree has %d keys, %d queues and %d expiring nodes: the seeding is wrong", keys, len(wantQueues), ttls)
	}
	if !want["/big/empty"].dir || want["/big/expiring"].ttl == 0 {
		t.Errorf("the source tree lacks its empty or expiring directory")
	}
}

// exportedNode is a node of the export file as the test reads it.
type exportedNode struct {
	Key     string `json:"key"`
	TTL     int64  `json:"ttl"`
	InOrder bool   `json:"inOrder"`
}

func readExportFile(t *testing.T, file string) map[string]exportedNode {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Nodes []exportedNode `json:"nodes"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("the export is not JSON: %v", err)
	}
	out := map[string]exportedNode{}
	for _, n := range doc.Nodes {
		out[n.Key] = n
	}
	return out
}
