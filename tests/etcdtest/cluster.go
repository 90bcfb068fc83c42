package etcdtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds every wait in this package: cluster start, WaitHealthy
// and WaitLeader through LeaderIndex. It is generous because a loaded 2-core
// CI machine runs several test binaries at once.
const StartTimeout = 60 * time.Second

// pollInterval is short because a fresh 1-node cluster is ready in well under
// a second and every millisecond of polling is test time.
const pollInterval = 20 * time.Millisecond

// probeTimeout bounds one health or leader probe, so that a member that
// accepts connections but cannot answer (no quorum, 3.4's QGET in /health)
// does not stall the poll loop.
const probeTimeout = 2 * time.Second

// startAttempts is how often StartCluster retries when another process took
// one of the ports between FreePort and etcd's bind.
const startAttempts = 5

// Option configures StartCluster.
type Option func(*clusterConfig)

type clusterConfig struct {
	tls  *TLSFiles
	args []string
}

// WithTLS serves the client URLs over https with the given files and
// requires client certificates (--client-cert-auth). Peer traffic stays
// plain http. The harness's own probes present ClientCertFile/ClientKeyFile,
// so those must be set; NewTestCA(t).Files() provides all of them.
func WithTLS(files TLSFiles) Option {
	return func(c *clusterConfig) { c.tls = &files }
}

// WithArgs appends extra etcd flags to every member. They come last, so they
// override the harness defaults (etcd's flag parsing keeps the last value),
// e.g. WithArgs("--election-timeout=1000").
func WithArgs(extra ...string) Option {
	return func(c *clusterConfig) { c.args = append(c.args, extra...) }
}

// Cluster is a set of etcd member processes started by StartCluster and
// stopped by t.Cleanup. Methods that can fail (Kill, Pause, Resume, Restart,
// AddMemberProcess, LeaderIndex) report through the TB given to
// StartCluster, so call them from that test's goroutine; the Wait methods,
// Endpoints and Members may be used from any goroutine.
type Cluster struct {
	t      testing.TB
	server Server
	cfg    clusterConfig
	token  string
	dir    string

	// probe has keep-alives off: a member may be killed at any moment, and
	// idle connections would only leave goroutines behind for goleak.
	probe     *http.Client
	tlsConfig *tls.Config

	mu        sync.Mutex
	members   []*Member
	discarded bool // a start attempt abandoned for a port clash; its logs are noise
}

// Member is one etcd process of a Cluster. The exported fields never change
// after the member is created, including across Restart.
type Member struct {
	// Name is the etcd --name, as reported in /v2/members.
	Name string
	// ClientURL is the advertised and listened client URL (http or https).
	ClientURL string
	// PeerURL is the advertised and listened peer URL (always http).
	PeerURL string
	// DataDir is kept across Kill and Restart; t.TempDir removes it.
	DataDir string
	// LogFile collects stdout and stderr of every incarnation of the member.
	LogFile string

	initialCluster string

	// mu guards proc and paused: Kill, Pause and Restart change them while
	// WaitLeader may be polling from another goroutine.
	mu     sync.Mutex
	proc   *process
	paused bool
}

// process is one incarnation of a member; Restart replaces it.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait has reaped the process
	err  error         // Wait's result, readable after done is closed
}

func (p *process) exited() bool {
	if p == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (m *Member) state() (p *process, paused bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc, m.paused
}

func (m *Member) setPaused(paused bool) {
	m.mu.Lock()
	m.paused = paused
	m.mu.Unlock()
}

// Running reports whether the member's process is alive (paused or not).
// A member removed through the members API exits by itself.
func (m *Member) Running() bool {
	p, _ := m.state()
	return !p.exited()
}

// Paused reports whether the member is stopped with SIGSTOP.
func (m *Member) Paused() bool {
	p, paused := m.state()
	return paused && !p.exited()
}

// PID returns the current process id, or 0 when the member is not running.
func (m *Member) PID() int {
	p, _ := m.state()
	if p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}

// live is what WaitHealthy and WaitLeader consider: a paused member cannot
// answer, and a killed one is expected to be gone.
func (m *Member) live() bool {
	p, paused := m.state()
	return !p.exited() && !paused
}

// StartCluster starts an n-member cluster of server s on free 127.0.0.1
// ports and returns once every member answers GET /health and
// GET /v2/members/leader with 200 (servers without the v2 API: once every
// member's POST /v3/maintenance/status names a leader). Members use fast raft timings
// (heartbeat 50 ms, election 500 ms) and skip fsync where supported. The
// cluster is killed in t.Cleanup, and when the test has failed the last
// lines of each member's log are printed.
func StartCluster(t testing.TB, s Server, n int, opts ...Option) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("etcdtest: StartCluster needs at least one member, got %d", n)
	}
	var cfg clusterConfig
	for _, o := range opts {
		o(&cfg)
	}
	for attempt := 1; ; attempt++ {
		began := time.Now()
		c, err := tryStartCluster(t, s, n, cfg)
		if err == nil {
			t.Logf("etcdtest: %d-member %s cluster ready in %v: %s", n, s, time.Since(began).Round(time.Millisecond), strings.Join(c.Endpoints(), " "))
			return c
		}
		if errors.Is(err, errAddrInUse) && attempt < startAttempts {
			t.Logf("etcdtest: attempt %d: %v; retrying on new ports", attempt, err)
			c.mu.Lock()
			c.discarded = true
			c.mu.Unlock()
			c.stopAll()
			continue
		}
		t.Fatalf("etcdtest: starting %d-member %s cluster: %v", n, s, err)
	}
}

var errAddrInUse = errors.New("address already in use")

func tryStartCluster(t testing.TB, s Server, n int, cfg clusterConfig) (*Cluster, error) {
	c, err := newCluster(t, s, cfg)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2 * n)
	if err != nil {
		return c, err
	}
	var peers []string
	for i := range n {
		peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1])
		m := c.newMember(fmt.Sprintf("m%d", i), ports[2*i], peerURL)
		c.members = append(c.members, m)
		peers = append(peers, m.Name+"="+m.PeerURL)
	}
	initial := strings.Join(peers, ",")
	for _, m := range c.members {
		m.initialCluster = initial
		if err := c.startProcess(m, "new"); err != nil {
			return c, err
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), StartTimeout)
	defer cancel()
	return c, c.waitReady(ctx, c.members)
}

func newCluster(t testing.TB, s Server, cfg clusterConfig) (*Cluster, error) {
	token := make([]byte, 8)
	_, _ = rand.Read(token)
	c := &Cluster{
		t:      t,
		server: s,
		cfg:    cfg,
		token:  "goetcd-" + hex.EncodeToString(token),
		// TempDir first, so its removal is registered before, and therefore
		// runs after, the cleanup that kills the processes writing into it.
		dir: t.TempDir(),
	}
	transport := &http.Transport{DisableKeepAlives: true}
	if cfg.tls != nil {
		tc, err := cfg.tls.ClientConfig()
		if err != nil {
			return nil, err
		}
		c.tlsConfig = tc
		transport.TLSClientConfig = tc
	}
	c.probe = &http.Client{Transport: transport, Timeout: probeTimeout}
	t.Cleanup(func() {
		c.stopAll()
		c.mu.Lock()
		discarded := c.discarded
		c.mu.Unlock()
		if t.Failed() && !discarded {
			c.logTails()
		}
	})
	return c, nil
}

// newMember describes a member on the given client port; peerURL is used
// as is so that AddMemberProcess can reuse the URL a test registered through
// POST /v2/members.
func (c *Cluster) newMember(name string, clientPort int, peerURL string) *Member {
	scheme := "http"
	if c.cfg.tls != nil {
		scheme = "https"
	}
	return &Member{
		Name:      name,
		ClientURL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, clientPort),
		PeerURL:   peerURL,
		DataDir:   filepath.Join(c.dir, name+".etcd"),
		LogFile:   filepath.Join(c.dir, name+".log"),
	}
}

func (c *Cluster) memberArgs(m *Member, state string) []string {
	args := []string{
		"--name=" + m.Name,
		"--data-dir=" + m.DataDir,
		"--listen-client-urls=" + m.ClientURL,
		"--advertise-client-urls=" + m.ClientURL,
		"--listen-peer-urls=" + m.PeerURL,
		"--initial-advertise-peer-urls=" + m.PeerURL,
		"--initial-cluster=" + m.initialCluster,
		"--initial-cluster-state=" + state,
		"--initial-cluster-token=" + c.token,
		"--heartbeat-interval=50",
		"--election-timeout=500",
		// 3.4 defaults to capnslog; zap on both gives comparable logs.
		"--logger=zap",
		"--log-outputs=stderr",
	}
	if c.server.HasV2() {
		args = append(args, "--enable-v2=true")
	}
	if supportsFlag(c.server.Path, "unsafe-no-fsync") {
		args = append(args, "--unsafe-no-fsync")
	}
	if f := c.cfg.tls; f != nil {
		args = append(args,
			"--cert-file="+f.CertFile,
			"--key-file="+f.KeyFile,
			"--trusted-ca-file="+f.CAFile,
			"--client-cert-auth",
		)
	}
	return append(args, c.cfg.args...)
}

// startProcess starts a new incarnation of m.
func (c *Cluster) startProcess(m *Member, state string) error {
	if err := os.MkdirAll(filepath.Dir(m.LogFile), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(m.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child keeps its own descriptor
	fmt.Fprintf(logf, "=== etcdtest: starting %s (%s, --initial-cluster-state=%s) at %s\n", m.Name, c.server, state, time.Now().Format(time.RFC3339Nano))

	cmd := exec.Command(c.server.Path, c.memberArgs(m, state)...)
	// An *os.File needs no copying goroutine, so nothing outlives the process.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = hermeticEnv()
	cmd.SysProcAttr = memberSysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", m.Name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	m.mu.Lock()
	m.proc, m.paused = p, false
	m.mu.Unlock()
	return nil
}

// hermeticEnv drops ETCD_* variables: etcd reads them as flags, and a
// developer's shell settings must not change the test cluster.
func hermeticEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "ETCD_")
	})
}

// waitReady polls until every given member answers /health and
// /v2/members/leader with 200. A member that exits meanwhile fails the wait
// at once (with errAddrInUse when its log says so) instead of timing out.
func (c *Cluster) waitReady(ctx context.Context, members []*Member) error {
	var last error
	for {
		for _, m := range members {
			if !m.Running() {
				return c.exitError(m)
			}
		}
		last = nil
		for _, m := range members {
			if err := c.probeReady(ctx, m); err != nil {
				last = err
				break
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last probe: %v", ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

func (c *Cluster) exitError(m *Member) error {
	p, _ := m.state()
	<-p.done
	tail := tailLines(m.LogFile, 200)
	if strings.Contains(tail, "address already in use") {
		return fmt.Errorf("member %s: %w (%v)", m.Name, errAddrInUse, p.err)
	}
	return fmt.Errorf("member %s exited: %v", m.Name, p.err)
}

func (c *Cluster) probeReady(ctx context.Context, m *Member) error {
	if _, err := c.get(ctx, m.ClientURL+"/health"); err != nil {
		return err
	}
	if !c.server.HasV2() {
		st, err := c.status(ctx, m)
		if err == nil && st.Leader == "" {
			err = fmt.Errorf("%s: no leader", m.Name)
		}
		return err
	}
	_, err := c.get(ctx, m.ClientURL+"/v2/members/leader")
	return err
}

// memberStatus is the part of POST /v3/maintenance/status the harness
// needs (servers without the v2 API).
type memberStatus struct {
	Header struct {
		MemberID string `json:"member_id"`
	} `json:"header"`
	Leader string `json:"leader"`
}

// status asks m for its status over the v3 gateway.
func (c *Cluster) status(ctx context.Context, m *Member) (*memberStatus, error) {
	body, err := c.do(ctx, http.MethodPost, m.ClientURL+"/v3/maintenance/status", strings.NewReader("{}"))
	if err != nil {
		return nil, err
	}
	var st memberStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("%s: decoding status: %w", m.Name, err)
	}
	return &st, nil
}

// get returns the body of a 200 answer and an error for anything else.
func (c *Cluster) get(ctx context.Context, url string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, url, nil)
}

// do sends a request and returns the body of a 200 answer, or an error.
func (c *Cluster) do(ctx context.Context, method, url string, reqBody io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, reqBody)
	if err != nil {
		return nil, err
	}
	resp, err := c.probe.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s %s", method, url, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// Server returns the server the cluster runs.
func (c *Cluster) Server() Server { return c.server }

// Endpoints returns the client URLs of all members in index order, including
// members that are currently killed or paused.
func (c *Cluster) Endpoints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	urls := make([]string, len(c.members))
	for i, m := range c.members {
		urls[i] = m.ClientURL
	}
	return urls
}

// Members returns the members in index order (a copy of the slice).
func (c *Cluster) Members() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.members)
}

// TLSConfig returns a client configuration that trusts the cluster's CA and
// presents the harness client certificate, or nil for a plain-http cluster.
func (c *Cluster) TLSConfig() *tls.Config {
	if c.tlsConfig == nil {
		return nil
	}
	return c.tlsConfig.Clone()
}

func (c *Cluster) member(i int) *Member {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.members) {
		c.t.Fatalf("etcdtest: member index %d out of range [0,%d)", i, len(c.members))
	}
	return c.members[i]
}

// Kill sends SIGKILL to member i and waits until the process is reaped, so
// its ports are free when Kill returns. Killing a stopped member is a no-op.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	m := c.member(i)
	if err := kill(m); err != nil {
		c.t.Fatalf("etcdtest: kill %s: %v", m.Name, err)
	}
}

func kill(m *Member) error {
	p, paused := m.state()
	if p.exited() {
		return nil
	}
	// SIGKILL works on a stopped process too, but a SIGCONT first keeps the
	// sequence identical to what an operator would do and costs nothing.
	if paused {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		m.setPaused(false)
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("pid %d not reaped 30s after SIGKILL", p.cmd.Process.Pid)
	}
}

// Pause stops member i with SIGSTOP and waits until all its threads are
// stopped: it keeps its sockets but answers nothing, the way a hung or
// partitioned machine looks to clients.
func (c *Cluster) Pause(i int) {
	c.t.Helper()
	m := c.member(i)
	p, _ := m.state()
	if p.exited() {
		c.t.Fatalf("etcdtest: pause %s: not running", m.Name)
	}
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		c.t.Fatalf("etcdtest: pause %s: %v", m.Name, err)
	}
	m.setPaused(true)
	if err := waitStopped(p.cmd.Process.Pid, 10*time.Second); err != nil {
		c.t.Fatalf("etcdtest: pause %s: %v", m.Name, err)
	}
}

// Resume continues member i after Pause with SIGCONT.
func (c *Cluster) Resume(i int) {
	c.t.Helper()
	m := c.member(i)
	p, _ := m.state()
	if p.exited() {
		c.t.Fatalf("etcdtest: resume %s: not running", m.Name)
	}
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		c.t.Fatalf("etcdtest: resume %s: %v", m.Name, err)
	}
	m.setPaused(false)
}

// Restart starts member i again with the same name, ports and data dir and
// --initial-cluster-state=existing, killing it first if it still runs. It
// does not wait: use WaitHealthy, because whether the member can become
// healthy depends on the rest of the cluster.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	m := c.member(i)
	if err := kill(m); err != nil {
		c.t.Fatalf("etcdtest: restart %s: %v", m.Name, err)
	}
	if err := c.startProcess(m, "existing"); err != nil {
		c.t.Fatalf("etcdtest: restart %s: %v", m.Name, err)
	}
}

// AddMemberProcess starts a new member process that joins the running
// cluster (--initial-cluster-state=existing) and waits until it is healthy.
// The member must already have been added through POST /v2/members with
// peerURL. initialCluster is the joining member's view of the membership
// ("name=peerURL,..."); when empty it is built from the cluster's members
// plus the new one, which is right unless a test removed members through the
// API. The new member gets the next index and is stopped with the cluster.
func (c *Cluster) AddMemberProcess(name, peerURL, initialCluster string) *Member {
	c.t.Helper()
	m := c.newMember(name, FreePort(c.t), peerURL)
	c.mu.Lock()
	if initialCluster == "" {
		var peers []string
		for _, o := range c.members {
			peers = append(peers, o.Name+"="+o.PeerURL)
		}
		initialCluster = strings.Join(append(peers, name+"="+peerURL), ",")
	}
	m.initialCluster = initialCluster
	c.members = append(c.members, m)
	c.mu.Unlock()
	if err := c.startProcess(m, "existing"); err != nil {
		c.t.Fatalf("etcdtest: add member %s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(c.t.Context(), StartTimeout)
	defer cancel()
	if err := c.waitReady(ctx, []*Member{m}); err != nil {
		c.t.Fatalf("etcdtest: member %s did not join: %v", name, err)
	}
	return m
}

func (c *Cluster) liveMembers() (idx []int, members []*Member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.members {
		if m.live() {
			idx = append(idx, i)
			members = append(members, m)
		}
	}
	return idx, members
}

// WaitHealthy waits until every live (running, not paused) member answers
// GET /health and GET /v2/members/leader with 200 (or, without the v2 API,
// names a leader in its status).
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	_, live := c.liveMembers()
	if len(live) == 0 {
		return errors.New("no live members")
	}
	return c.waitReady(ctx, live)
}

// leaderInfo is the part of GET /v2/members/leader the harness needs.
type leaderInfo struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	ClientURLs []string `json:"clientURLs"`
}

// WaitLeader waits until all live members report the same leader through
// GET /v2/members/leader (POST /v3/maintenance/status without the v2 API)
// and that leader is itself live, then returns its index. Requiring
// agreement matters after a leader dies: followers keep naming the dead
// leader until their election timeout fires.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	var last error
	for {
		i, err := c.leaderOnce(ctx)
		if err == nil {
			return i, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("no agreed leader: %w; last observation: %v", ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

func (c *Cluster) leaderOnce(ctx context.Context) (int, error) {
	idx, live := c.liveMembers()
	if len(live) == 0 {
		return -1, errors.New("no live members")
	}
	if !c.server.HasV2() {
		return c.leaderOnceV3(ctx, idx, live)
	}
	var agreed *leaderInfo
	for _, m := range live {
		body, err := c.get(ctx, m.ClientURL+"/v2/members/leader")
		if err != nil {
			return -1, err
		}
		var l leaderInfo
		if err := json.Unmarshal(body, &l); err != nil {
			return -1, fmt.Errorf("%s: decoding leader: %w", m.Name, err)
		}
		if agreed == nil {
			agreed = &l
		} else if agreed.ID != l.ID {
			return -1, fmt.Errorf("members disagree on the leader: %s and %s", agreed.Name, l.Name)
		}
	}
	for k, m := range live {
		if m.Name == agreed.Name || slices.Contains(agreed.ClientURLs, m.ClientURL) {
			return idx[k], nil
		}
	}
	return -1, fmt.Errorf("leader %s (%s) is not a live member", agreed.Name, agreed.ID)
}

// leaderOnceV3 is leaderOnce for servers without the v2 API: every live
// member's status names the same leader, and that is a live member.
func (c *Cluster) leaderOnceV3(ctx context.Context, idx []int, live []*Member) (int, error) {
	leader := ""
	ids := make([]string, len(live))
	for k, m := range live {
		st, err := c.status(ctx, m)
		if err != nil {
			return -1, err
		}
		ids[k] = st.Header.MemberID
		switch {
		case st.Leader == "":
			return -1, fmt.Errorf("%s knows no leader", m.Name)
		case leader == "":
			leader = st.Leader
		case leader != st.Leader:
			return -1, fmt.Errorf("members disagree on the leader: %s and %s", leader, st.Leader)
		}
	}
	for k, id := range ids {
		if id == leader {
			return idx[k], nil
		}
	}
	return -1, fmt.Errorf("leader %s is not a live member", leader)
}

// Compact compacts the cluster's v3 store up to revision rev through the
// v3 gateway of a live member, physically, so that the history before rev
// is gone when it returns. It fails the test on error.
func (c *Cluster) Compact(ctx context.Context, rev int64) {
	c.t.Helper()
	_, live := c.liveMembers()
	if len(live) == 0 {
		c.t.Fatal("etcdtest: compact: no live members")
	}
	body := strings.NewReader(fmt.Sprintf(`{"revision":"%d","physical":true}`, rev))
	if _, err := c.do(ctx, http.MethodPost, live[0].ClientURL+"/v3/kv/compaction", body); err != nil {
		c.t.Fatalf("etcdtest: compact to revision %d: %v", rev, err)
	}
}

// LeaderIndex is WaitLeader bounded by StartTimeout; it fails the test when
// no leader emerges.
func (c *Cluster) LeaderIndex() int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), StartTimeout)
	defer cancel()
	i, err := c.WaitLeader(ctx)
	if err != nil {
		c.t.Fatalf("etcdtest: %v", err)
	}
	return i
}

// stopAll kills and reaps every member; it is idempotent so both a failed
// start attempt and t.Cleanup may call it.
func (c *Cluster) stopAll() {
	c.mu.Lock()
	members := slices.Clone(c.members)
	c.mu.Unlock()
	for _, m := range members {
		if err := kill(m); err != nil {
			c.t.Errorf("etcdtest: stopping %s: %v", m.Name, err)
		}
	}
}

// logTailLines is how much of each member log a failed test prints: enough
// for the last election and the error, short enough to read.
const logTailLines = 40

func (c *Cluster) logTails() {
	for _, m := range c.Members() {
		c.t.Logf("etcdtest: last %d lines of %s (%s):\n%s", logTailLines, m.Name, m.LogFile, tailLines(m.LogFile, logTailLines))
	}
}

func tailLines(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// chosen below the kernel's ephemeral range when possible. Another process
// can still take it before it is used; StartCluster retries for that reason,
// and callers using it for their own listeners should too.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	return p
}

func freePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts holds all listeners open until it has n of them, so the kernel
// cannot hand out the same port twice within one cluster.
//
// Ports come from below the ephemeral range because a port the kernel gave
// to "listen on :0" is, once closed, just as likely to become the local end
// of some outgoing connection (etcd peers dial each other constantly), and
// then etcd's bind fails; that happened on the first 3-node run here.
func freePorts(n int) ([]int, error) {
	lo, hi := listenPortRange()
	ports := make([]int, 0, n)
	for len(ports) < n {
		var l net.Listener
		var err error
		for try := 0; l == nil && try < 50 && hi > lo; try++ {
			l, _ = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(lo+mrand.IntN(hi-lo+1))))
		}
		if l == nil {
			if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return nil, fmt.Errorf("finding a free port: %w", err)
			}
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// listenPortRange returns the ports between 10000 and the start of the
// ephemeral range, or an empty range when that cannot be determined.
func listenPortRange() (lo, hi int) {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	var ephLo, ephHi int
	if _, err := fmt.Sscan(string(data), &ephLo, &ephHi); err != nil || ephLo <= 11000 {
		return 0, 0
	}
	return 10000, ephLo - 1
}
