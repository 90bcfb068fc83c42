// Package probe_test drives every operation of openapi.yaml through the
// generated client against real 3-member etcd clusters of every available
// version, with every exchange validated by the contract transport, so that
// the whole spec is shown to describe what the servers really do.
package probe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/generated"
	"github.com/meycoin/goetcd/tests/contract"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock and checks that
// no goroutine outlives the tests.
func TestMain(m *testing.M) {
	etcdtest.Main(m)
}

// callTimeout bounds every call; loopback etcd answers in milliseconds.
const callTimeout = 20 * time.Second

// probe is one cluster with validating generated clients for its members.
type probe struct {
	server  etcdtest.Server
	cluster *etcdtest.Cluster
	ct      *contract.Transport
	http    *http.Client
	// covered records the operationIds the test drove.
	covered map[string]bool
}

// client returns a generated client for member i.
func (p *probe) client(t *testing.T, i int) *generated.ClientWithResponses {
	t.Helper()
	c, err := generated.NewClientWithResponses(p.cluster.Endpoints()[i], generated.WithHTTPClient(p.http))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// did marks operations as driven.
func (p *probe) did(ops ...string) {
	for _, op := range ops {
		p.covered[op] = true
	}
}

func ctx(t testing.TB) context.Context { return etcdtest.CallContext(t, callTimeout) }

// statusOf is what every generated response offers.
type statusOf interface {
	StatusCode() int
	Status() string
	GetBody() []byte
}

// check fails the test on a transport error or an unexpected status, and
// returns r for further checks.
func check[R statusOf](t *testing.T, what string, want int, r R, err error) R {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.StatusCode() != want {
		t.Fatalf("%s: %s %q, want %d", what, r.Status(), r.GetBody(), want)
	}
	return r
}

// nonNil fails the test when a typed response field was not filled.
func nonNil[T any](t *testing.T, what string, v *T) *T {
	t.Helper()
	if v == nil {
		t.Fatalf("%s: typed field not filled", what)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

// refused sends a request that etcd always refuses, and so has no generated
// function, through the validating client, checks its status and decodes
// its JSON error body into e. A non-empty form is sent as the body.
func (p *probe) refused(t *testing.T, op, method, path, form string, want int, e any) {
	t.Helper()
	p.did(op)
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequestWithContext(ctx(t), method, p.cluster.Endpoints()[0]+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", op, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %q, want %d", method, path, resp.Status, b, want)
	}
	if err := json.Unmarshal(b, e); err != nil {
		t.Fatalf("%s %s: body %q: %v", method, path, b, err)
	}
}

// specOperations lists the operationIds of openapi.yaml, those of the
// requests etcd always refuses (x-always-refused) included.
func specOperations(t *testing.T) []string {
	t.Helper()
	doc, err := contract.Load(contract.DefaultSpecPath())
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			ops = append(ops, op.OperationID)
		}
	}
	sort.Strings(ops)
	return ops
}

// TestSpec runs every operation of the spec, success and documented error
// paths, against a 3-member cluster of each server version.
func TestSpec(t *testing.T) {
	t.Parallel()
	ops := specOperations(t)
	if len(ops) == 0 {
		t.Fatal("no operations in the spec")
	}
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			base := &http.Transport{
				DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				IdleConnTimeout: 30 * time.Second,
			}
			t.Cleanup(base.CloseIdleConnections)
			ct := contract.New(t, "", base)
			p := &probe{
				server:  s,
				cluster: etcdtest.StartCluster(t, s, 3),
				ct:      ct,
				http:    ct.Client(),
				covered: map[string]bool{},
			}
			t.Run("cluster", func(t *testing.T) { testClusterOps(t, p) })
			t.Run("keys", func(t *testing.T) { testKeyOps(t, p) })
			t.Run("auth", func(t *testing.T) { testAuthOps(t, p) })
			// Last, because etcd refuses member adds until the members have
			// been connected for a while.
			t.Run("members", func(t *testing.T) { testMemberOps(t, p) })

			if ct.Exchanges() == 0 {
				t.Error("no exchange went through the contract transport")
			}
			if n := ct.Violations(); n != 0 {
				t.Errorf("%d contract violations", n)
			}
			var missing []string
			for _, op := range ops {
				if !p.covered[op] {
					missing = append(missing, op)
				}
			}
			if len(missing) > 0 && !t.Failed() {
				t.Errorf("operations of openapi.yaml not driven: %v", missing)
			}
		})
	}
}

// leaderIndex waits for an agreed leader.
func (p *probe) leaderIndex(t *testing.T) int {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), etcdtest.StartTimeout)
	defer cancel()
	i, err := p.cluster.WaitLeader(c)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func testClusterOps(t *testing.T, p *probe) {
	p.did("getVersion", "getHealth", "getMachines", "headMachines", "getSelfStats", "getLeaderStats", "getStoreStats")
	c0 := p.client(t, 0)

	t.Run("getVersion", func(t *testing.T) {
		for i := range p.cluster.Endpoints() {
			r, err := p.client(t, i).GetVersionWithResponse(ctx(t))
			v := nonNil(t, "JSON200", check(t, "getVersion", 200, r, err).JSON200)
			minor := p.server.Version[:strings.LastIndex(p.server.Version, ".")]
			if v.Etcdserver != p.server.Version || v.Etcdcluster != minor+".0" || v.Storage != nil {
				t.Errorf("member %d: versions %+v, want server %s cluster %s.0", i, v, p.server.Version, minor)
			}
		}
	})

	t.Run("getHealth", func(t *testing.T) {
		for _, params := range []*generated.GetHealthParams{
			nil,
			{Serializable: ptr(true)},
			{Exclude: &[]string{"NOSPACE", "CORRUPT"}},
		} {
			r, err := c0.GetHealthWithResponse(ctx(t), params)
			check(t, "getHealth", 200, r, err)
			// text/plain: a string (HealthText) holding a JSON object.
			var h struct {
				Health string
				Reason *string
			}
			if err := json.Unmarshal(r.Body, &h); err != nil {
				t.Fatalf("health body %q: %v", r.Body, err)
			}
			if h.Health != "true" {
				t.Errorf("health %q", h.Health)
			}
			if is35 := strings.HasPrefix(p.server.Version, "3.5."); is35 != (h.Reason != nil) {
				t.Errorf("%s: reason %v", p.server, h.Reason)
			}
			if h.Reason != nil && *h.Reason != "" {
				t.Errorf("healthy member gives reason %q", *h.Reason)
			}
		}
	})

	t.Run("machines", func(t *testing.T) {
		r, err := c0.GetMachinesWithResponse(ctx(t))
		check(t, "getMachines", 200, r, err)
		got := strings.Split(string(r.Body), ", ")
		want := p.cluster.Endpoints()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("machines %q, want %q", r.Body, want)
		}
		h, err := c0.HeadMachinesWithResponse(ctx(t))
		check(t, "headMachines", 200, h, err)
		if len(h.Body) != 0 || h.HTTPResponse.ContentLength != int64(len(r.Body)) {
			t.Errorf("HEAD: body %q, Content-Length %d, want none and %d", h.Body, h.HTTPResponse.ContentLength, len(r.Body))
		}
	})

	t.Run("stats", func(t *testing.T) {
		var leaderID string
		// The leader may move between finding it and asking it; ask again
		// then, a bounded number of times.
		for attempt := 1; ; attempt++ {
			li := p.leaderIndex(t)
			fi := (li + 1) % 3
			ls, err := p.client(t, li).GetLeaderStatsWithResponse(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			fs, err := p.client(t, fi).GetLeaderStatsWithResponse(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if ls.StatusCode() != 200 || fs.StatusCode() != 403 {
				if attempt < 5 {
					t.Logf("leader moved during the probe (%s / %s); again", ls.Status(), fs.Status())
					continue
				}
				t.Fatalf("leader stats: leader %s %q, follower %s %q", ls.Status(), ls.Body, fs.Status(), fs.Body)
			}
			l := nonNil(t, "leader JSON200", ls.JSON200)
			leaderID = l.Leader
			if len(l.Followers) != 2 {
				t.Errorf("leader stats list %d followers, want 2", len(l.Followers))
			}
			for id, f := range l.Followers {
				if id == l.Leader || f.Counts.Success == 0 || f.Latency.Maximum < f.Latency.Minimum {
					t.Errorf("follower %s: %+v", id, f)
				}
			}
			if e := nonNil(t, "follower JSON403", fs.JSON403); e.Message != "not current leader" {
				t.Errorf("follower 403 message %q", e.Message)
			}

			self, err := p.client(t, li).GetSelfStatsWithResponse(ctx(t))
			st := nonNil(t, "JSON200", check(t, "getSelfStats leader", 200, self, err).JSON200)
			if st.State != "StateLeader" || st.Id != leaderID || st.LeaderInfo.Leader != leaderID || st.Name != p.cluster.Members()[li].Name {
				t.Errorf("leader self stats %+v (leader id %s)", st, leaderID)
			}
			self, err = p.client(t, fi).GetSelfStatsWithResponse(ctx(t))
			st = nonNil(t, "JSON200", check(t, "getSelfStats follower", 200, self, err).JSON200)
			if st.State != "StateFollower" || st.Id == leaderID || st.LeaderInfo.Leader != leaderID || st.RecvAppendRequestCnt == 0 || st.StartTime.IsZero() {
				t.Errorf("follower self stats %+v (leader id %s)", st, leaderID)
			}
			break
		}

		before, err := c0.GetStoreStatsWithResponse(ctx(t))
		b := nonNil(t, "JSON200", check(t, "getStoreStats", 200, before, err).JSON200)
		sr, err := c0.SetKeyWithFormdataBodyWithResponse(ctx(t), "probe-stats", generated.SetKeyForm{Value: ptr("1")})
		check(t, "setKey", 201, sr, err)
		after, err := c0.GetStoreStatsWithResponse(ctx(t))
		a := nonNil(t, "JSON200", check(t, "getStoreStats", 200, after, err).JSON200)
		if a.SetsSuccess != b.SetsSuccess+1 {
			t.Errorf("setsSuccess %d after one set, was %d", a.SetsSuccess, b.SetsSuccess)
		}
	})
}

// listMembers lists the members, checking the typed answer and header.
func listMembers(t *testing.T, c *generated.ClientWithResponses) []generated.Member {
	t.Helper()
	r, err := c.ListMembersWithResponse(ctx(t))
	l := nonNil(t, "JSON200", check(t, "listMembers", 200, r, err).JSON200)
	if r.Headers200 == nil || r.Headers200.XEtcdClusterId == nil || *r.Headers200.XEtcdClusterId == "" {
		t.Errorf("listMembers without X-Etcd-Cluster-Id")
	}
	return l.Members
}

func testMemberOps(t *testing.T, p *probe) {
	p.did("listMembers", "getLeader", "addMember", "updateMember", "deleteMember", "deleteMemberNamedLeader")
	c := p.client(t, 0)
	members := p.cluster.Members()

	listed := listMembers(t, c)
	if len(listed) != 3 {
		t.Fatalf("%d members listed", len(listed))
	}
	byName := map[string]generated.Member{}
	for _, m := range listed {
		byName[m.Name] = m
	}
	for _, m := range members {
		l, ok := byName[m.Name]
		if !ok || !slices.Equal(l.PeerURLs, []string{m.PeerURL}) || !slices.Equal(l.ClientURLs, []string{m.ClientURL}) || l.Id == "" {
			t.Errorf("member %s listed as %+v", m.Name, l)
		}
	}

	li := p.leaderIndex(t)
	lr, lerr := c.GetLeaderWithResponse(ctx(t))
	leader := nonNil(t, "JSON200", check(t, "getLeader", 200, lr, lerr).JSON200)
	if leader.Name != members[li].Name || leader.Id != byName[leader.Name].Id {
		t.Errorf("getLeader %+v, want %s", leader, members[li].Name)
	}

	// An existing member's peer URL: 409, nothing changes. etcd's strict
	// reconfiguration check answers 500 (before looking at the URL) until
	// every member has been connected for 5 s (etcdserver.HealthInterval), so
	// a fresh cluster is asked until it is past that.
	deadline := time.Now().Add(etcdtest.StartTimeout)
	var r *generated.AddMemberResponse
	var err error
	for {
		r, err = c.AddMemberWithResponse(ctx(t), generated.MemberPeerURLs{PeerURLs: []string{members[1].PeerURL}})
		if err != nil || r.StatusCode() != http.StatusInternalServerError || time.Now().After(deadline) {
			break
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if e := nonNil(t, "JSON409", check(t, "addMember existing URL", 409, r, err).JSON409); e.Message != "membership: peerURL exists" {
		t.Errorf("409 message %q", e.Message)
	}

	// A new (never started) member keeps quorum on a 3-member cluster.
	newURL := fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
	r, err = c.AddMemberWithResponse(ctx(t), generated.MemberPeerURLs{PeerURLs: []string{newURL}})
	added := nonNil(t, "JSON201", check(t, "addMember", 201, r, err).JSON201)
	if added.Id == "" || added.Name != "" || !slices.Equal(added.PeerURLs, []string{newURL}) || added.ClientURLs == nil || len(added.ClientURLs) != 0 {
		t.Errorf("added member %+v", added)
	}
	if r.Headers201 == nil || r.Headers201.XEtcdClusterId == nil {
		t.Error("addMember 201 without X-Etcd-Cluster-Id")
	}

	// The same URL again. 3.5 checks the id first (409); 3.4's strict
	// reconfiguration check refuses first, because the added member has not
	// started (500).
	r, err = c.AddMemberWithResponse(ctx(t), generated.MemberPeerURLs{PeerURLs: []string{newURL}})
	if strings.HasPrefix(p.server.Version, "3.4.") {
		if e := nonNil(t, "JSON500", check(t, "addMember again (3.4)", 500, r, err).JSON500); e.Message != "Internal Server Error" {
			t.Errorf("500 message %q", e.Message)
		}
	} else if e := nonNil(t, "JSON409", check(t, "addMember again", 409, r, err).JSON409); e.Message != "membership: ID exists" {
		t.Errorf("409 message %q", e.Message)
	}

	movedURL := fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
	u, err := c.UpdateMemberWithResponse(ctx(t), added.Id, generated.MemberPeerURLs{PeerURLs: []string{movedURL}})
	check(t, "updateMember", 204, u, err)
	if len(u.Body) != 0 || u.Headers204 == nil || u.Headers204.XEtcdClusterId == nil {
		t.Errorf("updateMember 204: body %q headers %+v", u.Body, u.Headers204)
	}
	u, err = c.UpdateMemberWithResponse(ctx(t), added.Id, generated.MemberPeerURLs{PeerURLs: []string{members[0].PeerURL}})
	if e := nonNil(t, "JSON409", check(t, "updateMember to a taken URL", 409, u, err).JSON409); e.Message != "membership: peerURL exists" {
		t.Errorf("409 message %q", e.Message)
	}
	u, err = c.UpdateMemberWithResponse(ctx(t), "1234", generated.MemberPeerURLs{PeerURLs: []string{movedURL}})
	if e := nonNil(t, "JSON404", check(t, "updateMember unknown", 404, u, err).JSON404); e.Message != "No such member: 1234" {
		t.Errorf("404 message %q", e.Message)
	}
	var found bool
	for _, m := range listMembers(t, c) {
		if m.Id == added.Id {
			found = true
			if !slices.Equal(m.PeerURLs, []string{movedURL}) {
				t.Errorf("updated member listed with %q", m.PeerURLs)
			}
		}
	}
	if !found {
		t.Errorf("added member %s not listed", added.Id)
	}

	d, err := c.DeleteMemberWithResponse(ctx(t), added.Id)
	check(t, "deleteMember", 204, d, err)
	if len(d.Body) != 0 || d.Headers204 == nil {
		t.Errorf("deleteMember 204: body %q", d.Body)
	}
	d, err = c.DeleteMemberWithResponse(ctx(t), added.Id)
	if e := nonNil(t, "JSON410", check(t, "deleteMember again", 410, d, err).JSON410); e.Message != "Member permanently removed: "+added.Id {
		t.Errorf("410 message %q", e.Message)
	}
	d, err = c.DeleteMemberWithResponse(ctx(t), "1234")
	if e := nonNil(t, "JSON404", check(t, "deleteMember unknown", 404, d, err).JSON404); e.Message != "No such member: 1234" {
		t.Errorf("404 message %q", e.Message)
	}
	var dl generated.HTTPError
	p.refused(t, "deleteMemberNamedLeader", http.MethodDelete, "/v2/members/leader", "", 404, &dl)
	if dl.Message != "No such member: leader" {
		t.Errorf("404 message %q", dl.Message)
	}
	if n := len(listMembers(t, c)); n != 3 {
		t.Errorf("%d members after the removal", n)
	}
}

func testAuthOps(t *testing.T, p *probe) {
	p.did("getAuthStatus", "enableAuth", "disableAuth", "listUsers", "getUser", "setUser", "deleteUser", "listRoles", "getRole", "setRole", "deleteRole")
	// One member for everything: it applies each write before answering,
	// so its reads see them.
	c := p.client(t, 0)
	const rootPW = "rootpw"
	asRoot := generated.RequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.SetBasicAuth("root", rootPW)
		return nil
	})
	wantMsg := func(t *testing.T, e *generated.HTTPError, msg string) {
		t.Helper()
		if e.Message != msg {
			t.Errorf("message %q, want %q", e.Message, msg)
		}
	}
	status := func(t *testing.T, want bool) {
		t.Helper()
		r, err := c.GetAuthStatusWithResponse(ctx(t))
		if s := nonNil(t, "JSON200", check(t, "getAuthStatus", 200, r, err).JSON200); s.Enabled != want {
			t.Errorf("auth enabled = %v, want %v", s.Enabled, want)
		}
	}

	status(t, false)
	lu, err := c.ListUsersWithResponse(ctx(t))
	if l := nonNil(t, "JSON200", check(t, "listUsers", 200, lu, err).JSON200); l.Users != nil || !strings.Contains(string(lu.Body), `"users":null`) {
		t.Errorf("listUsers with no user: %q", lu.Body)
	}
	gu, err := c.GetUserWithResponse(ctx(t), "root")
	wantMsg(t, nonNil(t, "JSON404", check(t, "getUser root", 404, gu, err).JSON404), "auth: User root does not exist.")
	en, err := c.EnableAuthWithResponse(ctx(t))
	wantMsg(t, nonNil(t, "JSON409", check(t, "enableAuth without root", 409, en, err).JSON409), "auth: No root user available, please create one")
	dis, err := c.DisableAuthWithResponse(ctx(t))
	wantMsg(t, nonNil(t, "JSON409", check(t, "disableAuth when off", 409, dis, err).JSON409), "auth: already disabled")

	// Users.
	pu, err := c.SetUserWithResponse(ctx(t), "root", generated.UserRequest{User: "root", Password: ptr(rootPW)})
	if u := nonNil(t, "JSON201", check(t, "setUser root", 201, pu, err).JSON201); u.User != "root" || u.Roles == nil || !slices.Equal(*u.Roles, []string{"root"}) {
		t.Errorf("root created as %+v", u)
	}
	pu, err = c.SetUserWithResponse(ctx(t), "root", generated.UserRequest{User: "root", Password: ptr(rootPW)})
	nonNil(t, "JSON200", check(t, "setUser root again", 200, pu, err).JSON200)
	pu, err = c.SetUserWithResponse(ctx(t), "alice", generated.UserRequest{User: "alice", Password: ptr("a")})
	if u := nonNil(t, "JSON201", check(t, "setUser alice", 201, pu, err).JSON201); u.User != "alice" || u.Roles != nil {
		t.Errorf("alice created as %+v", u)
	}
	gu, err = c.GetUserWithResponse(ctx(t), "alice")
	if u := nonNil(t, "JSON200", check(t, "getUser alice", 200, gu, err).JSON200); u.User != "alice" || u.Roles != nil {
		t.Errorf("getUser alice %+v", u)
	}

	// Roles.
	appRW := &generated.KVPermissions{Read: &[]string{"/app/*"}, Write: &[]string{"/app/*"}}
	pr, err := c.SetRoleWithResponse(ctx(t), "readers", generated.RoleRequest{Role: "readers", Permissions: &generated.Permissions{Kv: appRW}})
	if r := nonNil(t, "JSON201", check(t, "setRole create", 201, pr, err).JSON201); r.Role != "readers" || r.Permissions.Kv == nil || !slices.Equal(*r.Permissions.Kv.Read, []string{"/app/*"}) {
		t.Errorf("role created as %+v", r)
	}
	pr, err = c.SetRoleWithResponse(ctx(t), "readers", generated.RoleRequest{Role: "readers", Permissions: &generated.Permissions{Kv: appRW}})
	wantMsg(t, nonNil(t, "JSON409", check(t, "setRole again", 409, pr, err).JSON409), "auth: Role readers already exists.")
	pr, err = c.SetRoleWithResponse(ctx(t), "readers", generated.RoleRequest{Role: "readers", Grant: &generated.Permissions{Kv: &generated.KVPermissions{Read: &[]string{"/bar"}}}})
	if r := nonNil(t, "JSON200", check(t, "setRole grant", 200, pr, err).JSON200); !slices.Equal(*r.Permissions.Kv.Read, []string{"/app/*", "/bar"}) {
		t.Errorf("after grant: %+v", *r.Permissions.Kv)
	}
	pr, err = c.SetRoleWithResponse(ctx(t), "readers", generated.RoleRequest{Role: "readers", Revoke: &generated.Permissions{Kv: &generated.KVPermissions{Read: &[]string{"/bar"}}}})
	if r := nonNil(t, "JSON200", check(t, "setRole revoke", 200, pr, err).JSON200); !slices.Equal(*r.Permissions.Kv.Read, []string{"/app/*"}) {
		t.Errorf("after revoke: %+v", *r.Permissions.Kv)
	}
	pr, err = c.SetRoleWithResponse(ctx(t), "empty", generated.RoleRequest{Role: "empty"})
	if r := nonNil(t, "JSON201", check(t, "setRole without permissions", 201, pr, err).JSON201); r.Permissions.Kv == nil || r.Permissions.Kv.Read != nil || r.Permissions.Kv.Write != nil {
		t.Errorf("empty role %q", pr.Body)
	}
	pr, err = c.SetRoleWithResponse(ctx(t), "root", generated.RoleRequest{Role: "root", Grant: &generated.Permissions{Kv: &generated.KVPermissions{Read: &[]string{"/x"}}}})
	wantMsg(t, nonNil(t, "JSON403", check(t, "setRole root", 403, pr, err).JSON403), "auth: Cannot modify role root: is root role.")
	gr, err := c.GetRoleWithResponse(ctx(t), "readers")
	if r := nonNil(t, "JSON200", check(t, "getRole", 200, gr, err).JSON200); r.Role != "readers" || !slices.Equal(*r.Permissions.Kv.Write, []string{"/app/*"}) {
		t.Errorf("getRole %+v", r)
	}
	gr, err = c.GetRoleWithResponse(ctx(t), "nope")
	wantMsg(t, nonNil(t, "JSON404", check(t, "getRole missing", 404, gr, err).JSON404), "auth: Role nope does not exist.")
	lr, err := c.ListRolesWithResponse(ctx(t))
	var names []string
	for _, r := range nonNil(t, "JSON200", check(t, "listRoles", 200, lr, err).JSON200).Roles {
		names = append(names, r.Role)
	}
	if !slices.Equal(names, []string{"empty", "readers", "root"}) {
		t.Errorf("roles %q", names)
	}

	pu, err = c.SetUserWithResponse(ctx(t), "alice", generated.UserRequest{User: "alice", Grant: &[]string{"readers"}})
	if u := nonNil(t, "JSON200", check(t, "setUser grant", 200, pu, err).JSON200); u.Roles == nil || !slices.Equal(*u.Roles, []string{"readers"}) {
		t.Errorf("after grant %+v", u)
	}
	pu, err = c.SetUserWithResponse(ctx(t), "alice", generated.UserRequest{User: "alice", Grant: &[]string{"readers"}})
	wantMsg(t, nonNil(t, "JSON409", check(t, "setUser duplicate grant", 409, pu, err).JSON409), "auth: Granting duplicate role readers for user alice")
	pu, err = c.SetUserWithResponse(ctx(t), "ghost", generated.UserRequest{User: "ghost", Grant: &[]string{"readers"}})
	wantMsg(t, nonNil(t, "JSON404", check(t, "setUser grant to a missing user", 404, pu, err).JSON404), "auth: User ghost does not exist.")
	pu, err = c.SetUserWithResponse(ctx(t), "alice", generated.UserRequest{User: "alice", Password: ptr("a2")})
	nonNil(t, "JSON200", check(t, "setUser password change", 200, pu, err).JSON200)
	gu, err = c.GetUserWithResponse(ctx(t), "alice")
	if u := nonNil(t, "JSON200", check(t, "getUser alice", 200, gu, err).JSON200); u.Roles == nil || len(*u.Roles) != 1 || (*u.Roles)[0].Role != "readers" || (*u.Roles)[0].Permissions.Kv == nil {
		t.Errorf("getUser alice with role: %q", gu.Body)
	}
	lu, err = c.ListUsersWithResponse(ctx(t))
	var users []string
	for _, u := range *nonNil(t, "users", nonNil(t, "JSON200", check(t, "listUsers", 200, lu, err).JSON200).Users) {
		users = append(users, u.User)
	}
	if !slices.Equal(users, []string{"alice", "root"}) {
		t.Errorf("users %q", users)
	}

	// Enabling and disabling.
	en, err = c.EnableAuthWithResponse(ctx(t))
	check(t, "enableAuth", 200, en, err)
	if len(en.Body) != 0 || en.Headers200 == nil {
		t.Errorf("enableAuth 200: body %q", en.Body)
	}
	status(t, true)
	lu, err = c.ListUsersWithResponse(ctx(t))
	nonNil(t, "JSON401", check(t, "listUsers without credentials", 401, lu, err).JSON401)
	en, err = c.EnableAuthWithResponse(ctx(t), asRoot)
	wantMsg(t, nonNil(t, "JSON409", check(t, "enableAuth again", 409, en, err).JSON409), "auth: already enabled")
	ru, err := c.DeleteUserWithResponse(ctx(t), "root", asRoot)
	wantMsg(t, nonNil(t, "JSON403", check(t, "deleteUser root while enabled", 403, ru, err).JSON403), "auth: Cannot delete root user while auth is enabled.")
	dis, err = c.DisableAuthWithResponse(ctx(t))
	nonNil(t, "JSON401", check(t, "disableAuth without credentials", 401, dis, err).JSON401)
	dis, err = c.DisableAuthWithResponse(ctx(t), asRoot)
	check(t, "disableAuth", 200, dis, err)
	if len(dis.Body) != 0 || dis.Headers200 == nil {
		t.Errorf("disableAuth 200: body %q", dis.Body)
	}
	status(t, false)
	dis, err = c.DisableAuthWithResponse(ctx(t), asRoot)
	wantMsg(t, nonNil(t, "JSON409", check(t, "disableAuth again", 409, dis, err).JSON409), "auth: already disabled")

	// Clean up, through the documented error paths.
	ru, err = c.DeleteUserWithResponse(ctx(t), "alice")
	check(t, "deleteUser", 200, ru, err)
	ru, err = c.DeleteUserWithResponse(ctx(t), "alice")
	wantMsg(t, nonNil(t, "JSON404", check(t, "deleteUser again", 404, ru, err).JSON404), "auth: User alice does not exist")
	ru, err = c.DeleteUserWithResponse(ctx(t), "root")
	check(t, "deleteUser root", 200, ru, err)
	for _, role := range []string{"readers", "empty", "guest"} {
		rr, err := c.DeleteRoleWithResponse(ctx(t), role)
		check(t, "deleteRole "+role, 200, rr, err)
		if len(rr.Body) != 0 || rr.Headers200 == nil {
			t.Errorf("deleteRole 200: body %q", rr.Body)
		}
	}
	rr, err := c.DeleteRoleWithResponse(ctx(t), "readers")
	wantMsg(t, nonNil(t, "JSON404", check(t, "deleteRole again", 404, rr, err).JSON404), "auth: Role readers doesn't exist.")
	rr, err = c.DeleteRoleWithResponse(ctx(t), "root")
	wantMsg(t, nonNil(t, "JSON403", check(t, "deleteRole root", 403, rr, err).JSON403), "auth: Cannot modify role root: is root role.")
	lu, err = c.ListUsersWithResponse(ctx(t))
	if nonNil(t, "JSON200", check(t, "listUsers", 200, lu, err).JSON200).Users != nil {
		t.Errorf("users left: %q", lu.Body)
	}
}

// keyHeaders checks the index headers of a keys success answer.
func keyHeaders(t *testing.T, what string, clusterID *string, etcdIndex, raftIndex, raftTerm *uint64) {
	t.Helper()
	if clusterID == nil || *clusterID == "" || etcdIndex == nil || *etcdIndex == 0 || raftIndex == nil || *raftIndex == 0 || raftTerm == nil || *raftTerm == 0 {
		t.Errorf("%s: index headers not all filled", what)
	}
}

func testKeyOps(t *testing.T, p *probe) {
	p.did("getKeysRoot", "headKeysRoot", "createInOrderKeysRoot",
		"getKey", "headKey", "setKey", "deleteKey", "createInOrderKey")
	c := p.client(t, 1) // a follower or the leader: both serve everything

	s, err := c.SetKeyWithFormdataBodyWithResponse(ctx(t), "probe-k", generated.SetKeyForm{Value: ptr("v")})
	created := nonNil(t, "JSON201", check(t, "setKey", 201, s, err).JSON201)
	if created.Action != generated.Set || *created.Node.Key != "/probe-k" || *created.Node.Value != "v" || created.PrevNode != nil {
		t.Errorf("setKey: %q", s.Body)
	}
	h := s.Headers201
	keyHeaders(t, "setKey 201", h.XEtcdClusterId, h.XEtcdIndex, h.XRaftIndex, h.XRaftTerm)
	s, err = c.SetKeyWithFormdataBodyWithResponse(ctx(t), "probe-k", generated.SetKeyForm{Value: ptr("w"), PrevValue: ptr("v")})
	if ev := nonNil(t, "JSON200", check(t, "setKey CAS", 200, s, err).JSON200); ev.Action != generated.CompareAndSwap || *ev.PrevNode.Value != "v" {
		t.Errorf("setKey CAS: %q", s.Body)
	}
	s, err = c.SetKeyWithFormdataBodyWithResponse(ctx(t), "probe-k", generated.SetKeyForm{Value: ptr("x"), PrevExist: ptr(false)})
	if e := nonNil(t, "JSON412", check(t, "setKey create existing", 412, s, err).JSON412); e.ErrorCode != 105 {
		t.Errorf("412: %q", s.Body)
	}

	g, err := c.GetKeyWithResponse(ctx(t), "probe-k", nil)
	if ev := nonNil(t, "JSON200", check(t, "getKey", 200, g, err).JSON200); ev.Action != generated.Get || *ev.Node.Value != "w" {
		t.Errorf("getKey: %q", g.Body)
	}
	keyHeaders(t, "getKey 200", g.Headers200.XEtcdClusterId, g.Headers200.XEtcdIndex, g.Headers200.XRaftIndex, g.Headers200.XRaftTerm)
	// A watch from the index of the first write answers at once with it.
	g, err = c.GetKeyWithResponse(ctx(t), "probe-k", &generated.GetKeyParams{Wait: ptr(true), WaitIndex: created.Node.ModifiedIndex})
	if ev := nonNil(t, "JSON200", check(t, "getKey watch", 200, g, err).JSON200); ev.Action != generated.Set || *ev.Node.ModifiedIndex != *created.Node.ModifiedIndex {
		t.Errorf("watch replay: %q", g.Body)
	}
	g, err = c.GetKeyWithResponse(ctx(t), "probe-missing", nil)
	if e := nonNil(t, "JSON404", check(t, "getKey missing", 404, g, err).JSON404); e.ErrorCode != 100 || *e.Cause != "/probe-missing" {
		t.Errorf("404: %q", g.Body)
	}

	hk, err := c.HeadKeyWithResponse(ctx(t), "probe-k", nil)
	check(t, "headKey", 200, hk, err)
	if len(hk.Body) != 0 || hk.HTTPResponse.ContentLength <= 0 {
		t.Errorf("headKey: body %q, Content-Length %d", hk.Body, hk.HTTPResponse.ContentLength)
	}
	keyHeaders(t, "headKey 200", hk.Headers200.XEtcdClusterId, hk.Headers200.XEtcdIndex, hk.Headers200.XRaftIndex, hk.Headers200.XRaftTerm)
	hk, err = c.HeadKeyWithResponse(ctx(t), "probe-missing", nil)
	check(t, "headKey missing", 404, hk, err)
	if hk.Headers404 == nil || hk.Headers404.XEtcdIndex == nil || *hk.Headers404.XEtcdIndex == 0 {
		t.Errorf("headKey 404 without X-Etcd-Index")
	}

	gr, err := c.GetKeysRootWithResponse(ctx(t), &generated.GetKeysRootParams{Sorted: ptr(true), Recursive: ptr(true)})
	root := nonNil(t, "JSON200", check(t, "getKeysRoot", 200, gr, err).JSON200)
	if root.Action != generated.Get || root.Node == nil || root.Node.Key != nil || root.Node.Dir == nil || !*root.Node.Dir || root.Node.Nodes == nil {
		t.Fatalf("root listing: %q", gr.Body)
	}
	var keys []string
	for _, n := range *root.Node.Nodes {
		keys = append(keys, *n.Key)
	}
	if !slices.Contains(keys, "/probe-k") || !slices.IsSorted(keys) {
		t.Errorf("root keys %q", keys)
	}
	keyHeaders(t, "getKeysRoot 200", gr.Headers200.XEtcdClusterId, gr.Headers200.XEtcdIndex, gr.Headers200.XRaftIndex, gr.Headers200.XRaftTerm)
	hr, err := c.HeadKeysRootWithResponse(ctx(t), nil)
	check(t, "headKeysRoot", 200, hr, err)
	if len(hr.Body) != 0 {
		t.Errorf("headKeysRoot body %q", hr.Body)
	}
	keyHeaders(t, "headKeysRoot 200", hr.Headers200.XEtcdClusterId, hr.Headers200.XEtcdIndex, hr.Headers200.XRaftIndex, hr.Headers200.XRaftTerm)

	// The root is read only: no generated function, but the contract
	// transport still checks the answers against x-always-refused.
	for _, form := range []string{"value=x", "value=x&dir=true"} {
		var e generated.KeyError
		p.refused(t, "setKeysRoot", http.MethodPut, "/v2/keys", form, 400, &e)
		if e.ErrorCode != 107 || e.Message != "Root is read only" || e.Cause == nil || *e.Cause != "/" || e.Index == nil || *e.Index == 0 {
			t.Errorf("setKeysRoot %s: %+v", form, e)
		}
	}
	for _, query := range []string{"", "?recursive=true", "?dir=true"} {
		var e generated.KeyError
		p.refused(t, "deleteKeysRoot", http.MethodDelete, "/v2/keys"+query, "", 400, &e)
		if e.ErrorCode != 107 || e.Cause == nil || *e.Cause != "/" {
			t.Errorf("deleteKeysRoot %s: %+v", query, e)
		}
	}

	cr, err := c.CreateInOrderKeysRootWithFormdataBodyWithResponse(ctx(t), generated.CreateInOrderForm{Value: ptr("rootq")})
	ev := nonNil(t, "JSON201", check(t, "createInOrderKeysRoot", 201, cr, err).JSON201)
	if ev.Action != generated.Create || *ev.Node.Key != fmt.Sprintf("/%020d", *ev.Node.CreatedIndex) || *ev.Node.Value != "rootq" {
		t.Errorf("createInOrderKeysRoot: %q", cr.Body)
	}
	rootKey := strings.TrimPrefix(*ev.Node.Key, "/")
	ck, err := c.CreateInOrderKeyWithFormdataBodyWithResponse(ctx(t), "probe-q", generated.CreateInOrderForm{Value: ptr("job"), Ttl: ptr(uint64(60))})
	ev = nonNil(t, "JSON201", check(t, "createInOrderKey", 201, ck, err).JSON201)
	if *ev.Node.Key != fmt.Sprintf("/probe-q/%020d", *ev.Node.CreatedIndex) || ev.Node.Ttl == nil || *ev.Node.Ttl > 60 || ev.Node.Expiration == nil {
		t.Errorf("createInOrderKey: %q", ck.Body)
	}
	ck, err = c.CreateInOrderKeyWithFormdataBodyWithResponse(ctx(t), "probe-k", generated.CreateInOrderForm{Value: ptr("x")})
	if e := nonNil(t, "JSON400", check(t, "createInOrderKey under a file", 400, ck, err).JSON400); e.ErrorCode != 104 {
		t.Errorf("createInOrderKey under a file: %q", ck.Body)
	}

	dk, err := c.DeleteKeyWithResponse(ctx(t), rootKey, nil)
	if ev := nonNil(t, "JSON200", check(t, "deleteKey", 200, dk, err).JSON200); ev.Action != generated.Delete || *ev.PrevNode.Value != "rootq" {
		t.Errorf("deleteKey: %q", dk.Body)
	}
	dk, err = c.DeleteKeyWithResponse(ctx(t), "probe-q", &generated.DeleteKeyParams{Recursive: ptr(true)})
	nonNil(t, "JSON200", check(t, "deleteKey recursive", 200, dk, err).JSON200)
	dk, err = c.DeleteKeyWithResponse(ctx(t), "probe-k", &generated.DeleteKeyParams{PrevValue: ptr("nope")})
	if e := nonNil(t, "JSON412", check(t, "deleteKey CAD", 412, dk, err).JSON412); e.ErrorCode != 101 {
		t.Errorf("deleteKey CAD: %q", dk.Body)
	}
	dk, err = c.DeleteKeyWithResponse(ctx(t), rootKey, nil)
	if e := nonNil(t, "JSON404", check(t, "deleteKey missing", 404, dk, err).JSON404); e.ErrorCode != 100 {
		t.Errorf("deleteKey missing: %q", dk.Body)
	}
}
