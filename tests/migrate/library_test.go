package migrate_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/etcdtest"
	"github.com/meycoin/goetcd/v3keys"
)

// seed writes a small tree with every kind of node into v2.
func seed(t *testing.T, kapi client.KeysAPI) {
	t.Helper()
	m := must(t)
	m(kapi.Set(ctx(t), "/app/a", "1", nil))
	m(kapi.Set(ctx(t), "/app/deep/er/key", "x", nil))
	m(kapi.Set(ctx(t), "/app/empty", "", &client.SetOptions{Dir: true}))
	m(kapi.Set(ctx(t), "/app/ttl", "soon", &client.SetOptions{TTL: 40 * time.Second}))
	m(kapi.Set(ctx(t), "/app/tdir", "", &client.SetOptions{Dir: true, TTL: 50 * time.Second}))
	m(kapi.Set(ctx(t), "/app/tdir/in", "v", nil))
	m(kapi.Set(ctx(t), "/app/tdir/own", "v", &client.SetOptions{TTL: 50 * time.Second}))
	for i := range 3 {
		m(kapi.CreateInOrder(ctx(t), "/app/q", fmt.Sprint("job", i), nil))
	}
}

// TestMigrateCopyFollowVerify copies a small tree with every kind of
// node, applies later v2 changes of every action, and finds the trees
// equal with Verify and with a comparison of its own.
func TestMigrateCopyFollowVerify(t *testing.T) {
	e := newEnv(t)
	seed(t, e.v2)
	before := e.v2Index(t)
	p, err := v3keys.Migrate(ctx(t), e.v2, e.v3, v3keys.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after := e.v2Index(t); after != before {
		t.Fatalf("v2's index moved from %d to %d during the migration: it wrote to v2", before, after)
	}
	if p.KeysTotal < 12 || p.KeysCopied != p.KeysTotal || !p.CaughtUp {
		t.Fatalf("progress after the copy: %+v", p)
	}
	check := func(when string) {
		t.Helper()
		d, err := v3keys.Verify(ctx(t), e.v2, e.v3, v3keys.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != 0 {
			t.Fatalf("%s: Verify: %d differences:\n%s", when, len(d), joinDiffs(d))
		}
		if diffs := sameTrees(flatten(t, e.v2, "/"), flatten(t, e.v3, "/"), time.Second); len(diffs) != 0 {
			t.Fatalf("%s: the trees differ:\n%v", when, diffs)
		}
	}
	check("after the copy")

	m := must(t)
	m(e.v2.Set(ctx(t), "/app/a", "2", nil))
	m(e.v2.Create(ctx(t), "/app/new/deeper", "n"))
	m(e.v2.Update(ctx(t), "/app/deep/er/key", "y"))
	m(e.v2.Set(ctx(t), "/app/a", "3", &client.SetOptions{PrevValue: "2"}))
	m(e.v2.Delete(ctx(t), "/app/deep", &client.DeleteOptions{Recursive: true}))
	m(e.v2.Set(ctx(t), "/app/short", "s", &client.SetOptions{TTL: time.Second}))
	m(e.v2.Delete(ctx(t), "/app/ttl", &client.DeleteOptions{PrevValue: "soon"}))
	m(e.v2.CreateInOrder(ctx(t), "/app/q", "job3", nil))
	p, err = v3keys.Migrate(ctx(t), e.v2, e.v3, v3keys.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.EventsApplied != 8 || p.Reconciles != 0 {
		t.Fatalf("progress after resuming: %+v", p)
	}
	check("after following")

	// The short TTL ends in v2 (an expire event) and in v3.
	waitGone(t, e.v2, "/app/short")
	if _, err = v3keys.Migrate(ctx(t), e.v2, e.v3, v3keys.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	check("after the expiry")
}

// TestMigrateInOrderContinues migrates in-order queues whose v2 names
// (v2 indexes) are above v3's revision, some by the copy and some by the
// follower (one of them a queue the copy did not see), and checks that
// v3 CreateInOrder then names keys after every migrated one.
func TestMigrateInOrderContinues(t *testing.T) {
	e := newEnv(t)
	m := must(t)
	for i := range 40 {
		m(e.v2.Set(ctx(t), "/pad", fmt.Sprint(i), nil)) // v2's index runs ahead of v3's revision
	}
	for i := range 3 {
		m(e.v2.CreateInOrder(ctx(t), "/app/q", fmt.Sprint("old", i), nil))
	}
	if _, err := v3keys.Migrate(ctx(t), e.v2, e.v3, v3keys.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		m(e.v2.CreateInOrder(ctx(t), "/app/q", fmt.Sprint("followed", i), nil))
		m(e.v2.CreateInOrder(ctx(t), "/app/later", fmt.Sprint("followed", i), nil))
	}
	if _, err := v3keys.Migrate(ctx(t), e.v2, e.v3, v3keys.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	if d, err := v3keys.Verify(ctx(t), e.v2, e.v3, v3keys.VerifyOptions{}); err != nil || len(d) != 0 {
		t.Fatalf("Verify: %v %s", err, joinDiffs(d))
	}
	for _, dir := range []string{"/app/q", "/app/later"} {
		old := m(e.v3.Get(ctx(t), dir, &client.GetOptions{Sort: true})).Node.Nodes
		last := old[len(old)-1].Key
		if rev := m(e.v3.Get(ctx(t), "/pad", nil)).Index; fmt.Sprintf("%s/%020d", dir, rev+1) >= last {
			t.Fatalf("setup: v3's revision %d is not below the migrated name %s; the test would prove nothing", rev, last)
		}
		for i := range 2 {
			r := m(e.v3.CreateInOrder(ctx(t), dir, fmt.Sprint("new", i), nil))
			if r.Node.Key <= last {
				t.Errorf("v3 CreateInOrder in %s named %s, not after %s", dir, r.Node.Key, last)
			}
			last = r.Node.Key
		}
		l := m(e.v3.Get(ctx(t), dir, &client.GetOptions{Sort: true})).Node.Nodes
		if len(l) != len(old)+2 || l[len(l)-2].Value != "new0" || l[len(l)-1].Value != "new1" {
			t.Errorf("%s after the v3 creations: %v", dir, l)
		}
	}
}

// migrated is an env whose seeded v2 tree is migrated into v3.
func migrated(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	seed(t, e.v2)
	if _, err := v3keys.Migrate(ctx(t), e.v2, e.v3, v3keys.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	return e
}

// waitGone waits until key does not exist.
func waitGone(t *testing.T, kapi client.KeysAPI, key string) {
	t.Helper()
	for {
		_, err := kapi.Watcher(key, nil).Next(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kapi.Get(ctx(t), key, nil); client.IsKeyNotFound(err) {
			return
		}
	}
}

// TestMigrateRefusesForeignData: a prefix holding keys no migration wrote,
// or another tree's migration, is refused before anything is written.
func TestMigrateRefusesForeignData(t *testing.T) {
	e := newEnv(t)
	seed(t, e.v2)
	must(t)(e.v3.Set(ctx(t), "/mine", "x", nil))
	_, err := v3keys.Migrate(ctx(t), e.v2, e.v3, v3keys.MigrateOptions{})
	var fe *v3keys.ForeignDataError
	if !errors.As(err, &fe) || fe.Keys == 0 {
		t.Fatalf("Migrate into a used prefix: %v, want a *ForeignDataError", err)
	}
	if mk, err := v3keys.MigrationStatus(ctx(t), e.v3); err != nil || mk != nil {
		t.Fatalf("marker after the refusal: %+v, %v", mk, err)
	}
	if _, err := e.v3.Get(ctx(t), "/app", nil); !client.IsKeyNotFound(err) {
		t.Fatalf("Get /app after the refusal: %v, want 100", err)
	}

	// Another root's migration is refused too.
	other, _ := e.newV3(t, e.cluster.Endpoints(), "/other")
	if _, err := v3keys.Migrate(ctx(t), e.v2, other, v3keys.MigrateOptions{Root: "/app/q"}); err != nil {
		t.Fatal(err)
	}
	_, err = v3keys.Migrate(ctx(t), e.v2, other, v3keys.MigrateOptions{Root: "/app"})
	if !errors.As(err, &fe) || fe.Marker == nil || fe.Marker.Root != "/app/q" {
		t.Fatalf("Migrate of another root: %v, want a *ForeignDataError naming /app/q", err)
	}
}

// TestMigrateDryRunWritesNothing: a dry run reports what it would write
// and leaves the v3 store as it was (no revision taken).
func TestMigrateDryRunWritesNothing(t *testing.T) {
	e := newEnv(t)
	seed(t, e.v2)
	before, err := e.v3.Get(ctx(t), "/", &client.GetOptions{Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v3keys.Migrate(ctx(t), e.v2, e.v3, v3keys.MigrateOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.KeysTotal < 12 || p.Puts != p.KeysTotal || p.Deletes != 0 {
		t.Fatalf("dry run progress: %+v", p)
	}
	after, err := e.v3.Get(ctx(t), "/", &client.GetOptions{Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	if after.Index != before.Index || len(after.Node.Nodes) != 0 {
		t.Fatalf("after the dry run: index %d (was %d), %d nodes", after.Index, before.Index, len(after.Node.Nodes))
	}
}

// TestVerifyReportsDifferences: a value changed, a key added and a key
// removed behind the migration's back are each reported by key.
func TestVerifyReportsDifferences(t *testing.T) {
	e := migrated(t)
	m := must(t)
	m(e.v3.Set(ctx(t), "/app/a", "planted", nil))
	m(e.v3.Set(ctx(t), "/app/extra", "e", nil))
	m(e.v3.Delete(ctx(t), "/app/empty", &client.DeleteOptions{Dir: true}))
	m(e.v3.Set(ctx(t), "/app/ttl", "soon", nil))
	d, err := v3keys.Verify(ctx(t), e.v2, e.v3, v3keys.VerifyOptions{Root: "/app"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/app/a value", "/app/empty missing", "/app/extra extra", "/app/ttl ttl"}
	var got []string
	for _, x := range d {
		got = append(got, x.Key+" "+x.Kind)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Verify: %v, want %v\n%s", got, want, joinDiffs(d))
	}
}

// TestMigrateReconcilesClearedHistory: a migration resumed after more
// than v2's 1000-event history went by copies again from a fresh snapshot
// (deleting what v2 no longer holds) instead of failing.
func TestMigrateReconcilesClearedHistory(t *testing.T) {
	e := migrated(t)
	m := must(t)
	m(e.v2.Delete(ctx(t), "/app/deep", &client.DeleteOptions{Recursive: true}))
	for i := range 1100 {
		m(e.v2.Set(ctx(t), fmt.Sprintf("/app/many/%d", i%50), fmt.Sprint(i), nil))
	}
	p, err := v3keys.Migrate(ctx(t), e.v2, e.v3, v3keys.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Reconciles != 1 || p.Deletes == 0 {
		t.Fatalf("progress: %+v, want one reconciliation that deleted /app/deep", p)
	}
	d, err := v3keys.Verify(ctx(t), e.v2, e.v3, v3keys.VerifyOptions{})
	if err != nil || len(d) != 0 {
		t.Fatalf("Verify: %v\n%s", err, joinDiffs(d))
	}
}

// TestMigrateInto36: the target is another cluster, etcd 3.6 (v3 only),
// and the source a 3.5 cluster's v2 store.
func TestMigrateInto36(t *testing.T) {
	var s36 *etcdtest.Server
	for _, s := range etcdtest.V3Servers(t) {
		if !s.HasV2() {
			s36 = &s
		}
	}
	if s36 == nil {
		t.Skip("no etcd 3.6 server (GOETCD_ETCD_VERSIONS)")
	}
	e := newEnv(t)
	target := etcdtest.StartCluster(t, *s36, 1)
	to, _ := e.newV3(t, target.Endpoints(), "/from35")
	seed(t, e.v2)
	if _, err := v3keys.Migrate(ctx(t), e.v2, to, v3keys.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	m := must(t)
	m(e.v2.Set(ctx(t), "/app/a", "after", nil))
	m(e.v2.Delete(ctx(t), "/app/deep", &client.DeleteOptions{Recursive: true}))
	m(e.v2.Set(ctx(t), "/app/new/ttl", "t", &client.SetOptions{TTL: time.Minute}))
	p, err := v3keys.Migrate(ctx(t), e.v2, to, v3keys.MigrateOptions{})
	if err != nil || p.EventsApplied != 3 {
		t.Fatalf("following into 3.6: %+v, %v", p, err)
	}
	d, err := v3keys.Verify(ctx(t), e.v2, to, v3keys.VerifyOptions{})
	if err != nil || len(d) != 0 {
		t.Fatalf("Verify: %v\n%s", err, joinDiffs(d))
	}
	if diffs := sameTrees(flatten(t, e.v2, "/"), flatten(t, to, "/"), time.Second); len(diffs) != 0 {
		t.Fatalf("the trees differ:\n%v", diffs)
	}
}
