// StatusAPI: version, health, statistics and machines, of the cluster or of
// one bound member.

package client

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/meycoin/goetcd/api/version"
	"github.com/meycoin/goetcd/generated"
)

// StatusAPI reads what the cluster and its members say about themselves:
// versions, health, raft and store statistics, and the members' client
// URLs. None of these calls needs credentials (the client sends
// Config.Username and Password anyway), and none changes anything.
//
// Most of these answers are about one member: each result names the
// Endpoint that answered. Choose the member by how the StatusAPI is made:
//
//   - NewStatusAPI(c) asks whichever member c would ask first, moving on to
//     the next when one cannot be reached, like any read. Its LeaderStats
//     asks the members in turn until the leader answers.
//   - NewMemberStatusAPI(c, endpoint) asks exactly that member, once, and
//     never another: its errors are that member's.
//   - StatusOfEach(ctx, c, call) makes one call per endpoint of c,
//     concurrently, and returns every member's answer by endpoint.
type StatusAPI interface {
	// Version returns the answering member's server version and the
	// version the cluster runs at.
	Version(ctx context.Context) (*MemberVersions, error)

	// Health asks a member whether it has a leader and can serve a quorum
	// read. An unhealthy member is not an error: the result says
	// Healthy=false (with a Reason on etcd 3.5).
	Health(ctx context.Context) (*Health, error)

	// SelfStats returns a member's raft state and traffic counters.
	SelfStats(ctx context.Context) (*SelfStats, error)

	// LeaderStats returns the leader's view of its followers. Only the
	// leader has it: a follower, or any member while there is no leader,
	// answers 403, an error for which IsNotLeader holds.
	LeaderStats(ctx context.Context) (*LeaderStats, error)

	// StoreStats returns a member's counters of v2 store operations.
	StoreStats(ctx context.Context) (*StoreStats, error)

	// Machines returns the client URLs of every member, as one member
	// lists them (every member answers the same list).
	Machines(ctx context.Context) ([]string, error)
}

// MemberVersions is a member's answer to GET /version.
type MemberVersions struct {
	// Endpoint is the member that answered.
	Endpoint string
	// Server (the answering member's version, e.g. "3.5.35") and Cluster
	// (the version the cluster runs at, e.g. "3.5.0", or "not_decided"
	// early in a cluster's life).
	version.Versions
}

// Health is a member's answer to GET /health.
type Health struct {
	// Endpoint is the member that answered.
	Endpoint string
	// Healthy is true when the member has a leader and served a quorum
	// read (HTTP 200), false when it answered 503.
	Healthy bool
	// Reason says why a member is unhealthy, e.g. "RAFT NO LEADER". Only
	// etcd 3.5 sends it; it is empty for a healthy member and on 3.4.
	Reason string
}

// SelfStats is a member's answer to GET /v2/stats/self.
type SelfStats struct {
	// Endpoint is the member that answered.
	Endpoint string
	// Name and ID identify the member (ID as in Member.ID).
	Name, ID string
	// State is the raft state the member last recorded: "StateLeader",
	// "StateFollower", "StateCandidate" or "StatePreCandidate". A leader
	// that lost quorum keeps saying "StateLeader", so do not use it as a
	// leader test; MembersAPI.Leader is reliable.
	State string
	// StartTime is when the member started.
	StartTime time.Time
	// LeaderInfo is the leader as this member last saw it.
	LeaderInfo LeaderInfo
	// RecvAppendRequestCnt and SendAppendRequestCnt count raft append
	// requests received from the leader and sent (by a leader).
	RecvAppendRequestCnt, SendAppendRequestCnt uint64
	// RecvPkgRate and SendPkgRate are append requests per second, and
	// RecvBandwidthRate and SendBandwidthRate bytes per second, over recent
	// traffic; 0 when there was none lately (the server then leaves them
	// out).
	RecvPkgRate, RecvBandwidthRate, SendPkgRate, SendBandwidthRate float64
}

// LeaderInfo is the leader as a member last saw it.
type LeaderInfo struct {
	// Leader is the leader's member id.
	Leader string
	// Uptime is how long that leader has led.
	Uptime time.Duration
	// StartTime is when that leadership started.
	StartTime time.Time
}

// LeaderStats is the leader's answer to GET /v2/stats/leader.
type LeaderStats struct {
	// Endpoint is the member that answered: the leader.
	Endpoint string
	// Leader is the leader's member id.
	Leader string
	// Followers holds each follower's statistics by member id; it is empty
	// on a one-member cluster.
	Followers map[string]FollowerStats
}

// FollowerStats is the leader's view of one follower.
type FollowerStats struct {
	// Latency is the time the leader took to hand append requests to the
	// follower's stream.
	Latency LatencyStats
	// Success and Fail count append requests to the follower.
	Success, Fail uint64
}

// LatencyStats summarises latencies. The server reports fractional
// milliseconds; they are converted to durations here. All are 0 until the
// first successful request.
type LatencyStats struct {
	// Current is the latest latency.
	Current time.Duration
	// Average and StandardDeviation are over every successful request
	// since the leader started leading.
	Average, StandardDeviation time.Duration
	// Minimum and Maximum are the extremes seen.
	Minimum, Maximum time.Duration
}

// StoreStats is a member's answer to GET /v2/stats/store: counters of v2
// store operations since the member started. Writes count on every member
// (they go through raft); reads count on the member that served them. The
// server's own writes and the quorum reads made by /health count too.
type StoreStats struct {
	// Endpoint is the member that answered.
	Endpoint string `json:"-"`

	// Success and failure counts of each kind of operation: reads, plain
	// sets, deletes, updates (prevExist=true), creates (prevExist=false and
	// in-order keys), compare-and-swaps and compare-and-deletes.
	GetsSuccess             uint64 `json:"getsSuccess"`
	GetsFail                uint64 `json:"getsFail"`
	SetsSuccess             uint64 `json:"setsSuccess"`
	SetsFail                uint64 `json:"setsFail"`
	DeleteSuccess           uint64 `json:"deleteSuccess"`
	DeleteFail              uint64 `json:"deleteFail"`
	UpdateSuccess           uint64 `json:"updateSuccess"`
	UpdateFail              uint64 `json:"updateFail"`
	CreateSuccess           uint64 `json:"createSuccess"`
	CreateFail              uint64 `json:"createFail"`
	CompareAndSwapSuccess   uint64 `json:"compareAndSwapSuccess"`
	CompareAndSwapFail      uint64 `json:"compareAndSwapFail"`
	CompareAndDeleteSuccess uint64 `json:"compareAndDeleteSuccess"`
	CompareAndDeleteFail    uint64 `json:"compareAndDeleteFail"`
	// ExpireCount counts keys whose TTL ran out.
	ExpireCount uint64 `json:"expireCount"`
	// Watchers is the number of watchers registered right now.
	Watchers uint64 `json:"watchers"`
}

// NewStatusAPI returns a StatusAPI that asks whichever member c would ask
// first and moves on to the next one when a member cannot be reached.
func NewStatusAPI(c Client) StatusAPI { return &httpStatusAPI{c: c.cluster()} }

// NewMemberStatusAPI returns a StatusAPI bound to one member: endpoint, a
// client URL such as an element of c.Endpoints() or of a Member's
// ClientURLs (it need not be one of c's endpoints). Each call asks that
// member once and never another, with c's transport, credentials and
// per-request header timeout. The endpoint is checked like
// Config.Endpoints.
func NewMemberStatusAPI(c Client, endpoint string) (StatusAPI, error) {
	u, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	return &httpStatusAPI{c: c.cluster(), ep: u}, nil
}

// MemberResult is one member's answer in the map StatusOfEach returns:
// Value when Err is nil.
type MemberResult[T any] struct {
	Value T
	Err   error
}

// StatusOfEach makes call once for each endpoint of c, concurrently, each
// with a StatusAPI bound to that member (see NewMemberStatusAPI), and
// returns every member's result keyed by endpoint. It returns when every
// call has returned; ctx bounds them all. Pass a method expression:
//
//	health := client.StatusOfEach(ctx, c, client.StatusAPI.Health)
//	for ep, r := range health {
//		if r.Err != nil || !r.Value.Healthy {
//			log.Printf("%s is not healthy: %v", ep, r.Err)
//		}
//	}
func StatusOfEach[T any](ctx context.Context, c Client, call func(StatusAPI, context.Context) (T, error)) map[string]MemberResult[T] {
	hc := c.cluster()
	eps, _ := hc.snapshot()
	out := make(map[string]MemberResult[T], len(eps))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ep := range eps {
		wg.Go(func() {
			v, err := call(&httpStatusAPI{c: hc, ep: ep}, ctx)
			mu.Lock()
			out[ep.String()] = MemberResult[T]{Value: v, Err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// IsNotLeader reports whether err is a member's refusal of LeaderStats
// because it is not the leader (403 "not current leader"); a member also
// answers so while the cluster has no leader.
func IsNotLeader(err error) bool { return hasStatus(err, http.StatusForbidden, "stats") }

// httpStatusAPI is a StatusAPI bound to member ep, or to any member when ep
// is nil.
type httpStatusAPI struct {
	c  *httpClusterClient
	ep *url.URL
}

// get sends a status read: to the bound member only, or to the cluster with
// the failover of reads.
func (s *httpStatusAPI) get(ctx context.Context, req *http.Request, op string) (*result, error) {
	if s.ep != nil {
		return s.c.do(ctx, req, operation{class: classRead, name: op, resource: "stats", member: s.ep})
	}
	return s.c.do(ctx, req, operation{class: classRead, name: op, resource: "stats"})
}

// ring is the members to ask in turn: the bound one, or every endpoint
// from the pinned one on.
func (s *httpStatusAPI) ring() []*url.URL {
	if s.ep != nil {
		return []*url.URL{s.ep}
	}
	eps, pin := s.c.snapshot()
	out := make([]*url.URL, 0, len(eps))
	for i := range eps {
		out = append(out, eps[(pin+i)%len(eps)])
	}
	return out
}

// Version reads GET /version.
func (s *httpStatusAPI) Version(ctx context.Context) (*MemberVersions, error) {
	req, err := generated.NewGetVersionRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := s.get(ctx, req, "get version")
	if err != nil {
		return nil, err
	}
	if res.resp.StatusCode != http.StatusOK {
		return nil, res.httpError()
	}
	v := &MemberVersions{Endpoint: res.endpoint}
	if err := res.decodeJSON(&v.Versions); err != nil {
		return nil, err
	}
	return v, nil
}

// Health asks the bound member, or the members in turn until one answers
// (healthy or not). The server answers 503 when the member has no leader,
// an alarm is raised, or the quorum read fails; that is a result with
// Healthy false, not an error.
func (s *httpStatusAPI) Health(ctx context.Context) (*Health, error) {
	res, err := s.askInTurn(ctx, "get health", func() (*http.Request, error) {
		return generated.NewGetHealthRequest(placeholderServer, nil)
	}, func(*result) error { return nil })
	if err != nil {
		return nil, err
	}
	return decodeHealth(res)
}

// askInTurn asks the members of the ring one after the other, each with a
// fresh request from build, and returns the first answer that take accepts
// (take returns why it does not). A bound API returns its member's error as
// is; otherwise the error is a *ClusterError with each member's cause.
func (s *httpStatusAPI) askInTurn(ctx context.Context, op string, build func() (*http.Request, error), take func(*result) error) (*result, error) {
	var errs []error
	for _, ep := range s.ring() {
		req, err := build()
		if err != nil {
			return nil, err
		}
		res, err := s.c.do(ctx, req, operation{class: classRead, name: op, resource: "stats", member: ep})
		if err == nil {
			if err = take(res); err == nil {
				return res, nil
			}
		}
		if ctx.Err() != nil || s.ep != nil {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, &ClusterError{Errors: errs}
}

func decodeHealth(res *result) (*Health, error) {
	switch res.resp.StatusCode {
	case http.StatusOK, http.StatusServiceUnavailable:
	default:
		return nil, res.httpError()
	}
	// The body is JSON though it is labelled text/plain.
	var body struct {
		Health *string `json:"health"`
		Reason string  `json:"reason"`
	}
	if err := res.decodeJSON(&body); err != nil {
		return nil, err
	}
	if body.Health == nil {
		return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, `no "health" field`)
	}
	return &Health{
		Endpoint: res.endpoint,
		Healthy:  res.resp.StatusCode == http.StatusOK && *body.Health == "true",
		Reason:   body.Reason,
	}, nil
}

// SelfStats reads GET /v2/stats/self; the uptime string becomes a duration.
func (s *httpStatusAPI) SelfStats(ctx context.Context) (*SelfStats, error) {
	req, err := generated.NewGetSelfStatsRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := s.get(ctx, req, "get self stats")
	if err != nil {
		return nil, err
	}
	if res.resp.StatusCode != http.StatusOK {
		return nil, res.httpError()
	}
	var w generated.SelfStats
	if err := res.decodeJSON(&w); err != nil {
		return nil, err
	}
	uptime, err := time.ParseDuration(w.LeaderInfo.Uptime)
	if err != nil && w.LeaderInfo.Uptime != "" {
		return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, "leaderInfo.uptime: "+err.Error())
	}
	return &SelfStats{
		Endpoint:  res.endpoint,
		Name:      w.Name,
		ID:        w.Id,
		State:     w.State,
		StartTime: w.StartTime,
		LeaderInfo: LeaderInfo{
			Leader:    w.LeaderInfo.Leader,
			Uptime:    uptime,
			StartTime: w.LeaderInfo.StartTime,
		},
		RecvAppendRequestCnt: w.RecvAppendRequestCnt,
		SendAppendRequestCnt: w.SendAppendRequestCnt,
		RecvPkgRate:          deref(w.RecvPkgRate),
		RecvBandwidthRate:    deref(w.RecvBandwidthRate),
		SendPkgRate:          deref(w.SendPkgRate),
		SendBandwidthRate:    deref(w.SendBandwidthRate),
	}, nil
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// LeaderStats asks the bound member, or the members in turn until the
// leader answers. When none does, the error holds every member's answer
// and IsNotLeader holds if any of them said it is not the leader.
func (s *httpStatusAPI) LeaderStats(ctx context.Context) (*LeaderStats, error) {
	res, err := s.askInTurn(ctx, "get leader stats", func() (*http.Request, error) {
		return generated.NewGetLeaderStatsRequest(placeholderServer)
	}, func(res *result) error {
		if res.resp.StatusCode != http.StatusOK {
			return res.httpError()
		}
		return nil
	})
	if err != nil {
		if s.ep == nil && ctx.Err() == nil {
			err = fmt.Errorf("client: get leader stats: no member answered as the leader: %w", err)
		}
		return nil, err
	}
	return decodeLeaderStats(res)
}

func decodeLeaderStats(res *result) (*LeaderStats, error) {
	var w generated.LeaderStats
	if err := res.decodeJSON(&w); err != nil {
		return nil, err
	}
	out := &LeaderStats{Endpoint: res.endpoint, Leader: w.Leader, Followers: make(map[string]FollowerStats, len(w.Followers))}
	for id, f := range w.Followers {
		out.Followers[id] = FollowerStats{
			Latency: LatencyStats{
				Current:           millis(f.Latency.Current),
				Average:           millis(f.Latency.Average),
				StandardDeviation: millis(f.Latency.StandardDeviation),
				Minimum:           millis(f.Latency.Minimum),
				Maximum:           millis(f.Latency.Maximum),
			},
			Success: f.Counts.Success,
			Fail:    f.Counts.Fail,
		}
	}
	return out, nil
}

// millis converts the server's fractional milliseconds to a duration. The
// server starts Minimum at 2^63 ms before the first success; values that do
// not fit a duration (or are not numbers) read as 0.
func millis(ms float64) time.Duration {
	ns := ms * float64(time.Millisecond)
	if math.IsNaN(ns) || ns < 0 || ns >= math.MaxInt64 {
		return 0
	}
	return time.Duration(ns)
}

// StoreStats reads GET /v2/stats/store.
func (s *httpStatusAPI) StoreStats(ctx context.Context) (*StoreStats, error) {
	req, err := generated.NewGetStoreStatsRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := s.get(ctx, req, "get store stats")
	if err != nil {
		return nil, err
	}
	if res.resp.StatusCode != http.StatusOK {
		return nil, res.httpError()
	}
	out := &StoreStats{}
	if err := res.decodeJSON(out); err != nil {
		return nil, err
	}
	out.Endpoint = res.endpoint
	return out, nil
}

// Machines splits the server's plain-text list ("url1, url2, ...").
func (s *httpStatusAPI) Machines(ctx context.Context) ([]string, error) {
	req, err := generated.NewGetMachinesRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := s.get(ctx, req, "get machines")
	if err != nil {
		return nil, err
	}
	if res.resp.StatusCode != http.StatusOK {
		return nil, res.httpError()
	}
	out := []string{}
	for m := range strings.SplitSeq(string(res.body), ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out, nil
}
