package client

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHealthIsAnAnswerEvenWhenUnhealthy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  route
		healthy bool
		reason  string
		err     bool
	}{
		{"3.4 healthy", route{200, `{"health":"true"}`}, true, "", false},
		{"3.5 healthy", route{200, `{"health":"true","reason":""}`}, true, "", false},
		{"3.4 no leader", route{503, `{"health":"false"}` + "\n"}, false, "", false},
		{"3.5 no leader", route{503, `{"health":"false","reason":"RAFT NO LEADER"}`}, false, "RAFT NO LEADER", false},
		{"not etcd", route{503, `<html>busy</html>`}, false, "", true},
		{"404", route{404, `404 page not found`}, false, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEtcd(t, map[string]route{"GET /health": tc.answer})
			c := newTestClient(t, Config{Username: "u", Password: "Secret-pw"}, f.endpoint())
			for _, st := range []StatusAPI{NewStatusAPI(c), mustBind(t, c, f.endpoint())} {
				h, err := st.Health(context.Background())
				if tc.err {
					if err == nil {
						t.Errorf("Health = %+v, want an error", h)
					}
					continue
				}
				if err != nil || h.Healthy != tc.healthy || h.Reason != tc.reason || h.Endpoint != f.endpoint() {
					t.Errorf("Health = %+v, %v; want healthy=%v reason=%q from %s", h, err, tc.healthy, tc.reason, f.endpoint())
				}
			}
			if a := f.lastAuth(); !strings.HasPrefix(a, "Basic ") {
				t.Errorf("status calls carry no credentials (Authorization %q)", a)
			}
		})
	}
}

func mustBind(t *testing.T, c Client, ep string) StatusAPI {
	t.Helper()
	st, err := NewMemberStatusAPI(c, ep)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestLeaderStatsFindsTheLeader(t *testing.T) {
	notLeader := route{403, `{"message":"not current leader"}`}
	f1 := newFakeEtcd(t, map[string]route{"GET /v2/stats/leader": notLeader})
	f2 := newFakeEtcd(t, map[string]route{"GET /v2/stats/leader": {200, `{"leader":"a1","followers":{"b2":{"latency":{"current":0.5,"average":1.25,"standardDeviation":0.1,"minimum":0.25,"maximum":2},"counts":{"fail":1,"success":7}},"c3":{"latency":{"current":0,"average":0,"standardDeviation":0,"minimum":9223372036854775807,"maximum":0},"counts":{"fail":0,"success":0}}}}`}})
	c := newTestClient(t, Config{}, f1.endpoint(), f2.endpoint())

	ls, err := NewStatusAPI(c).LeaderStats(context.Background())
	if err != nil || ls.Endpoint != f2.endpoint() || ls.Leader != "a1" || len(ls.Followers) != 2 {
		t.Fatalf("LeaderStats = %+v, %v; want the second member's answer", ls, err)
	}
	b2 := ls.Followers["b2"]
	if b2.Success != 7 || b2.Fail != 1 || b2.Latency.Current != 500*time.Microsecond || b2.Latency.Average != 1250*time.Microsecond ||
		b2.Latency.Minimum != 250*time.Microsecond || b2.Latency.Maximum != 2*time.Millisecond {
		t.Errorf("follower b2 = %+v; latencies are milliseconds on the wire", b2)
	}
	if c3 := ls.Followers["c3"]; c3.Latency.Minimum != 0 {
		t.Errorf("follower c3 without successes has Minimum %v, want 0", c3.Latency.Minimum)
	}

	_, err = mustBind(t, c, f1.endpoint()).LeaderStats(context.Background())
	if !IsNotLeader(err) {
		t.Errorf("LeaderStats of a follower: %v, want IsNotLeader", err)
	}
	only := newTestClient(t, Config{}, f1.endpoint())
	if _, err := NewStatusAPI(only).LeaderStats(context.Background()); !IsNotLeader(err) {
		t.Errorf("LeaderStats with no leader among the endpoints: %v, want IsNotLeader", err)
	}
}

func TestMemberStatusAPIAsksOnlyItsMember(t *testing.T) {
	dead := deadEndpoint(t)
	live := newFakeEtcd(t, map[string]route{"GET /version": {200, `{"etcdserver":"3.5.35","etcdcluster":"3.5.0"}`}})
	var logged strings.Builder
	logger := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, Config{Logger: logger}, dead, live.endpoint())

	_, err := mustBind(t, c, dead).Version(context.Background())
	var ee *EndpointError
	if !errors.As(err, &ee) || ee.Endpoint != dead {
		t.Errorf("Version of a dead member: %v, want an *EndpointError naming it", err)
	}
	if n := live.hits.Load(); n != 0 {
		t.Errorf("the bound API asked another member %d times", n)
	}
	v, err := NewStatusAPI(c).Version(context.Background())
	if err != nil || v.Server != "3.5.35" || v.Cluster != "3.5.0" || v.Endpoint != live.endpoint() {
		t.Errorf("Version (any member) = %+v, %v; want the live member's answer", v, err)
	}
	h, err := NewStatusAPI(c).Health(context.Background())
	if err == nil {
		t.Errorf("Health = %+v, want an error: the live fake has no /health", h)
	}
	if _, err := NewMemberStatusAPI(c, "h:2379"); err == nil {
		t.Error("NewMemberStatusAPI accepted an endpoint without a scheme")
	}
	if out := logged.String(); !strings.Contains(out, `op="get version" endpoint=`+dead) || !strings.Contains(out, "status=200") {
		t.Errorf("status attempts are not logged like the others:\n%s", out)
	}
}

func TestStatusDecoding(t *testing.T) {
	f := newFakeEtcd(t, map[string]route{
		"GET /v2/machines":    {200, `http://127.0.0.1:2379, http://127.0.0.2:2379`},
		"GET /v2/stats/self":  {200, `{"name":"n1","id":"2e1259d415f2a040","state":"StateLeader","startTime":"2026-11-29T04:21:22.680626466Z","leaderInfo":{"leader":"2e1259d415f2a040","uptime":"13.666476799s","startTime":"2026-11-29T04:21:23Z"},"recvAppendRequestCnt":0,"sendAppendRequestCnt":5,"sendPkgRate":2.5}`},
		"GET /v2/stats/store": {200, `{"getsSuccess":1,"getsFail":2,"setsSuccess":3,"setsFail":0,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,"createSuccess":4,"createFail":0,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":5,"watchers":6}`},
	})
	c := newTestClient(t, Config{}, f.endpoint())
	st := NewStatusAPI(c)
	ctx := context.Background()

	m, err := st.Machines(ctx)
	if err != nil || !slices.Equal(m, []string{"http://127.0.0.1:2379", "http://127.0.0.2:2379"}) {
		t.Errorf("Machines = %q, %v", m, err)
	}
	self, err := st.SelfStats(ctx)
	if err != nil || self.Name != "n1" || self.State != "StateLeader" || self.LeaderInfo.Uptime != 13666476799*time.Nanosecond ||
		self.SendAppendRequestCnt != 5 || self.SendPkgRate != 2.5 || self.RecvPkgRate != 0 || self.StartTime.IsZero() || self.Endpoint != f.endpoint() {
		t.Errorf("SelfStats = %+v, %v", self, err)
	}
	store, err := st.StoreStats(ctx)
	if err != nil || store.GetsSuccess != 1 || store.GetsFail != 2 || store.CreateSuccess != 4 || store.ExpireCount != 5 || store.Watchers != 6 || store.Endpoint != f.endpoint() {
		t.Errorf("StoreStats = %+v, %v", store, err)
	}

	each := StatusOfEach(ctx, c, StatusAPI.Machines)
	if r, ok := each[f.endpoint()]; len(each) != 1 || !ok || r.Err != nil || len(r.Value) != 2 {
		t.Errorf("StatusOfEach(Machines) = %+v", each)
	}
	if _, err := st.LeaderStats(ctx); err == nil || IsNotLeader(err) {
		t.Errorf("LeaderStats from a server without the path: %v, want a plain error", err)
	}
}

func TestMillis(t *testing.T) {
	for ms, want := range map[float64]time.Duration{
		0: 0, 1: time.Millisecond, 0.0003: 300 * time.Nanosecond, -1: 0,
		math.Inf(1): 0, math.NaN(): 0, float64(1 << 63): 0,
	} {
		if got := millis(ms); got != want {
			t.Errorf("millis(%v) = %v, want %v", ms, got, want)
		}
	}
}

// TestStatusOfEachAsksEveryMemberOnce: one call per endpoint, concurrently,
// and a dead member's error does not hide the others' answers.
func TestStatusOfEachAsksEveryMemberOnce(t *testing.T) {
	dead := deadEndpoint(t)
	a := newFakeEtcd(t, map[string]route{"GET /health": {200, `{"health":"true"}`}})
	b := newFakeEtcd(t, map[string]route{"GET /health": {503, `{"health":"false","reason":"RAFT NO LEADER"}`}})
	c := newTestClient(t, Config{}, a.endpoint(), b.endpoint(), dead)
	got := StatusOfEach(context.Background(), c, StatusAPI.Health)
	if len(got) != 3 || got[a.endpoint()].Err != nil || !got[a.endpoint()].Value.Healthy ||
		got[b.endpoint()].Err != nil || got[b.endpoint()].Value.Healthy || got[dead].Err == nil {
		t.Errorf("StatusOfEach(Health) = %+v", got)
	}
	if a.hits.Load() != 1 || b.hits.Load() != 1 {
		t.Errorf("members asked %d and %d times, want once each", a.hits.Load(), b.hits.Load())
	}
	if r := got[b.endpoint()]; r.Err == nil && r.Value.Reason != "RAFT NO LEADER" {
		t.Errorf("reason = %q", r.Value.Reason)
	}
}
