package members

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// httpStatus returns the HTTP status an error carries, or 0.
func httpStatus(err error) int {
	var he *client.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

// TestMembership runs, on one 3-member cluster per server version: status
// reads of a healthy cluster, refused changes (404, 409, 410 and local
// validation), the life of a fourth member (add, start as a real process,
// move its peer URL, remove), and Leader while two of three members are
// dead. List and Leader must agree with every server at each step.
func TestMembership(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			// Each version has its own cluster; they overlap their waits.
			t.Parallel()
			began := time.Now()
			cl := etcdtest.StartCluster(t, s, 3)
			c, tr := clienttest.New(t, cl.Endpoints(), client.Config{HeaderTimeoutPerRequest: 10 * time.Second})
			raw := &http.Client{Transport: tr}
			mapi := client.NewMembersAPI(c)
			ctx := t.Context()
			// The founding members; the fourth comes and goes.
			founders := cl.Endpoints()

			var list []client.Member
			var leader *client.Member
			etcdtest.WaitFor(t, "List and Leader to agree with the servers", func() (err error) {
				list, leader, err = agree(ctx, mapi, raw, founders)
				return err
			})
			if len(list) != 3 {
				t.Fatalf("List = %v, want 3 members", list)
			}
			if li := cl.LeaderIndex(); cl.Members()[li].Name != leader.Name {
				t.Errorf("Leader = %s, the harness sees %s", leader.Name, cl.Members()[li].Name)
			}

			t.Run("status", func(t *testing.T) { testStatus(t, s, c, list, leader) })
			t.Run("refused", func(t *testing.T) { testRefused(t, cl, mapi, tr, list) })
			t.Run("lifecycle", func(t *testing.T) { testLifecycle(t, cl, c, mapi, raw, founders) })
			t.Run("election", func(t *testing.T) { testElection(t, s, cl, c, mapi, raw, founders) })
			checkContract(t, tr)
			t.Logf("%s: %v", s, time.Since(began).Round(time.Millisecond))
		})
	}
}

// testStatus reads versions, health, stats and machines of a healthy
// cluster through every kind of StatusAPI.
func testStatus(t *testing.T, s etcdtest.Server, c client.Client, list []client.Member, leader *client.Member) {
	ctx := t.Context()
	st := client.NewStatusAPI(c)
	wantCluster := strings.Join(strings.Split(s.Version, ".")[:2], ".") + ".0"

	v, err := st.Version(ctx)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if v.Server != s.Version || v.Cluster != wantCluster || !slices.Contains(c.Endpoints(), v.Endpoint) {
		t.Errorf("Version = %+v, want server %s, cluster %s from one of %v", v, s.Version, wantCluster, c.Endpoints())
	}

	machines, err := st.Machines(ctx)
	if err != nil {
		t.Fatalf("Machines: %v", err)
	}
	want := c.Endpoints()
	slices.Sort(want)
	slices.Sort(machines)
	if !slices.Equal(machines, want) {
		t.Errorf("Machines = %q, want %q", machines, want)
	}

	health := client.StatusOfEach(ctx, c, client.StatusAPI.Health)
	if len(health) != 3 {
		t.Errorf("StatusOfEach(Health) answered for %d members, want 3", len(health))
	}
	for ep, r := range health {
		if r.Err != nil || !r.Value.Healthy || r.Value.Reason != "" || r.Value.Endpoint != ep {
			t.Errorf("Health of %s = %+v, %v; want healthy, no reason", ep, r.Value, r.Err)
		}
	}
	if h, err := st.Health(ctx); err != nil || !h.Healthy {
		t.Errorf("Health (any member) = %+v, %v", h, err)
	}

	byClientURL := map[string]client.Member{}
	for _, m := range list {
		for _, u := range m.ClientURLs {
			byClientURL[u] = m
		}
	}
	// Stats follow raft, which may still be settling right after start.
	etcdtest.WaitFor(t, "self stats to agree with the member list", func() error {
		leaders := 0
		for ep, r := range client.StatusOfEach(ctx, c, client.StatusAPI.SelfStats) {
			if r.Err != nil {
				return r.Err
			}
			self, m := r.Value, byClientURL[ep]
			if self.Endpoint != ep || self.Name != m.Name || self.ID != m.ID || self.StartTime.IsZero() {
				return fmt.Errorf("SelfStats of %s = %+v, want member %+v", ep, self, m)
			}
			if self.LeaderInfo.Leader != leader.ID || self.LeaderInfo.Uptime <= 0 {
				return fmt.Errorf("SelfStats of %s: leader info %+v, want leader %s", ep, self.LeaderInfo, leader.ID)
			}
			if self.State == "StateLeader" {
				leaders++
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d members say StateLeader", leaders)
		}
		return nil
	})

	ls, err := st.LeaderStats(ctx)
	if err != nil {
		t.Fatalf("LeaderStats (any member): %v", err)
	}
	if ls.Leader != leader.ID || !slices.Contains(leader.ClientURLs, ls.Endpoint) || len(ls.Followers) != 2 {
		t.Errorf("LeaderStats = %+v, want the leader %s answering with 2 followers", ls, leader.ID)
	}
	for id, f := range ls.Followers {
		if id == leader.ID || !slices.ContainsFunc(list, func(m client.Member) bool { return m.ID == id }) {
			t.Errorf("LeaderStats lists follower %s, not a follower in %v", id, list)
		}
		if f.Success == 0 || f.Latency.Maximum < f.Latency.Minimum || f.Latency.Maximum > time.Minute {
			t.Errorf("follower %s: %+v, want successes and sane latencies", id, f)
		}
	}
	for _, m := range list {
		if m.ID == leader.ID {
			continue
		}
		follower, err := client.NewMemberStatusAPI(c, m.ClientURLs[0])
		if err != nil {
			t.Fatal(err)
		}
		_, err = follower.LeaderStats(ctx)
		if !client.IsNotLeader(err) || httpStatus(err) != http.StatusForbidden {
			t.Errorf("LeaderStats of follower %s: %v, want a 403 for which IsNotLeader holds", m.Name, err)
		}
	}

	for ep, r := range client.StatusOfEach(ctx, c, client.StatusAPI.StoreStats) {
		if r.Err != nil {
			t.Errorf("StoreStats of %s: %v", ep, r.Err)
			continue
		}
		if r.Value.Endpoint != ep || r.Value.SetsSuccess+r.Value.CreateSuccess+r.Value.GetsSuccess+r.Value.GetsFail == 0 {
			t.Errorf("StoreStats of %s = %+v, want counters of the server's own work", ep, r.Value)
		}
	}
	for ep, r := range client.StatusOfEach(ctx, c, client.StatusAPI.Version) {
		if r.Err != nil || r.Value.Server != s.Version || r.Value.Endpoint != ep {
			t.Errorf("Version of %s = %+v, %v", ep, r.Value, r.Err)
		}
	}

	if _, err := client.NewMemberStatusAPI(c, "127.0.0.1:2379"); err == nil {
		t.Error("NewMemberStatusAPI accepted an endpoint without a scheme")
	}
}

// testRefused checks what the client refuses before sending and the
// server's typed refusals: 404 for unknown ids, 409 for taken peer URLs.
func testRefused(t *testing.T, cl *etcdtest.Cluster, mapi client.MembersAPI, tr *clienttest.Transport, list []client.Member) {
	ctx := t.Context()
	before := tr.Exchanges()
	for _, bad := range []string{
		"", "not a url", "127.0.0.1:2380", "ftp://127.0.0.1:2380", "http://127.0.0.1",
		"http://127.0.0.1:2380/", "http://127.0.0.1:2380/path", "http://user:secretpw@127.0.0.1:2380",
		"http://127.0.0.1:2380?x=1", "http://127.0.0.1:2380#f",
	} {
		if _, err := mapi.Add(ctx, bad); err == nil {
			t.Errorf("Add(%q) was accepted", bad)
		} else if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("Add(%q): the error shows the URL's password: %v", bad, err)
		}
		if err := mapi.Update(ctx, list[0].ID, []string{bad}); err == nil {
			t.Errorf("Update(%q) was accepted", bad)
		}
	}
	if err := mapi.Update(ctx, list[0].ID, nil); err == nil {
		t.Error("Update without peer URLs was accepted")
	}
	for _, id := range []string{"", "leader", "0x12", "zzz", "12/34"} {
		if err := mapi.Remove(ctx, id); err == nil {
			t.Errorf("Remove(%q) was accepted", id)
		}
	}
	if n := tr.Exchanges() - before; n != 0 {
		t.Errorf("%d requests were sent for input the client should refuse", n)
	}

	// etcd's strict reconfiguration check refuses every add with a bare
	// 500 until all members have been connected for 5 s (HealthInterval),
	// before it looks at the URL; nothing is applied then, so asking again
	// is safe.
	etcdtest.WaitFor(t, "a 409 for an add of a member's peer URL", func() error {
		_, err := mapi.Add(ctx, cl.Members()[1].PeerURL)
		if client.IsMemberExists(err) && httpStatus(err) == http.StatusConflict && !client.IsOutcomeUnknown(err) {
			return nil
		}
		if client.IsOutcomeUnknown(err) && httpStatus(err) == http.StatusInternalServerError {
			return err
		}
		t.Fatalf("Add of a member's peer URL: %v, want a 409 for which IsMemberExists holds", err)
		return nil
	})
	err := mapi.Update(ctx, list[0].ID, list[1].PeerURLs)
	if !client.IsMemberExists(err) || httpStatus(err) != http.StatusConflict {
		t.Errorf("Update to another member's peer URL: %v, want a 409 for which IsMemberExists holds", err)
	}
	err = mapi.Remove(ctx, "abcdef0123456")
	if !client.IsMemberNotFound(err) || httpStatus(err) != http.StatusNotFound || client.IsMemberRemoved(err) {
		t.Errorf("Remove of an unknown id: %v, want a 404 for which IsMemberNotFound holds", err)
	}
	err = mapi.Update(ctx, "abcdef0123456", []string{fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))})
	if !client.IsMemberNotFound(err) || httpStatus(err) != http.StatusNotFound {
		t.Errorf("Update of an unknown id: %v, want a 404 for which IsMemberNotFound holds", err)
	}
	if got, err := mapi.List(ctx); err != nil || len(got) != 3 {
		t.Errorf("after the refusals List = %v, %v; want the 3 members", got, err)
	}
}

// testLifecycle adds a fourth member, starts it, moves its peer URL and
// removes it; List and Leader must agree with the founding members at each
// step (the fourth member cannot be asked once its peer URL has moved: it
// still listens on the old one and is cut off).
func testLifecycle(t *testing.T, cl *etcdtest.Cluster, c client.Client, mapi client.MembersAPI, raw *http.Client, founders []string) {
	ctx := t.Context()
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
	// Right after a start etcd refuses adds with a bare 500 for a few
	// seconds (see testRefused); the client reports that as an unknown
	// outcome, and List tells whether to ask again.
	var added *client.Member
	etcdtest.WaitFor(t, "Add to be accepted", func() error {
		m, err := mapi.Add(ctx, peerURL)
		if err == nil {
			added = m
			return nil
		}
		if !client.IsOutcomeUnknown(err) {
			t.Fatalf("Add(%s): %v", peerURL, err)
		}
		list, lerr := mapi.List(ctx)
		if lerr != nil {
			return lerr
		}
		if slices.ContainsFunc(list, func(m client.Member) bool { return slices.Contains(m.PeerURLs, peerURL) }) {
			t.Fatalf("Add(%s) reported %v but was applied", peerURL, err)
		}
		return err
	})
	if added.ID == "" || !slices.Equal(added.PeerURLs, []string{peerURL}) || added.Name != "" || len(added.ClientURLs) != 0 {
		t.Errorf("Add = %+v, want a new id, the peer URL, no name and no client URLs yet", added)
	}
	etcdtest.WaitFor(t, "the unstarted member in every list", func() error {
		list, _, err := agree(ctx, mapi, raw, founders)
		if err != nil {
			return err
		}
		m := memberByID(list, added.ID)
		if len(list) != 4 || m == nil || m.Name != "" || len(m.ClientURLs) != 0 {
			return fmt.Errorf("list %+v lacks the unstarted member %s", list, added.ID)
		}
		return nil
	})

	proc := cl.AddMemberProcess("added", peerURL, "")
	etcdtest.WaitFor(t, "the started member in every list", func() error {
		list, _, err := agree(ctx, mapi, raw, append(slices.Clone(founders), proc.ClientURL))
		if err != nil {
			return err
		}
		m := memberByID(list, added.ID)
		if m == nil || m.Name != "added" || !slices.Equal(m.ClientURLs, []string{proc.ClientURL}) {
			return fmt.Errorf("the started member is listed as %+v", m)
		}
		return nil
	})
	st := client.NewStatusAPI(c)
	etcdtest.WaitFor(t, "the new member in Machines", func() error {
		machines, err := st.Machines(ctx)
		if err != nil || !slices.Contains(machines, proc.ClientURL) || len(machines) != 4 {
			return fmt.Errorf("Machines = %v, %v; want 4 with %s", machines, err, proc.ClientURL)
		}
		return nil
	})
	if h, err := mustMemberStatus(t, c, proc.ClientURL).Health(ctx); err != nil || !h.Healthy {
		t.Errorf("Health of the new member = %+v, %v", h, err)
	}

	movedURL := fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
	if err := mapi.Update(ctx, added.ID, []string{movedURL}); err != nil {
		t.Fatalf("Update(%s, %s): %v", added.ID, movedURL, err)
	}
	etcdtest.WaitFor(t, "the moved peer URL in every list", func() error {
		list, _, err := agree(ctx, mapi, raw, founders)
		if err != nil {
			return err
		}
		if m := memberByID(list, added.ID); m == nil || !slices.Equal(m.PeerURLs, []string{movedURL}) {
			return fmt.Errorf("the member is listed as %+v, want peer URL %s", m, movedURL)
		}
		return nil
	})

	if err := mapi.Remove(ctx, added.ID); err != nil {
		t.Fatalf("Remove(%s): %v", added.ID, err)
	}
	etcdtest.WaitFor(t, "the removal in every list", func() error {
		list, _, err := agree(ctx, mapi, raw, founders)
		if err != nil {
			return err
		}
		if len(list) != 3 || memberByID(list, added.ID) != nil {
			return fmt.Errorf("list after removal: %+v", list)
		}
		return nil
	})
	// A removed member stops once it learns of its removal; this one may
	// never hear of it, being cut off, so it is stopped here.
	cl.Kill(slices.IndexFunc(cl.Members(), func(m *etcdtest.Member) bool { return m == proc }))

	err := mapi.Remove(ctx, added.ID)
	if !client.IsMemberRemoved(err) || httpStatus(err) != http.StatusGone || client.IsMemberNotFound(err) {
		t.Errorf("second Remove: %v, want a 410 for which IsMemberRemoved holds", err)
	}
}

func mustMemberStatus(t *testing.T, c client.Client, ep string) client.StatusAPI {
	t.Helper()
	st, err := client.NewMemberStatusAPI(c, ep)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testElection kills two of the three members: the survivor has no leader,
// which Leader reports as a typed error at once; health and leader stats of
// the survivor say so too. Then the two come back and a leader is elected.
func testElection(t *testing.T, s etcdtest.Server, cl *etcdtest.Cluster, c client.Client, mapi client.MembersAPI, raw *http.Client, founders []string) {
	ctx := t.Context()
	cl.Kill(1)
	cl.Kill(2)
	var noLeader error
	etcdtest.WaitFor(t, "the survivor to lose its leader", func() error {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := mapi.Leader(lctx)
		if client.IsNoLeader(err) {
			noLeader = err
			return nil
		}
		return fmt.Errorf("Leader: %v", err)
	})
	if !errors.Is(noLeader, client.ErrNoLeader) || httpStatus(noLeader) != http.StatusServiceUnavailable || !strings.Contains(noLeader.Error(), "no leader") {
		t.Errorf("Leader without quorum: %v; want an error wrapping ErrNoLeader and the 503", noLeader)
	}

	survivor := mustMemberStatus(t, c, founders[0])
	h, err := survivor.Health(ctx)
	if err != nil || h.Healthy || h.Endpoint != founders[0] {
		t.Errorf("Health of the survivor = %+v, %v; want unhealthy", h, err)
	}
	if err == nil && strings.HasPrefix(s.Version, "3.5") && h.Reason == "" {
		t.Errorf("Health of the survivor on %s has no reason", s)
	}
	if _, err := survivor.LeaderStats(ctx); !client.IsNotLeader(err) {
		t.Errorf("LeaderStats of the survivor: %v, want IsNotLeader", err)
	}
	if _, err := client.NewStatusAPI(c).LeaderStats(ctx); !client.IsNotLeader(err) {
		t.Errorf("LeaderStats (any member) without a leader: %v, want IsNotLeader", err)
	}
	for ep, r := range client.StatusOfEach(ctx, c, client.StatusAPI.Health) {
		switch {
		case ep == founders[0] && (r.Err != nil || r.Value.Healthy):
			t.Errorf("Health of the survivor %s = %+v, %v", ep, r.Value, r.Err)
		case ep != founders[0] && r.Err == nil:
			t.Errorf("Health of the dead member %s = %+v, want an error", ep, r.Value)
		}
	}
	// Reads of the membership are answered locally, leader or not.
	if list, err := mapi.List(ctx); err != nil || len(list) != 3 {
		t.Errorf("List without quorum = %v, %v", list, err)
	}

	cl.Restart(1)
	cl.Restart(2)
	wctx, cancel := context.WithTimeout(ctx, etcdtest.StartTimeout)
	defer cancel()
	if _, err := cl.WaitLeader(wctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitHealthy(wctx); err != nil {
		t.Fatal(err)
	}
	etcdtest.WaitFor(t, "List and Leader to agree after the election", func() error {
		_, _, err := agree(ctx, mapi, raw, founders)
		return err
	})
}
