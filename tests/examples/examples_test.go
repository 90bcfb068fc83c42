// Package examples_test runs the client package's testable examples
// (client/example_test.go: the package documentation's and the main calls')
// against real etcd servers, every exchange validated against openapi.yaml.
// `go test ./client/` runs them too, against the answers etcd 3.5.35 gave
// them (client/testdata/examples.json); -update records those again.
package examples_test

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/tests/contract"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

var update = flag.Bool("update", false, "record client/testdata/examples.json again from etcd "+etcdtest.Version35)

func TestMain(m *testing.M) { etcdtest.Main(m) }

// exampleNames are the examples client/example_test.go declares.
func exampleNames(t *testing.T, root string) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "client", "example_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^func (Example\w*)\(\)`).FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	if len(names) == 0 {
		t.Fatal("client/example_test.go declares no example")
	}
	return names
}

// validatingProxy forwards to endpoint through the contract transport.
func validatingProxy(t *testing.T, endpoint string) (*httptest.Server, *contract.Transport) {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	base := &http.Transport{DisableKeepAlives: true}
	ct := contract.New(t, "", base)
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = target.Host },
		Transport:     ct,
		FlushInterval: -1,
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv, ct
}

// Each version gets a fresh 1-member cluster; the examples run in `go test`
// of the root module with GOETCD_EXAMPLE_ENDPOINTS pointing at a validating
// proxy in front of it, and must print what their Output comments say.
func TestClientExamplesAgainstEtcd(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	names := exampleNames(t, root)
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 1)
			srv, ct := validatingProxy(t, cl.Endpoints()[0])

			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-run", "^Example", "./client/")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOWORK=off", "GOETCD_EXAMPLE_ENDPOINTS="+srv.URL)
			record := *update && s.Version == etcdtest.Version35
			if record {
				cmd.Env = append(cmd.Env, "GOETCD_EXAMPLE_RECORD="+filepath.Join(root, "client", "testdata", "examples.json"))
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the client's examples against etcd %s: %v\n%s", s.Version, err, out)
			}
			for _, name := range names {
				if !strings.Contains(string(out), "--- PASS: "+name+" ") {
					t.Errorf("%s did not pass against etcd %s:\n%s", name, s.Version, out)
				}
			}
			if ct.Exchanges() == 0 {
				t.Error("no exchange went through the validating proxy")
			}
			if v := ct.Violations(); v != 0 {
				t.Errorf("%d contract violations (see above)", v)
			}
			if record {
				t.Logf("recorded %d exchanges into client/testdata/examples.json", ct.Exchanges())
			}
		})
	}
}
