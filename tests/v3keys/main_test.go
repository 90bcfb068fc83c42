// Package v3keys_test tests what is particular to the v3 backend against
// real etcd 3.5 and 3.6 (the behaviour it shares with the v2 client is
// tested on both backends by tests/keys, tests/model and tests/watch): the
// layout its keys take in the v3 store, leases and expiry, compaction,
// in-order names under contention, v3 auth tokens, and answers that are not
// the gateway's. Every exchange goes through the contract transport.
package v3keys_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
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
const callTimeout = 20 * time.Second

func ctx(t testing.TB) context.Context { return etcdtest.CallContext(t, callTimeout) }

// env is a cluster of one v3 server and a v3 KeysAPI over a validating
// transport.
type env struct {
	server  etcdtest.Server
	cluster *etcdtest.Cluster
	tr      *clienttest.Transport
	kapi    client.KeysAPI
}

// forEachV3 runs fn as a parallel subtest for each v3 server, each with its
// own 1-member cluster started with extra flags.
func forEachV3(t *testing.T, fn func(t *testing.T, e *env), args ...string) {
	t.Helper()
	for _, s := range etcdtest.V3Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			cl := etcdtest.StartCluster(t, s, 1, etcdtest.WithArgs(args...))
			e := &env{server: s, cluster: cl}
			e.kapi, e.tr = e.newKeysAPI(t, v3keys.Config{})
			fn(t, e)
			if n := e.tr.Violations(); n != 0 {
				t.Errorf("%d contract violations", n)
			}
		})
	}
}

// newKeysAPI makes a v3 KeysAPI on the env's cluster with cfg (its
// endpoints and transport set here).
func (e *env) newKeysAPI(t *testing.T, cfg v3keys.Config) (client.KeysAPI, *clienttest.Transport) {
	t.Helper()
	tr := clienttest.NewTransport(t, nil)
	cfg.Endpoints, cfg.Transport = e.cluster.Endpoints(), tr
	k, err := v3keys.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k, tr
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

// admin sends a request of the v3 API that the backend does not use (auth
// administration) straight to the first member, around the contract
// transport, and decodes a 200 answer into out.
func (e *env) admin(t *testing.T, path, body, token string, out any) {
	t.Helper()
	e.post(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, path, body, token, out)
}

// post sends a JSON request to the first member with hc and decodes a 200
// answer into out.
func (e *env) post(t *testing.T, hc *http.Client, path, body, token string, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, e.cluster.Endpoints()[0]+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s %v", path, resp.StatusCode, b, err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// rawKV is a key of the v3 store as the gateway answers it.
type rawKV struct {
	Key, Value     []byte
	CreateRevision string `json:"create_revision"`
	ModRevision    string `json:"mod_revision"`
	Lease          string
}

// rawRange reads every v3 key with the given prefix, through the contract
// transport.
func (e *env) rawRange(t *testing.T, prefix string) []rawKV {
	t.Helper()
	end := []byte(prefix)
	end[len(end)-1]++
	var out struct{ Kvs []rawKV }
	e.post(t, e.tr.Client(), "/v3/kv/range", `{"key":"`+b64(prefix)+`","range_end":"`+base64.StdEncoding.EncodeToString(end)+`"}`, "", &out)
	return out.Kvs
}
