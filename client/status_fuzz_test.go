package client

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/api/version"
	"github.com/meycoin/goetcd/generated"
)

// FuzzStatusAnswers feeds /version, /health, /v2/stats/self, leader and
// store, and /v2/machines answers to StatusAPI. Invariants: no panic or hang;
// exactly one of result and error; every result names the endpoint and says
// what the body says (versions; health from the status and the "health"
// member, with its reason; self and store counters; leader id, follower
// counts and latencies as non-negative durations; machine URLs trimmed,
// non-empty, in order); errors typed as for every answer (IsNotLeader for a
// 403 of LeaderStats).
func FuzzStatusAnswers(f *testing.F) {
	f.Add(uint8(0), 200, []byte(`{"etcdserver":"3.5.35","etcdcluster":"3.5.0"}`))
	f.Add(uint8(1), 200, []byte(`{"health":"true","reason":""}`))
	f.Add(uint8(1), 503, []byte(`{"health":"false","reason":"RAFT NO LEADER"}`+"\n"))
	f.Add(uint8(1), 200, []byte(`{"health":"true"}`))
	f.Add(uint8(2), 200, []byte(`{"name":"n1","id":"2e1259d415f2a040","state":"StateLeader","startTime":"2026-11-29T07:00:00.123456789Z","leaderInfo":{"leader":"2e1259d415f2a040","uptime":"13.666476799s","startTime":"2026-11-29T07:00:01Z"},"recvAppendRequestCnt":0,"sendAppendRequestCnt":6,"sendPkgRate":2.5,"sendBandwidthRate":310.2}`))
	f.Add(uint8(3), 200, []byte(`{"leader":"21754121be54e65","followers":{"379677437707bfaa":{"latency":{"current":0.0003,"average":0.0012,"standardDeviation":0.0014,"minimum":0.00008,"maximum":0.004166},"counts":{"fail":0,"success":6}}}}`))
	f.Add(uint8(3), 200, []byte(`{"leader":"21754121be54e65","followers":{"a":{"latency":{"current":0,"average":0,"standardDeviation":0,"minimum":9.223372036854776e+18,"maximum":0},"counts":{"fail":0,"success":0}}}}`))
	f.Add(uint8(3), 403, []byte(`{"message":"not current leader"}`))
	f.Add(uint8(4), 200, []byte(`{"getsSuccess":4,"getsFail":1,"setsSuccess":2,"setsFail":0,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,"createSuccess":3,"createFail":0,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":0}`))
	f.Add(uint8(5), 200, []byte(`http://127.0.0.1:23791, http://127.0.0.1:23792, http://127.0.0.1:23793`))
	f.Add(uint8(5), 200, []byte(` , ,http://a:1,`))
	f.Fuzz(func(t *testing.T, which uint8, status int, body []byte) {
		which %= 6
		if which == 1 || which == 3 {
			// Health and LeaderStats ask each member once: 5xx answers
			// are answers there, not retried.
			if status < 200 || status >= 600 {
				status = 200 + (status%400+400)%400
			}
		} else {
			status = fuzzStatus(status)
		}
		h := http.Header{}
		if which == 1 || which == 5 {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
		tr := &cannedTransport{answers: []cannedAnswer{{status: status, header: h, body: body}}}
		c := cannedClient(t, tr, Config{})
		s := NewStatusAPI(c)
		ctx := fuzzCtx(t)
		var got, want any
		var err error
		okStatus := status == http.StatusOK
		switch which {
		case 0:
			var v *MemberVersions
			if v, err = s.Version(ctx); err == nil {
				got = *v
			}
			var w version.Versions
			if json.Unmarshal(body, &w) == nil {
				want = MemberVersions{Endpoint: fuzzEndpoint, Versions: w}
			}
		case 1:
			var hl *Health
			if hl, err = s.Health(ctx); err == nil {
				got = *hl
			}
			okStatus = status == http.StatusOK || status == http.StatusServiceUnavailable
			var w struct {
				Health *string `json:"health"`
				Reason string  `json:"reason"`
			}
			if json.Unmarshal(body, &w) == nil && w.Health != nil {
				want = Health{Endpoint: fuzzEndpoint, Healthy: status == http.StatusOK && *w.Health == "true", Reason: w.Reason}
			}
		case 2:
			var st *SelfStats
			if st, err = s.SelfStats(ctx); err == nil {
				got = *st
			}
			var w generated.SelfStats
			if json.Unmarshal(body, &w) == nil {
				up, perr := time.ParseDuration(w.LeaderInfo.Uptime)
				if perr == nil || w.LeaderInfo.Uptime == "" {
					want = SelfStats{Endpoint: fuzzEndpoint, Name: w.Name, ID: w.Id, State: w.State, StartTime: w.StartTime,
						LeaderInfo:           LeaderInfo{Leader: w.LeaderInfo.Leader, Uptime: up, StartTime: w.LeaderInfo.StartTime},
						RecvAppendRequestCnt: w.RecvAppendRequestCnt, SendAppendRequestCnt: w.SendAppendRequestCnt,
						RecvPkgRate: deref(w.RecvPkgRate), RecvBandwidthRate: deref(w.RecvBandwidthRate),
						SendPkgRate: deref(w.SendPkgRate), SendBandwidthRate: deref(w.SendBandwidthRate)}
				}
			}
		case 3:
			var ls *LeaderStats
			ls, err = s.LeaderStats(ctx)
			if err == nil {
				for id, fs := range ls.Followers {
					l := fs.Latency
					for _, d := range []time.Duration{l.Current, l.Average, l.StandardDeviation, l.Minimum, l.Maximum} {
						if d < 0 {
							t.Fatalf("follower %s: negative latency %v", id, d)
						}
					}
				}
				counts := map[string][2]uint64{}
				for id, fs := range ls.Followers {
					counts[id] = [2]uint64{fs.Success, fs.Fail}
				}
				got = []any{ls.Endpoint, ls.Leader, counts}
			}
			var w generated.LeaderStats
			if json.Unmarshal(body, &w) == nil {
				counts := map[string][2]uint64{}
				for id, fs := range w.Followers {
					counts[id] = [2]uint64{fs.Counts.Success, fs.Counts.Fail}
				}
				want = []any{fuzzEndpoint, w.Leader, counts}
			}
			if status == http.StatusForbidden && err != nil && strings.Contains(string(body), `"message"`) {
				var probe struct {
					Message *string `json:"message"`
				}
				if json.Unmarshal(body, &probe) == nil && probe.Message != nil && !IsNotLeader(err) {
					t.Fatalf("a 403 %q of LeaderStats: IsNotLeader is false for %v", body, err)
				}
			}
		case 4:
			var st *StoreStats
			if st, err = s.StoreStats(ctx); err == nil {
				got = *st
			}
			var w StoreStats
			if json.Unmarshal(body, &w) == nil {
				w.Endpoint = fuzzEndpoint
				want = w
			}
		case 5:
			var ms []string
			if ms, err = s.Machines(ctx); err == nil {
				for _, m := range ms {
					if m == "" || m != strings.TrimSpace(m) || strings.Contains(m, ",") {
						t.Fatalf("machine %q in %q", m, ms)
					}
				}
				got = joinNames(ms)
			}
			var w []string
			for _, m := range strings.Split(string(body), ",") {
				if m = strings.TrimSpace(m); m != "" {
					w = append(w, m)
				}
			}
			want = joinNames(w)
		}
		if (got == nil) == (err == nil) {
			t.Fatalf("result %v and error %v", got, err)
		}
		checkAnswerError(t, err, status)
		validUTF8Error(t, err)
		if err != nil {
			return
		}
		if !okStatus {
			t.Fatalf("a %d answer was taken as a result: %+v", status, got)
		}
		if want == nil {
			t.Fatalf("a body that does not decode gave %+v: %q", got, body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v, the body says %+v\nbody %q", got, want, body)
		}
	})
}
