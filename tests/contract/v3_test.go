package contract_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/tests/contract"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// v3call is one raw request to the v3 gateway and the status it must get.
type v3call struct {
	path, body string
	want       int
	token      string
}

func (x v3call) do(t *testing.T, c *http.Client, ep string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ep+x.path, strings.NewReader(x.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if x.token != "" {
		req.Header.Set("Authorization", x.token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", x.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", x.path, err)
	}
	if resp.StatusCode != x.want {
		t.Errorf("POST %s %s: status %d, want %d; body %s", x.path, x.body, resp.StatusCode, x.want, b)
	}
	return b
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestRealEtcdConformsV3 drives every operation of v3keys/openapi.yaml
// against real etcd 3.5 and 3.6, with answers that succeed and that fail
// (a future revision, a compacted one, duplicate keys in a transaction, an
// unknown lease, a wrong password, auth errors, a cancelled watch), through
// the contract transport over both specs: none may be flagged but the one
// request that breaks the spec on purpose.
func TestRealEtcdConformsV3(t *testing.T) {
	for _, s := range etcdtest.V3Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			c := etcdtest.StartCluster(t, s, 1)
			ep := c.Endpoints()[0]
			rec := &recorder{TB: t}
			base := &http.Transport{}
			t.Cleanup(base.CloseIdleConnections)
			tr := contract.New(rec, "", base)
			hc := tr.Client()

			k, v := b64("/t/001/a\x01"), b64("v")
			calls := []v3call{
				{"/v3/maintenance/status", `{}`, 200, ""},
				{"/v3/kv/txn", `{"compare":[{"key":"` + k + `","target":"VERSION","result":"EQUAL","version":"0"}],"success":[{"request_put":{"key":"` + k + `","value":"` + v + `","prev_kv":true}}],"failure":[{"request_range":{"key":"` + k + `"}}]}`, 200, ""},
				{"/v3/kv/txn", `{"compare":[{"key":"` + k + `","target":"VERSION","result":"EQUAL","version":"0"}],"success":[{"request_put":{"key":"` + k + `"}}],"failure":[{"request_range":{"key":"` + k + `","count_only":true}}]}`, 200, ""},
				{"/v3/kv/txn", `{"compare":[{"key":"` + b64("/t/") + `","range_end":"` + b64("/t0") + `","target":"MOD","result":"LESS","mod_revision":"100"}],"success":[{"request_range":{"key":"` + b64("/t/") + `","range_end":"` + b64("/t0") + `","keys_only":true,"serializable":true}}]}`, 200, ""},
				{"/v3/kv/txn", `{"success":[{"request_put":{"key":"` + k + `","ignore_value":true}},{"request_delete_range":{"key":"` + b64("/t/002/") + `","range_end":"` + b64("/t/0020") + `","prev_kv":true}}]}`, 200, ""},
				{"/v3/kv/txn", `{"success":[{"request_put":{"key":"` + k + `"}},{"request_delete_range":{"key":"` + k + `"}}]}`, 400, ""},
				{"/v3/kv/txn", `{}`, 200, ""},
				{"/v3/kv/range", `{"key":"` + k + `"}`, 200, ""},
				{"/v3/kv/range", `{"key":"` + k + `","revision":"1000000"}`, 400, ""},
				{"/v3/kv/range", `{"key":"` + b64("/t/") + `","range_end":"` + b64("/t0") + `","limit":"1","count_only":true}`, 200, ""},
				{"/v3/lease/grant", `{"TTL":"1"}`, 200, ""},
				{"/v3/lease/revoke", `{"ID":"12345"}`, 404, ""},
				{"/v3/lease/timetolive", `{"ID":"12345"}`, 200, ""},
				{"/v3/auth/authenticate", `{"name":"root","password":"x"}`, 400, ""},
				// Breaks the spec on purpose: a key must be base64 text.
				{"/v3/kv/range", `{"key":123}`, 400, ""},
			}
			for _, x := range calls {
				x.do(t, hc, ep)
			}
			var grant struct{ ID string }
			if err := json.Unmarshal(v3call{"/v3/lease/grant", `{"TTL":"30"}`, 200, ""}.do(t, hc, ep), &grant); err != nil {
				t.Fatal(err)
			}
			n := len(calls) + 1
			for _, x := range []v3call{
				{"/v3/kv/txn", `{"success":[{"request_put":{"key":"` + b64("/t/001/l\x01") + `","lease":"` + grant.ID + `"}}]}`, 200, ""},
				{"/v3/lease/timetolive", `{"ID":"` + grant.ID + `","keys":true}`, 200, ""},
				{"/v3/lease/revoke", `{"ID":"` + grant.ID + `"}`, 200, ""},
			} {
				x.do(t, hc, ep)
				n++
			}
			n += watchV3(t, hc, ep, k)
			c.Compact(t.Context(), 3)
			n += watchCompacted(t, hc, ep)
			n += authV3(t, hc, ep)

			got := rec.reported()
			if len(got) != 1 || !strings.Contains(got[0], "key") {
				t.Fatalf("violations: %d, want 1 (the numeric key):\n%s", len(got), strings.Join(got, "\n"))
			}
			if tr.Exchanges() != n {
				t.Errorf("Exchanges() = %d, want %d", tr.Exchanges(), n)
			}
		})
	}
}

// openWatch opens a watch stream with body (and token) and returns its
// lines, read through the validating body until the test ends.
func openWatch(t *testing.T, c *http.Client, ep, body, token string) *bufio.Scanner {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ep+"/v3/watch", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: %s", resp.Status)
	}
	return bufio.NewScanner(resp.Body)
}

// watchV3 opens a watch stream on the prefix of k from revision 1, writes
// once more and reads the created message and the events through the
// validating body. It returns the number of exchanges it made.
func watchV3(t *testing.T, c *http.Client, ep, k string) int {
	t.Helper()
	lines := openWatch(t, c, ep, `{"create_request":{"key":"`+b64("/t/")+`","range_end":"`+b64("/t0")+`","start_revision":"1","prev_kv":true}}`, "")
	if !lines.Scan() || !strings.Contains(lines.Text(), `"created":true`) {
		t.Fatalf("watch: first message %q, want created (%v)", lines.Text(), lines.Err())
	}
	v3call{"/v3/kv/txn", `{"success":[{"request_delete_range":{"key":"` + k + `","prev_kv":true}}]}`, 200, ""}.do(t, c, ep)
	for !strings.Contains(lines.Text(), `"DELETE"`) {
		if !lines.Scan() {
			t.Fatalf("watch: the stream ended before the delete: %v", lines.Err())
		}
	}
	return 2
}

// watchCompacted opens a watch from a compacted revision: created, then
// cancelled with the compact revision.
func watchCompacted(t *testing.T, c *http.Client, ep string) int {
	t.Helper()
	lines := openWatch(t, c, ep, `{"create_request":{"key":"`+b64("/t/")+`","start_revision":"1"}}`, "")
	for !strings.Contains(lines.Text(), `"compact_revision"`) {
		if !lines.Scan() {
			t.Fatalf("watch from a compacted revision: no cancel message: %v", lines.Err())
		}
	}
	return 1
}

// authV3 turns auth on, reads with a token, with a wrong token (401), with
// none (400), watches with a wrong token (cancelled on a 200 stream), and
// turns auth off again. It returns the number of exchanges it made.
func authV3(t *testing.T, c *http.Client, ep string) int {
	t.Helper()
	for _, x := range []v3call{
		{"/v3/auth/user/add", `{"name":"root","password":"rootpw"}`, 200, ""},
		{"/v3/auth/role/add", `{"name":"root"}`, 200, ""},
		{"/v3/auth/user/grant", `{"user":"root","role":"root"}`, 200, ""},
		{"/v3/auth/enable", `{}`, 200, ""},
	} {
		// Auth administration is not part of the spec: it goes around the
		// contract transport.
		x.do(t, http.DefaultClient, ep)
	}
	defer func() {
		var out struct{ Token string }
		if err := json.Unmarshal(v3call{"/v3/auth/authenticate", `{"name":"root","password":"rootpw"}`, 200, ""}.do(t, http.DefaultClient, ep), &out); err != nil {
			t.Fatal(err)
		}
		v3call{"/v3/auth/disable", `{}`, 200, out.Token}.do(t, http.DefaultClient, ep)
	}()
	var out struct{ Token string }
	if err := json.Unmarshal(v3call{"/v3/auth/authenticate", `{"name":"root","password":"rootpw"}`, 200, ""}.do(t, c, ep), &out); err != nil {
		t.Fatal(err)
	}
	calls := []v3call{
		{"/v3/kv/range", `{"key":"` + b64("/t/") + `"}`, 200, out.Token},
		{"/v3/kv/range", `{"key":"` + b64("/t/") + `"}`, 401, out.Token + "x"},
		{"/v3/kv/range", `{"key":"` + b64("/t/") + `"}`, 400, ""},
	}
	for _, x := range calls {
		x.do(t, c, ep)
	}
	lines := openWatch(t, c, ep, `{"create_request":{"key":"`+b64("/t/")+`"}}`, out.Token+"x")
	if !lines.Scan() || !strings.Contains(lines.Text(), `"canceled":true`) {
		t.Errorf("watch with a wrong token: %q, want a cancelled watch", lines.Text())
	}
	return 1 + len(calls) + 1
}
