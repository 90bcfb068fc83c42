package contract_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"go.uber.org/goleak"

	"github.com/meycoin/goetcd/tests/contract"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

func TestMain(m *testing.M) {
	if _, err := etcdtest.Build35(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

// probeSpec is a copy of the toolchain probe spec, so these self-tests do
// not depend on the repository's openapi.yaml, which evolves separately.
var probeSpec = filepath.Join("testdata", "probe.yaml")

// recorder captures Errorf so a test can assert that a violation was
// reported without failing itself; everything else goes to the real test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) reported() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// newProbeClient returns a validating client over a transport of its own,
// whose idle connections are closed at the end so goleak stays quiet.
func newProbeClient(t *testing.T, tb testing.TB) (*http.Client, *contract.Transport) {
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	tr := contract.New(tb, probeSpec, base)
	return tr.Client(), tr
}

type exchange struct {
	method, path string
	form         url.Values
	want         int
}

func (x exchange) do(t *testing.T, c *http.Client, endpoint string) []byte {
	t.Helper()
	var body io.Reader
	if x.form != nil {
		body = strings.NewReader(x.form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), x.method, endpoint+x.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if x.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", x.method, x.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", x.method, x.path, err)
	}
	if resp.StatusCode != x.want {
		t.Errorf("%s %s: status %d, want %d; body %s", x.method, x.path, resp.StatusCode, x.want, b)
	}
	return b
}

// TestRealEtcdConforms drives described exchanges against real etcd: plain
// and CAS writes, raw and %2F-escaped slashes, errors, in-order keys,
// long-poll and stream watches, members and auth reads. None may be flagged.
func TestRealEtcdConforms(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			c := etcdtest.StartCluster(t, s, 1)
			ep := c.Endpoints()[0]
			rec := &recorder{TB: t}
			client, tr := newProbeClient(t, rec)

			exchanges := []exchange{
				{"PUT", "/v2/keys/dir/a", url.Values{"value": {"1"}}, 201},
				{"PUT", "/v2/keys/dir/a?prevExist=true", url.Values{"value": {"2"}}, 200},
				{"PUT", "/v2/keys/dir/a?prevValue=wrong", url.Values{"value": {"3"}}, 412},
				{"GET", "/v2/keys/dir/a", nil, 200},
				{"GET", "/v2/keys/dir%2Fa", nil, 200},
				{"GET", "/v2/keys/dir?recursive=true&sorted=true", nil, 200},
				{"GET", "/v2/keys/missing", nil, 404},
				{"GET", "/v2/keys/dir/a?recursive=maybe", nil, 400},
				{"POST", "/v2/keys/queue", url.Values{"value": {"job"}}, 201},
				{"GET", "/v2/keys/dir/a?wait=true&waitIndex=1", nil, 200},
				{"DELETE", "/v2/keys/dir/a", nil, 200},
				{"GET", "/v2/members", nil, 200},
				{"GET", "/v2/auth/enable", nil, 200},
				{"GET", "/v2/auth/users", nil, 200},
			}
			for _, x := range exchanges {
				x.do(t, client, ep)
			}
			// recursive=maybe is a deliberately bad request: the spec
			// declares a boolean, so the transport must flag the request
			// while etcd answers 400/209. Everything else must pass.
			want := []string{"recursive"}
			streamExchanges := streamWatch(t, client, ep)

			got := rec.reported()
			if len(got) != len(want) {
				t.Fatalf("violations = %d, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
			}
			for i, w := range want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d = %q, want it to mention %q", i, got[i], w)
				}
			}
			if n := len(exchanges) + streamExchanges; tr.Exchanges() != n {
				t.Errorf("Exchanges() = %d, want %d", tr.Exchanges(), n)
			}
			if tr.Violations() != len(want) {
				t.Errorf("Violations() = %d, want %d", tr.Violations(), len(want))
			}
		})
	}
}

// streamWatch opens a stream watch, makes two writes, and reads both events
// through the validating body before giving up on the stream. It returns
// the number of exchanges it made.
func streamWatch(t *testing.T, client *http.Client, ep string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/v2/keys/streamed?wait=true&stream=true", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("stream watch: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream watch: %s", resp.Status)
	}
	for _, v := range []string{"one", "two"} {
		exchange{"PUT", "/v2/keys/streamed", url.Values{"value": {v}}, 0}.doQuiet(t, client, ep)
	}
	lines := bufio.NewScanner(resp.Body)
	for _, want := range []string{"one", "two"} {
		if !lines.Scan() {
			t.Fatalf("stream ended before event %q: %v", want, lines.Err())
		}
		var ev struct{ Node struct{ Value string } }
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil || ev.Node.Value != want {
			t.Fatalf("stream event %q: value %q, err %v", lines.Text(), ev.Node.Value, err)
		}
	}
	return 3
}

func (x exchange) doQuiet(t *testing.T, c *http.Client, endpoint string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), x.method, endpoint+x.path, strings.NewReader(x.form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", x.method, x.path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestUndescribedEndpointReported: /v2/stats/self is real but not in the
// probe spec, so it must be reported, and the caller still gets the answer.
func TestUndescribedEndpointReported(t *testing.T) {
	c := etcdtest.StartCluster(t, etcdtest.Servers(t)[0], 1)
	rec := &recorder{TB: t}
	client, tr := newProbeClient(t, rec)
	body := exchange{"GET", "/v2/stats/self", nil, 200}.do(t, client, c.Endpoints()[0])
	if !strings.Contains(string(body), `"state"`) {
		t.Errorf("caller did not get the real body: %s", body)
	}
	got := rec.reported()
	if len(got) != 1 || !strings.Contains(got[0], "GET") || !strings.Contains(got[0], "/v2/stats/self") || !strings.Contains(got[0], "no route") {
		t.Fatalf("want one no-route report for GET /v2/stats/self, got %q", got)
	}
	if tr.Violations() != 1 || tr.Exchanges() != 1 {
		t.Errorf("Violations/Exchanges = %d/%d, want 1/1", tr.Violations(), tr.Exchanges())
	}
}

// fakeEtcd serves canned answers, for violations a healthy etcd never
// produces.
func fakeEtcd(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func keysHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Etcd-Index", "7")
	w.Header().Set("X-Etcd-Cluster-Id", "cdf818194e3a8c32")
	w.Header().Set("X-Raft-Index", "9")
	w.Header().Set("X-Raft-Term", "2")
}

func TestViolationsReported(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		x       exchange
		want    string // substring of the single report; "" means no report
	}{
		{
			name: "body breaks schema",
			handler: func(w http.ResponseWriter, r *http.Request) {
				keysHeaders(w)
				fmt.Fprintln(w, `{"action":"teleport","node":{"key":"/x"}}`)
			},
			x:    exchange{"GET", "/v2/keys/x", nil, 200},
			want: "teleport",
		},
		{
			name: "header breaks schema",
			handler: func(w http.ResponseWriter, r *http.Request) {
				keysHeaders(w)
				w.Header().Set("X-Etcd-Index", "not-a-number")
				fmt.Fprintln(w, `{"action":"get","node":{"key":"/x"}}`)
			},
			x:    exchange{"GET", "/v2/keys/x", nil, 200},
			want: "X-Etcd-Index",
		},
		{
			name: "undeclared status",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"message":"boom"}`)
			},
			x:    exchange{"GET", "/v2/auth/enable", nil, 500},
			want: "status is not supported",
		},
		{
			name: "undeclared redirect is reported and not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/v2/auth/enable/", http.StatusTemporaryRedirect)
			},
			x:    exchange{"GET", "/v2/auth/enable", nil, 307},
			want: "status 307 is not declared",
		},
		{
			name: "bad request parameter",
			handler: func(w http.ResponseWriter, r *http.Request) {
				keysHeaders(w)
				fmt.Fprintln(w, `{"action":"set","node":{"key":"/x"}}`)
			},
			x:    exchange{"PUT", "/v2/keys/x?prevExist=maybe", url.Values{"value": {"v"}}, 200},
			want: "prevExist",
		},
		{
			name: "raw slashes route, percent-escaped too",
			handler: func(w http.ResponseWriter, r *http.Request) {
				keysHeaders(w)
				fmt.Fprintln(w, `{"action":"get","node":{"key":"/a/b/c"}}`)
			},
			x: exchange{"GET", "/v2/keys/a/b%2Fc", nil, 200},
		},
		{
			name: "empty body closing a long poll is legal",
			handler: func(w http.ResponseWriter, r *http.Request) {
				keysHeaders(w)
				w.WriteHeader(http.StatusOK)
			},
			x: exchange{"GET", "/v2/keys/x?wait=true&waitIndex=8", nil, 200},
		},
		{
			name: "empty body without wait is not",
			handler: func(w http.ResponseWriter, r *http.Request) {
				keysHeaders(w)
				w.WriteHeader(http.StatusOK)
			},
			x:    exchange{"GET", "/v2/keys/x", nil, 200},
			want: "EOF",
		},
		{
			name: "password in URL is redacted",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{}`)
			},
			x:    exchange{"GET", "/v2/stats/self", nil, 200},
			want: "no route",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ep := fakeEtcd(t, tc.handler)
			if strings.Contains(tc.name, "password") {
				ep = strings.Replace(ep, "http://", "http://alice:s3cret@", 1)
			}
			rec := &recorder{TB: t}
			client, _ := newProbeClient(t, rec)
			tc.x.do(t, client, ep)
			got := rec.reported()
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("unexpected reports: %q", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("want one report mentioning %q, got %q", tc.want, got)
			}
			for _, g := range got {
				if strings.Contains(g, "s3cret") {
					t.Errorf("report leaks the password: %q", g)
				}
			}
		})
	}
}

// TestStreamValidatedIncrementally proves the stream body is not buffered:
// the fake server sends the second event only after the client has read the
// first, so a buffering transport would deadlock until the timeout. The
// second event is invalid and must be reported as it passes through.
func TestStreamValidatedIncrementally(t *testing.T) {
	firstRead := make(chan struct{})
	ep := fakeEtcd(t, func(w http.ResponseWriter, r *http.Request) {
		keysHeaders(w)
		w.WriteHeader(http.StatusOK)
		fmt.Fprintln(w, `{"action":"set","node":{"key":"/s","value":"1"}}`)
		w.(http.Flusher).Flush()
		select {
		case <-firstRead:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
			return
		}
		// Split across writes so the validator must join partial reads.
		fmt.Fprint(w, `{"action":"set","node":`)
		w.(http.Flusher).Flush()
		fmt.Fprintln(w, `{"value":"no key"}}`)
	})
	rec := &recorder{TB: t}
	client, tr := newProbeClient(t, rec)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/v2/keys/s?wait=true&stream=true", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() {
		t.Fatalf("no first event: %v", lines.Err())
	}
	if len(rec.reported()) != 0 {
		t.Fatalf("valid first event reported: %q", rec.reported())
	}
	close(firstRead)
	if !lines.Scan() {
		t.Fatalf("no second event (was the body buffered?): %v", lines.Err())
	}
	if lines.Scan() {
		t.Errorf("unexpected third line %q", lines.Text())
	}
	got := rec.reported()
	if len(got) != 1 || !strings.Contains(got[0], "stream event") || !strings.Contains(got[0], "key") {
		t.Errorf("want one report about the event missing key, got %q", got)
	}
	if tr.Violations() != 1 {
		t.Errorf("Violations() = %d, want 1", tr.Violations())
	}
}

// TestDefaultSpecPath checks the default resolves to the repository root,
// whether or not openapi.yaml exists there yet.
func TestDefaultSpecPath(t *testing.T) {
	want, err := filepath.Abs(filepath.Join("..", "..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := filepath.Abs(contract.DefaultSpecPath())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("DefaultSpecPath() = %s, want %s", got, want)
	}
}

// TestTextPlainJSON covers /health: JSON sent as text/plain is checked
// against an object schema instead of being rejected as a string.
func TestTextPlainJSON(t *testing.T) {
	for _, tc := range []struct {
		body    string
		reports int
	}{
		{`{"health":"true"}`, 0},
		{`{"health":"maybe"}`, 1},
	} {
		ep := fakeEtcd(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprint(w, tc.body)
		})
		rec := &recorder{TB: t}
		base := &http.Transport{}
		t.Cleanup(base.CloseIdleConnections)
		client := contract.New(rec, filepath.Join("testdata", "health.yaml"), base).Client()
		exchange{"GET", "/health", nil, 200}.do(t, client, ep)
		if got := rec.reported(); len(got) != tc.reports {
			t.Errorf("body %s: %d reports, want %d: %q", tc.body, len(got), tc.reports, got)
		}
	}
}

// TestLoadMergesRefused: the requests etcd always refuses are kept out of
// the spec's operations, in x-always-refused; Load puts them back on their
// paths with every reference resolved, so the transport can check them.
func TestLoadMergesRefused(t *testing.T) {
	doc, err := contract.Load(contract.DefaultSpecPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ path, method, id string }{
		{"/v2/keys", http.MethodPut, "setKeysRoot"},
		{"/v2/keys", http.MethodDelete, "deleteKeysRoot"},
		{"/v2/members/leader", http.MethodDelete, "deleteMemberNamedLeader"},
	} {
		item := doc.Paths.Value(want.path)
		if item == nil {
			t.Fatalf("no path %s", want.path)
		}
		op := item.GetOperation(want.method)
		if op == nil || op.OperationID != want.id {
			t.Fatalf("%s %s: operation %+v, want %s", want.method, want.path, op, want.id)
		}
		for status, r := range op.Responses.Map() {
			if r.Value == nil {
				t.Fatalf("%s: response %s unresolved", want.id, status)
			}
			for mt, c := range r.Value.Content {
				if c.Schema == nil || c.Schema.Value == nil {
					t.Errorf("%s: %s %s schema unresolved", want.id, status, mt)
				}
			}
		}
	}
	// The spec itself must not offer them: a generator would make functions
	// that can only fail.
	plain, err := openapi3.NewLoader().LoadFromFile(contract.DefaultSpecPath())
	if err != nil {
		t.Fatal(err)
	}
	if plain.Paths.Value("/v2/keys").Put != nil || plain.Paths.Value("/v2/members/leader").Delete != nil {
		t.Error("openapi.yaml offers a request etcd always refuses as an operation")
	}
}

// TestLoadRejectsBadRefused: a refused request on an unknown path, or on a
// method the path already has, is an error rather than silently dropped.
func TestLoadRejectsBadRefused(t *testing.T) {
	for name, ext := range map[string]string{
		"unknown path": "/nope:\n    get:\n      responses:\n        '404': {description: x}\n",
		"collision":    "/health:\n    get:\n      responses:\n        '404': {description: x}\n",
	} {
		t.Run(name, func(t *testing.T) {
			spec := filepath.Join(t.TempDir(), "spec.yaml")
			src, err := os.ReadFile(filepath.Join("testdata", "health.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(spec, append(src, []byte("x-always-refused:\n  "+ext)...), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := contract.Load(spec); err == nil || !strings.Contains(err.Error(), "x-always-refused") {
				t.Errorf("Load: %v, want an error naming x-always-refused", err)
			}
		})
	}
}
