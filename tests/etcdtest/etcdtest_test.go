package etcdtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock and checks that
// the harness leaves no goroutines behind (process reapers, probe clients).
func TestMain(m *testing.M) {
	etcdtest.Main(m)
}

// httpClient has keep-alives off so that no connection goroutine outlives a
// test and trips goleak.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func getJSON(t *testing.T, c *http.Client, url string, into any) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	if into != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("GET %s: %v in %q", url, err, body)
		}
	}
	return resp.StatusCode
}

func putKey(c *http.Client, endpoint, key, value string) (int, error) {
	req, err := http.NewRequest(http.MethodPut, endpoint+"/v2/keys/"+key, strings.NewReader(url.Values{"value": {value}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func TestSingleNodeVersion(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			c := etcdtest.StartCluster(t, s, 1)
			t.Logf("1-node start: %v", time.Since(began))

			var v struct{ Etcdserver string }
			if code := getJSON(t, httpClient, c.Endpoints()[0]+"/version", &v); code != http.StatusOK {
				t.Fatalf("GET /version: status %d", code)
			}
			if v.Etcdserver != s.Version {
				t.Errorf("GET /version etcdserver = %q, want %q", v.Etcdserver, s.Version)
			}
			if code, err := putKey(httpClient, c.Endpoints()[0], "harness/probe", "v"); err != nil || code != http.StatusCreated {
				t.Errorf("v2 PUT: status %d, err %v; is --enable-v2 in effect?", code, err)
			}
			if i := c.LeaderIndex(); i != 0 {
				t.Errorf("LeaderIndex = %d, want 0", i)
			}
		})
	}
}

// TestThreeNodeFailover kills the leader, expects a new one among the
// survivors, restarts the old leader from its data dir and waits for the
// full cluster; then pauses a follower and checks writes still succeed.
func TestThreeNodeFailover(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			c := etcdtest.StartCluster(t, s, 3)
			t.Logf("3-node start: %v", time.Since(began))
			if got := len(c.Members()); got != 3 {
				t.Fatalf("Members() has %d entries, want 3", got)
			}

			old := c.LeaderIndex()
			oldPID := c.Members()[old].PID()
			c.Kill(old)
			if c.Members()[old].Running() {
				t.Fatalf("member %d still running after Kill", old)
			}

			ctx, cancel := context.WithTimeout(t.Context(), etcdtest.StartTimeout)
			defer cancel()
			began = time.Now()
			leader, err := c.WaitLeader(ctx)
			if err != nil {
				t.Fatalf("WaitLeader after killing %d: %v", old, err)
			}
			t.Logf("new leader %d after %v", leader, time.Since(began))
			if leader == old {
				t.Fatalf("WaitLeader returned the killed member %d", old)
			}
			if code, err := putKey(httpClient, c.Endpoints()[leader], "failover", "after-kill"); err != nil || code != http.StatusCreated {
				t.Fatalf("write on new leader: status %d, err %v", code, err)
			}

			c.Restart(old)
			if err := c.WaitHealthy(ctx); err != nil {
				t.Fatalf("WaitHealthy after Restart(%d): %v", old, err)
			}
			if pid := c.Members()[old].PID(); pid == 0 || pid == oldPID {
				t.Errorf("restarted member pid = %d, old pid %d", pid, oldPID)
			}
			// The restarted member kept its data dir, so it must serve the
			// write made while it was down (a plain GET reads local state,
			// which is caught up once it reports healthy and a leader).
			var got struct{ Node struct{ Value string } }
			deadline := time.Now().Add(10 * time.Second)
			for got.Node.Value != "after-kill" && time.Now().Before(deadline) {
				getJSON(t, httpClient, c.Endpoints()[old]+"/v2/keys/failover", &got)
				if got.Node.Value != "after-kill" {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if got.Node.Value != "after-kill" {
				t.Errorf("restarted member never served the write made while it was down")
			}

			leader = c.LeaderIndex()
			follower := (leader + 1) % 3
			c.Pause(follower)
			if !c.Members()[follower].Paused() {
				t.Fatalf("member %d not reported paused", follower)
			}
			pausedClient := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 300 * time.Millisecond}
			if _, err := pausedClient.Get(c.Endpoints()[follower] + "/version"); err == nil {
				t.Errorf("paused member %d answered", follower)
			} else if ue := (*url.Error)(nil); !errors.As(err, &ue) || !ue.Timeout() {
				t.Errorf("paused member %d: want a timeout, got %v", follower, err)
			}
			if code, err := putKey(httpClient, c.Endpoints()[leader], "failover", "while-paused"); err != nil || code != http.StatusOK {
				t.Errorf("write with one follower paused: status %d, err %v", code, err)
			}
			if err := c.WaitHealthy(ctx); err != nil {
				t.Errorf("WaitHealthy with a paused follower (only live members count): %v", err)
			}
			c.Resume(follower)
			if err := c.WaitHealthy(ctx); err != nil {
				t.Fatalf("WaitHealthy after Resume(%d): %v", follower, err)
			}
		})
	}
}

// TestAddMemberProcess grows a cluster the way the members tests do:
// register the peer URL through the API, then start the process. It grows
// 3 to 4 because 1 to 2 loses quorum until the joiner is up, and etcd 3.5's
// joiner first waits out a 6 s linearizable read (/downgrade/enabled).
// --strict-reconfig-check=false because etcd otherwise refuses member adds
// (500 "unhealthy cluster") until peers have been connected for 5 s.
func TestAddMemberProcess(t *testing.T) {
	s := etcdtest.ServerFor(t, "3.5")
	c := etcdtest.StartCluster(t, s, 3, etcdtest.WithArgs("--strict-reconfig-check=false"))
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdtest.FreePort(t))
	body := strings.NewReader(`{"peerURLs":["` + peerURL + `"]}`)
	resp, err := httpClient.Post(c.Endpoints()[0]+"/v2/members", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v2/members: %s", resp.Status)
	}
	m := c.AddMemberProcess("joiner", peerURL, "")
	if got := len(c.Members()); got != 4 {
		t.Fatalf("Members() has %d entries, want 4", got)
	}
	var list struct {
		Members []struct {
			Name       string
			ClientURLs []string
		}
	}
	getJSON(t, httpClient, m.ClientURL+"/v2/members", &list)
	var found bool
	for _, x := range list.Members {
		found = found || (x.Name == "joiner" && len(x.ClientURLs) == 1 && x.ClientURLs[0] == m.ClientURL)
	}
	if !found {
		t.Errorf("joined member not published in /v2/members: %+v", list.Members)
	}
}

// TestTLS checks that WithTLS really serves https with client-cert-auth: the
// harness probes pass, a client without a certificate is refused.
func TestTLS(t *testing.T) {
	s := etcdtest.Servers(t)[0]
	ca := etcdtest.NewTestCA(t)
	c := etcdtest.StartCluster(t, s, 1, etcdtest.WithTLS(ca.Files()))
	ep := c.Endpoints()[0]
	if !strings.HasPrefix(ep, "https://") {
		t.Fatalf("endpoint %q is not https", ep)
	}
	withCert := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: c.TLSConfig()}}
	if code := getJSON(t, withCert, ep+"/version", nil); code != http.StatusOK {
		t.Errorf("GET /version with client cert: %d", code)
	}
	noCert := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: ca.ClientTLSConfig(t, "", "")}}
	if resp, err := noCert.Get(ep + "/version"); err == nil {
		resp.Body.Close()
		t.Errorf("request without a client certificate succeeded: %s", resp.Status)
	}
}

// TestVersionFilter pins the meaning of GOETCD_ETCD_VERSIONS.
func TestVersionFilter(t *testing.T) {
	t.Setenv(etcdtest.VersionsEnv, "3.5")
	for _, s := range etcdtest.Servers(t) {
		if !strings.HasPrefix(s.Version, "3.5.") {
			t.Errorf("filter 3.5 let %s through", s.Version)
		}
	}
	t.Setenv(etcdtest.VersionsEnv, "3.55")
	ok := t.Run("nothing matches", func(t *testing.T) {
		etcdtest.Servers(t)
		t.Error("Servers did not skip when the filter matched nothing")
	})
	if !ok {
		t.Error("subtest failed")
	}
}
