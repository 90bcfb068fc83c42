package v3keys_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys"
)

// TestLayout checks the keys the backend writes in the v3 store, as the
// package doc describes them: one key per node, the depth in three digits,
// a directory's kind byte 0x00, a file's 0x01 or 0x02 (a plain set moves
// it to the other, an update keeps it), escaped control bytes, the value as
// is, and the action key.
func TestLayout(t *testing.T) {
	forEachV3(t, func(t *testing.T, e *env) {
		must(t)(e.kapi.Set(ctx(t), "/jobs/42", "pending", nil))
		keys := func() map[string]rawKV {
			out := map[string]rawKV{}
			for _, kv := range e.rawRange(t, v3keys.DefaultPrefix+"/0") {
				out[string(kv.Key)] = kv
			}
			return out
		}
		got := keys()
		dir, f1, f2 := "/v2/001/jobs\x00", "/v2/002/jobs/42\x01", "/v2/002/jobs/42\x02"
		if len(got) != 2 || got[dir].Key == nil || string(got[f1].Value) != "pending" {
			t.Fatalf("keys after Set /jobs/42: %q", slices.Sorted(func(yield func(string) bool) {
				for k := range got {
					if !yield(k) {
						return
					}
				}
			}))
		}
		must(t)(e.kapi.Set(ctx(t), "/jobs/42", "running", nil))
		if got = keys(); got[f1].Key != nil || string(got[f2].Value) != "running" {
			t.Errorf("a plain set did not move the file to its other kind: %v", got)
		}
		u := must(t)(e.kapi.Update(ctx(t), "/jobs/42", "done"))
		if got = keys(); string(got[f2].Value) != "done" || got[f2].CreateRevision != strconv.FormatUint(u.Node.CreatedIndex, 10) {
			t.Errorf("an update did not keep the key: %v (createdIndex %d)", got[f2], u.Node.CreatedIndex)
		}
		must(t)(e.kapi.Set(ctx(t), "/ctl/a\x00b\x03", "x", nil))
		if got = keys(); got["/v2/002/ctl/a\x03\x10b\x03\x13\x01"].Key == nil {
			t.Errorf("control bytes not escaped: %q", fmt.Sprint(got))
		}
		acts := e.rawRange(t, v3keys.DefaultPrefix+"/act")
		if len(acts) != 1 || string(acts[0].Value) != "set 0 /ctl/a\x00b\x03" {
			t.Errorf("action key: %+v", acts)
		}
	})
}

// TestExpire checks TTLs as leases: a key and a directory with what is in
// it expire, each once, with the action "expire", the previous node
// attached; removing a directory's TTL keeps what is in it.
func TestExpire(t *testing.T) {
	forEachV3(t, func(t *testing.T, e *env) {
		start := must(t)(e.kapi.Set(ctx(t), "/exp/seed", "s", nil))
		rec := e.kapi.Watcher("/exp", &client.WatcherOptions{Recursive: true, AfterIndex: start.Index})
		child := e.kapi.Watcher("/exp/d/c", &client.WatcherOptions{AfterIndex: start.Index})

		k := must(t)(e.kapi.Set(ctx(t), "/exp/k", "v", &client.SetOptions{TTL: time.Second}))
		if k.Node.TTL != 1 || k.Node.Expiration == nil {
			t.Errorf("TTL key: %+v", k.Node)
		}
		d := must(t)(e.kapi.Set(ctx(t), "/exp/d", "", &client.SetOptions{Dir: true, TTL: time.Second}))
		c := must(t)(e.kapi.Set(ctx(t), "/exp/d/c", "in the dir", nil))
		if c.Node.TTL != 0 {
			t.Errorf("a key without TTL in a dir with one shows TTL %d", c.Node.TTL)
		}
		kept := must(t)(e.kapi.Set(ctx(t), "/exp/keep", "", &client.SetOptions{Dir: true, TTL: time.Second}))
		must(t)(e.kapi.Set(ctx(t), "/exp/keep/c", "stays", nil))
		must(t)(e.kapi.Set(ctx(t), "/exp/keep", "", &client.SetOptions{Dir: true, PrevExist: client.PrevExist}))

		seen := map[string]*client.Response{}
		for len(seen) < 2 {
			ev, err := rec.Next(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Action == "expire" {
				if seen[ev.Node.Key] != nil {
					t.Errorf("%s expired twice", ev.Node.Key)
				}
				seen[ev.Node.Key] = ev
			}
		}
		if ev := seen["/exp/k"]; ev == nil || ev.PrevNode == nil || ev.PrevNode.Value != "v" || ev.Node.ModifiedIndex <= k.Node.ModifiedIndex {
			t.Errorf("expire of /exp/k: %+v", ev)
		}
		if ev := seen["/exp/d"]; ev == nil || !ev.Node.Dir || ev.PrevNode == nil || ev.PrevNode.CreatedIndex != d.Node.CreatedIndex {
			t.Errorf("expire of /exp/d: %+v", ev)
		}
		// The watcher of the key inside hears of its directory's expiry.
		ev, err := child.Next(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Action != "set" {
			t.Fatalf("first event of /exp/d/c: %s", ev.Action)
		}
		if ev, err = child.Next(ctx(t)); err != nil || ev.Action != "expire" || ev.Node.Key != "/exp/d" {
			t.Errorf("the key's watcher after its directory expired: %+v %v", ev, err)
		}
		for _, gone := range []string{"/exp/k", "/exp/d", "/exp/d/c"} {
			if _, err := e.kapi.Get(ctx(t), gone, nil); !client.IsKeyNotFound(err) {
				t.Errorf("%s after the expiry: %v", gone, err)
			}
		}
		g := must(t)(e.kapi.Get(ctx(t), "/exp/keep", &client.GetOptions{Recursive: true}))
		if g.Node.CreatedIndex != kept.Node.CreatedIndex || len(g.Node.Nodes) != 1 || g.Node.Nodes[0].Value != "stays" || g.Node.TTL != 0 {
			t.Errorf("a directory whose TTL was removed: %+v", g.Node)
		}
	})
}

// TestCompaction checks a watch whose revision was compacted: without
// Resync it fails with v2's 401, with Resync it reads the key afresh and
// goes on.
func TestCompaction(t *testing.T) {
	forEachV3(t, func(t *testing.T, e *env) {
		first := must(t)(e.kapi.Set(ctx(t), "/cmp/k", "0", nil))
		for i := 1; i <= 5; i++ {
			must(t)(e.kapi.Set(ctx(t), "/cmp/k", strconv.Itoa(i), nil))
		}
		last := must(t)(e.kapi.Get(ctx(t), "/cmp/k", nil))
		e.cluster.Compact(ctx(t), int64(last.Index))

		_, err := e.kapi.Watcher("/cmp/k", &client.WatcherOptions{AfterIndex: first.Index}).Next(ctx(t))
		var ce client.Error
		if !client.IsEventIndexCleared(err) || !errors.As(err, &ce) {
			t.Fatalf("watch from a compacted revision: %v", err)
		}
		want := fmt.Sprintf("the requested history has been cleared [%d/%d]", last.Index, first.Index+1)
		if ce.Cause != want || ce.Message != "The event in requested index is outdated and cleared" || ce.Index < last.Index {
			t.Errorf("error %+v, want cause %q", ce, want)
		}

		w := e.kapi.Watcher("/cmp/k", &client.WatcherOptions{AfterIndex: first.Index, Resync: true})
		r, err := w.Next(ctx(t))
		if err != nil || r.Action != client.ActionResync || r.Node == nil || r.Node.Value != "5" {
			t.Fatalf("resync: %+v %v", r, err)
		}
		s := must(t)(e.kapi.Set(ctx(t), "/cmp/k", "after", nil))
		if r, err = w.Next(ctx(t)); err != nil || r.Node.ModifiedIndex != s.Node.ModifiedIndex {
			t.Errorf("after the resync: %+v %v", r, err)
		}
	})
}

// TestInOrderContention has writers create in-order keys in one directory
// at once: the names are unique and sort in the order the keys were
// created, and the directory's sequence key holds the last one. With the
// sequence key set above the store's revision (as a migration of v2
// in-order keys leaves it), the next names follow it, still in creation
// order, and sort after every existing name.
func TestInOrderContention(t *testing.T) {
	forEachV3(t, func(t *testing.T, e *env) {
		const writers, each = 8, 12
		create := func(prefix string) {
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					k, _ := e.newKeysAPI(t, v3keys.Config{})
					for i := range each {
						if _, err := k.CreateInOrder(ctx(t), "/q", fmt.Sprintf("%s%d-%d", prefix, w, i), nil); err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
					}
				})
			}
			wg.Wait()
		}
		// check verifies the listing of /q (n keys) and returns the last
		// name; low says names are at most their creation index.
		check := func(n int, low bool) uint64 {
			t.Helper()
			l := must(t)(e.kapi.Get(ctx(t), "/q", &client.GetOptions{Sort: true}))
			if len(l.Node.Nodes) != n {
				t.Fatalf("%d keys, want %d", len(l.Node.Nodes), n)
			}
			byIndex := slices.Clone(l.Node.Nodes)
			sort.Slice(byIndex, func(i, j int) bool { return byIndex[i].CreatedIndex < byIndex[j].CreatedIndex })
			var name uint64
			for i, n := range l.Node.Nodes {
				if byIndex[i] != n {
					t.Fatalf("name order differs from creation order at %d: %s (created %d) vs %s (created %d)", i, n.Key, n.CreatedIndex, byIndex[i].Key, byIndex[i].CreatedIndex)
				}
				name, _ = strconv.ParseUint(n.Key[len("/q/"):], 10, 64)
				if low && name > n.CreatedIndex {
					t.Errorf("%s was created at %d, before its name", n.Key, n.CreatedIndex)
				}
			}
			seq := e.rawRange(t, v3keys.DefaultPrefix+"/seq/q")
			if len(seq) != 1 || string(seq[0].Value) != strconv.FormatUint(name, 10) {
				t.Errorf("sequence key of /q: %+v, want the last name %d", seq, name)
			}
			return name
		}
		create("")
		check(writers*each, true)

		const high = 10000000000000000000
		e.admin(t, "/v3/kv/put", `{"key":"`+b64(v3keys.DefaultPrefix+"/seq/q")+`","value":"`+b64(strconv.FormatUint(high, 10))+`"}`, "", nil)
		create("high ")
		if last := check(2*writers*each, false); last != high+writers*each {
			t.Errorf("last name after the high sequence: %d, want %d", last, uint64(high+writers*each))
		}
	})
}

// TestAuth checks v3 auth: a user's token goes with every request (writes,
// leases, watches), is fetched again when it expires
// (--auth-token-ttl=1), a wrong password fails with the server's reason,
// and a user without permission gets v2's 110.
func TestAuth(t *testing.T) {
	forEachV3(t, func(t *testing.T, e *env) {
		// A KeysAPI with a user, made while auth is off, sends no token
		// and asks for none again until the server wants one.
		earlyLog := &attemptLog{}
		early, _ := e.newKeysAPI(t, v3keys.Config{Username: "app", Password: "apppw", Logger: slog.New(earlyLog)})
		for range 3 {
			must(t)(early.Set(ctx(t), "/a/early", "before auth", nil))
		}
		if n := earlyLog.count("POST /v3/auth/authenticate", http.StatusBadRequest); n != 1 {
			t.Errorf("with auth off, %d refused token requests, want 1", n)
		}
		for _, c := range []struct{ path, body string }{
			{"/v3/auth/user/add", `{"name":"root","password":"rootpw"}`},
			{"/v3/auth/role/add", `{"name":"root"}`},
			{"/v3/auth/user/grant", `{"user":"root","role":"root"}`},
			{"/v3/auth/user/add", `{"name":"app","password":"apppw"}`},
			{"/v3/auth/role/add", `{"name":"app"}`},
			{"/v3/auth/role/grant", `{"name":"app","perm":{"permType":"READWRITE","key":"` + b64("/v2/") + `","range_end":"` + b64("/v20") + `"}}`},
			{"/v3/auth/user/grant", `{"user":"app","role":"app"}`},
			{"/v3/auth/user/add", `{"name":"nobody","password":"npw"}`},
			{"/v3/auth/enable", `{}`},
		} {
			e.admin(t, c.path, c.body, "", nil)
		}
		if g := must(t)(early.Get(ctx(t), "/a/early", nil)); g.Node.Value != "before auth" {
			t.Errorf("after auth was turned on: %+v", g.Node)
		}
		log := &attemptLog{}
		app, _ := e.newKeysAPI(t, v3keys.Config{Username: "app", Password: "apppw", Logger: slog.New(log)})
		s := must(t)(app.Set(ctx(t), "/a/k", "v", &client.SetOptions{TTL: 30 * time.Second}))
		w := app.Watcher("/a/k", &client.WatcherOptions{AfterIndex: s.Index})
		// A simple token ends 1 s after its last use (--auth-token-ttl=1),
		// checked by the server once a second: after 3 s it is gone.
		time.Sleep(3 * time.Second)
		u := must(t)(app.Set(ctx(t), "/a/k", "w", &client.SetOptions{PrevExist: client.PrevExist, TTL: 30 * time.Second}))
		if ev, err := w.Next(ctx(t)); err != nil || ev.Node.ModifiedIndex != u.Node.ModifiedIndex {
			t.Errorf("watch with a token: %+v %v", ev, err)
		}
		if g := must(t)(app.Get(ctx(t), "/a/k", nil)); g.Node.Value != "w" || g.Node.TTL == 0 {
			t.Errorf("read with a token: %+v", g.Node)
		}
		// One token at first, a 401 once it expired, and one token more.
		if n := log.count("POST /v3/auth/authenticate", 200); n != 2 {
			t.Errorf("%d tokens fetched, want 2", n)
		}
		if n := log.count("", http.StatusUnauthorized); n != 1 {
			t.Errorf("%d answers 401, want 1 (the expired token)", n)
		}

		bad, _ := e.newKeysAPI(t, v3keys.Config{Username: "app", Password: "wrong"})
		_, err := bad.Get(ctx(t), "/a/k", nil)
		var ge *v3keys.GatewayError
		if !errors.As(err, &ge) || ge.Message != "etcdserver: authentication failed, invalid user ID or password" {
			t.Errorf("wrong password: %v", err)
		}
		nobody, _ := e.newKeysAPI(t, v3keys.Config{Username: "nobody", Password: "npw"})
		_, err = nobody.Set(ctx(t), "/a/k", "x", nil)
		if !client.IsUnauthorized(err) || !errors.As(err, &ge) || ge.StatusCode != http.StatusForbidden {
			t.Errorf("a user without permission: %v", err)
		}
		if _, err = nobody.Watcher("/a/k", nil).Next(ctx(t)); !client.IsUnauthorized(err) {
			t.Errorf("a watch of a user without permission: %v", err)
		}
		var root struct{ Token string }
		e.admin(t, "/v3/auth/authenticate", `{"name":"root","password":"rootpw"}`, "", &root)
		e.admin(t, "/v3/auth/disable", `{}`, root.Token, nil)
	}, "--auth-token-ttl=1")
}

// TestNotAGateway checks that an answer that is not the gateway's (a
// proxy's HTML page, which no etcd sends) is an error that says so.
func TestNotAGateway(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<html>not here</html>")
	}))
	defer page.Close()
	k, err := v3keys.New(v3keys.Config{Endpoints: []string{page.URL}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Get(t.Context(), "/x", nil)
	if !errors.Is(err, v3keys.ErrNotGateway) {
		t.Errorf("an HTML 404: %v", err)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	client.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// TestConfig checks that New refuses what it cannot use, naming it.
func TestConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  v3keys.Config
		want string
	}{
		{v3keys.Config{Endpoints: []string{"http://h:1"}, Prefix: "/app/"}, "slash"},
		{v3keys.Config{Endpoints: []string{"http://h:1"}, Prefix: "/a\x01"}, "reserves"},
		{v3keys.Config{Endpoints: []string{"ftp://h:1"}}, "scheme"},
		{v3keys.Config{}, "no endpoints"},
		{v3keys.Config{Endpoints: []string{"http://h:1"}, MaxResponseBytes: -1}, "negative"},
	} {
		_, err := v3keys.New(c.cfg)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), c.want) {
			t.Errorf("New(%+v) = %v, want an error about %q", c.cfg, err, c.want)
		}
	}
}

// attemptLog is a slog.Handler that keeps the op and status of each
// attempt the pipeline logs.
type attemptLog struct {
	mu       sync.Mutex
	attempts []attempt
}

type attempt struct {
	op     string
	status int64
}

func (l *attemptLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *attemptLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *attemptLog) WithGroup(string) slog.Handler            { return l }

func (l *attemptLog) Handle(_ context.Context, r slog.Record) error {
	var a attempt
	r.Attrs(func(at slog.Attr) bool {
		switch at.Key {
		case "op":
			a.op = at.Value.String()
		case "status":
			a.status = at.Value.Int64()
		}
		return true
	})
	l.mu.Lock()
	l.attempts = append(l.attempts, a)
	l.mu.Unlock()
	return nil
}

// count is how many attempts of op ("" any) got status.
func (l *attemptLog) count(op string, status int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.attempts {
		if (op == "" || a.op == op) && a.status == status {
			n++
		}
	}
	return n
}
