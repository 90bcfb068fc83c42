// Package migrate_test tests the online migration of a v2 tree into the v3
// store (v3keys.Migrate, v3keys.Verify and goetcdctl migrate) against real
// etcd 3.5: the v2 store and the v3 store of one cluster, and an etcd 3.6
// cluster as the target. Every exchange of the test's own clients goes
// through the contract transport.
package migrate_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
	"github.com/meycoin/goetcd/v3keys"
)

// TestMain builds etcd before any test starts its clock and fails the
// package when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	etcdtest.Main(m)
}

// callTimeout bounds each call of these tests.
const callTimeout = 60 * time.Second

func ctx(t testing.TB) context.Context { return etcdtest.CallContext(t, callTimeout) }

// env is one etcd 3.5 cluster with a v2 KeysAPI (the source) and a v3
// KeysAPI under a prefix (the target), both over validating transports.
type env struct {
	cluster *etcdtest.Cluster
	v2      client.KeysAPI
	v3      client.KeysAPI
	v3cfg   v3keys.Config
	trs     []*clienttest.Transport
}

const prefix = "/migrated"

func newEnv(t *testing.T) *env {
	t.Helper()
	cl := etcdtest.StartCluster(t, etcdtest.ServerFor(t, "3.5"), 1)
	e := &env{cluster: cl}
	c, tr := clienttest.New(t, cl.Endpoints(), client.Config{})
	e.v2 = client.NewKeysAPI(c)
	e.trs = append(e.trs, tr)
	e.v3, e.v3cfg = e.newV3(t, cl.Endpoints(), prefix)
	t.Cleanup(func() {
		for _, tr := range e.trs {
			if n := tr.Violations(); n != 0 {
				t.Errorf("%d contract violations", n)
			}
		}
	})
	return e
}

// newV3 makes a v3 KeysAPI under prefix p on endpoints.
func (e *env) newV3(t *testing.T, endpoints []string, p string) (client.KeysAPI, v3keys.Config) {
	t.Helper()
	tr := clienttest.NewTransport(t, nil)
	e.trs = append(e.trs, tr)
	cfg := v3keys.Config{Endpoints: endpoints, Prefix: p, Transport: tr}
	k, err := v3keys.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Transport = nil
	return k, cfg
}

// must(t)(call()) returns call's Response, failing the test on its error.
func must(t testing.TB) func(*client.Response, error) *client.Response {
	return func(r *client.Response, err error) *client.Response {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

// flat is a tree read by a recursive Get, by key: "d" for a directory,
// "f:<value>" for a file, with the expiration when there is one.
type flatNode struct {
	desc string
	exp  *time.Time
}

func flatten(t *testing.T, kapi client.KeysAPI, root string) map[string]flatNode {
	t.Helper()
	r, err := kapi.Get(ctx(t), root, &client.GetOptions{Recursive: true, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]flatNode{}
	var add func(n *client.Node)
	add = func(n *client.Node) {
		if n.Key != "" && n.Key != "/" {
			d := "d"
			if !n.Dir {
				d = "f:" + n.Value
			}
			out[n.Key] = flatNode{desc: d, exp: n.Expiration}
		}
		for _, c := range n.Nodes {
			add(c)
		}
	}
	add(r.Node)
	return out
}

// sameTrees compares two flattened trees, expirations within tol, and
// returns the first few differences.
func sameTrees(a, b map[string]flatNode, tol time.Duration) []string {
	var out []string
	for k, x := range a {
		y, ok := b[k]
		switch {
		case !ok:
			out = append(out, k+": only in v2")
		case x.desc != y.desc:
			out = append(out, k+": "+x.desc+" in v2, "+y.desc+" in v3")
		case (x.exp == nil) != (y.exp == nil):
			out = append(out, k+": TTL in one tree only")
		case x.exp != nil && (x.exp.Sub(*y.exp) > tol || y.exp.Sub(*x.exp) > tol):
			out = append(out, k+": expirations "+x.exp.String()+" / "+y.exp.String())
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k+": only in v3")
		}
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], "...")
	}
	return out
}

func joinDiffs(d []v3keys.Difference) string {
	var s []string
	for i, x := range d {
		if i == 10 {
			s = append(s, "...")
			break
		}
		s = append(s, x.String())
	}
	return strings.Join(s, "\n")
}
