package model

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

// SeedsEnv, set to 1, makes TestWriteFuzzSeeds record real server exchanges
// into the seed corpora of the client's fuzz targets
// (client/testdata/fuzz/<target>/real-<version>-<name>) that are not there
// yet; "overwrite" records all of them again. Those files are committed;
// make test replays them and make fuzz starts from them.
const SeedsEnv = "GOETCD_WRITE_FUZZ_SEEDS"

// exchange is one recorded request and answer.
type exchange struct {
	name, method, path, form, json string
	status                         int
	header                         http.Header
	body                           []byte
}

// TestWriteFuzzSeeds runs a script of requests against a fresh one-member
// cluster of each server version, with raw HTTP (not the client, so that the
// answers are the server's alone) and writes each answer as a seed of the
// fuzz target that decodes its family: key events and errors, member and
// auth answers, /version, stats errors, and a streamed watch.
func TestWriteFuzzSeeds(t *testing.T) {
	if v := os.Getenv(SeedsEnv); v != "1" && v != "overwrite" {
		t.Skipf("set %s=1 to record fuzz seeds from real servers", SeedsEnv)
	}
	root := filepath.Join("..", "..", "client", "testdata", "fuzz")
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			cl := etcdtest.StartCluster(t, s, 1)
			ep := cl.Endpoints()[0]
			hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
			do := func(x exchange) exchange {
				t.Helper()
				var body io.Reader
				if x.form != "" {
					body = strings.NewReader(x.form)
				} else if x.json != "" {
					body = strings.NewReader(x.json)
				}
				req, err := http.NewRequestWithContext(t.Context(), x.method, ep+x.path, body)
				if err != nil {
					t.Fatal(err)
				}
				if x.form != "" {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				} else if x.json != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", x.method, x.path, err)
				}
				x.body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				x.status, x.header = resp.StatusCode, resp.Header
				return x
			}
			var keys, keyErrs, httpErrs, cluster, auth []exchange
			k := func(name, method, path, form string) {
				x := do(exchange{name: name, method: method, path: "/v2/keys" + path, form: form})
				keys = append(keys, x)
				if x.status >= 400 && len(x.body) > 0 {
					keyErrs = append(keyErrs, x)
				}
			}
			k("set-new", "PUT", "/seed/a", "value=1")
			k("set-over", "PUT", "/seed/a", "value=2")
			k("create-exists", "PUT", "/seed/a", "value=x&prevExist=false")
			k("update", "PUT", "/seed/a", "value=3&prevExist=true")
			k("cas-fail", "PUT", "/seed/a", "value=x&prevValue=wrong&prevIndex=1")
			k("cas", "PUT", "/seed/a", "value=4&prevValue=3")
			k("set-ttl", "PUT", "/seed/t", "value=5&ttl=100")
			k("mkdir", "PUT", "/seed/d", "dir=true")
			k("in-order", "POST", "/seed/q", "value=x")
			k("in-order-ttl", "POST", "/seed/q", "value=y&ttl=50")
			k("hidden", "PUT", "/seed/_h", "value=hidden")
			k("unicode", "PUT", "/seed/%E2%9C%93%20x", "value=%E2%9C%93")
			k("get", "GET", "/seed/a", "")
			k("get-tree", "GET", "/seed?recursive=true&sorted=true", "")
			k("get-dir", "GET", "/seed", "")
			k("get-root", "GET", "/", "")
			k("not-found", "GET", "/seed/nope", "")
			k("not-found-deep", "GET", "/seed/nope/x", "")
			k("head", "HEAD", "/seed/a", "")
			k("head-missing", "HEAD", "/nope", "")
			k("not-a-dir", "PUT", "/seed/a/child", "value=x")
			k("not-a-file", "DELETE", "/seed", "")
			k("dir-not-empty", "DELETE", "/seed?dir=true", "")
			k("root-read-only", "DELETE", "/?recursive=true", "")
			k("bad-bool", "GET", "/seed?recursive=maybe", "")
			k("bad-ttl", "PUT", "/seed/a", "value=x&ttl=abc")
			k("bad-index", "PUT", "/seed/a", "value=x&prevIndex=abc")
			k("refresh-value", "PUT", "/seed/t", "value=x&refresh=true&ttl=5")
			k("refresh-no-ttl", "PUT", "/seed/t", "refresh=true")
			k("prev-value-empty", "PUT", "/seed/a", "value=x&prevValue=")
			k("refresh", "PUT", "/seed/t", "refresh=true&ttl=60&prevExist=true")
			k("no-value", "PUT", "/seed/nv", "value=x&noValueOnSuccess=true")
			k("cad", "DELETE", "/seed/a?prevValue=4", "")
			k("delete-dir", "DELETE", "/seed/d?dir=true", "")
			k("delete-tree", "DELETE", "/seed?recursive=true", "")
			k("wait-old", "GET", "/seed/a?wait=true&waitIndex=1", "")

			// A streamed watch: open it, write, read what came.
			stream := recordStream(t, hc, ep, func() {
				do(exchange{method: "PUT", path: "/v2/keys/w/k", form: "value=1"})
				do(exchange{method: "PUT", path: "/v2/keys/w/k", form: "value=2&ttl=30"})
				do(exchange{method: "DELETE", path: "/v2/keys/w/k"})
				do(exchange{method: "PUT", path: "/v2/keys/w/d", form: "dir=true"})
			}, 4)

			c := func(list *[]exchange, name, method, path, js string) {
				x := do(exchange{name: name, method: method, path: path, json: js})
				*list = append(*list, x)
				if x.status >= 400 && len(x.body) > 0 && bytes.HasPrefix(x.body, []byte(`{"message"`)) {
					httpErrs = append(httpErrs, x)
				}
			}
			peer := cl.Members()[0].PeerURL
			c(&cluster, "members", "GET", "/v2/members", "")
			c(&cluster, "leader", "GET", "/v2/members/leader", "")
			c(&cluster, "add-exists", "POST", "/v2/members", `{"peerURLs":["`+peer+`"]}`)
			c(&cluster, "add-bad-json", "POST", "/v2/members", `{bad`)
			c(&cluster, "version", "GET", "/version", "")
			c(&cluster, "member-not-found", "DELETE", "/v2/members/1234", "")
			c(&auth, "users-none", "GET", "/v2/auth/users", "")
			c(&auth, "roles", "GET", "/v2/auth/roles", "")
			c(&auth, "role-root", "GET", "/v2/auth/roles/root", "")
			c(&auth, "role-missing", "GET", "/v2/auth/roles/nope", "")
			c(&auth, "user-missing", "GET", "/v2/auth/users/nope", "")
			c(&auth, "enabled", "GET", "/v2/auth/enable", "")
			c(&auth, "enable-no-root", "PUT", "/v2/auth/enable", "")
			c(&auth, "role-create", "PUT", "/v2/auth/roles/r1", `{"role":"r1","permissions":{"kv":{"read":["/app/*"],"write":["/app/*"]}}}`)
			c(&auth, "role-grant", "PUT", "/v2/auth/roles/r1", `{"role":"r1","grant":{"kv":{"read":["/bar"],"write":[]}}}`)
			c(&auth, "role-exists", "PUT", "/v2/auth/roles/r1", `{"role":"r1"}`)
			c(&auth, "user-create", "PUT", "/v2/auth/users/u", `{"user":"u","password":"upw"}`)
			c(&auth, "user-grant", "PUT", "/v2/auth/users/u", `{"user":"u","grant":["r1"]}`)
			c(&auth, "user-grant-dup", "PUT", "/v2/auth/users/u", `{"user":"u","grant":["r1"]}`)
			c(&auth, "user-get", "GET", "/v2/auth/users/u", "")
			c(&auth, "users", "GET", "/v2/auth/users", "")
			c(&auth, "user-bad-json", "PUT", "/v2/auth/users/w", `{bad`)
			c(&auth, "stats-leader", "GET", "/v2/stats/leader", "")

			var status []exchange
			st := func(name, path string) { status = append(status, do(exchange{name: name, method: "GET", path: path})) }
			st("version", "/version")
			st("health", "/health")
			st("self", "/v2/stats/self")
			st("leader", "/v2/stats/leader")
			st("store", "/v2/stats/store")
			st("machines", "/v2/machines")

			v := s.Version
			statusWhich := map[string]int{"version": 0, "health": 1, "self": 2, "leader": 3, "store": 4, "machines": 5}
			for _, x := range status {
				writeSeed(t, root, "FuzzStatusAnswers", v, x.name, fmt.Sprintf("uint8(%d)", statusWhich[x.name]), fmt.Sprintf("int(%d)", x.status), "[]byte("+strconv.Quote(string(x.body))+")")
			}
			methods := map[string]int{"GET": 0, "PUT": 1, "POST": 2, "DELETE": 3, "HEAD": 4}
			for _, x := range keys {
				writeSeed(t, root, "FuzzKeysResult", v, x.name,
					fmt.Sprintf("int(%d)", x.status), fmt.Sprintf("uint8(%d)", methods[x.method]),
					"string("+strconv.Quote(x.header.Get("X-Etcd-Index"))+")", "[]byte("+strconv.Quote(string(x.body))+")")
			}
			for _, x := range keyErrs {
				writeSeed(t, root, "FuzzKeysError", v, x.name, "[]byte("+strconv.Quote(string(x.body))+")")
			}
			for _, x := range httpErrs {
				writeSeed(t, root, "FuzzHTTPError", v, x.name, fmt.Sprintf("int(%d)", x.status), "[]byte("+strconv.Quote(string(x.body))+")")
			}
			which := map[string]int{"members": 0, "leader": 1, "add-exists": 2, "add-bad-json": 2, "version": 3, "member-not-found": 0}
			for _, x := range cluster {
				writeSeed(t, root, "FuzzClusterAnswers", v, x.name, fmt.Sprintf("uint8(%d)", which[x.name]), fmt.Sprintf("int(%d)", x.status), "[]byte("+strconv.Quote(string(x.body))+")")
			}
			authWhich := map[string]int{"user-get": 0, "user-missing": 0, "user-create": 1, "user-grant": 1, "user-grant-dup": 1, "user-bad-json": 1,
				"users-none": 2, "users": 2, "role-root": 3, "role-missing": 3, "role-create": 3, "role-grant": 3, "role-exists": 3,
				"roles": 4, "enabled": 5, "enable-no-root": 5, "stats-leader": 5}
			for _, x := range auth {
				writeSeed(t, root, "FuzzAuthAnswers", v, x.name, fmt.Sprintf("uint8(%d)", authWhich[x.name]), fmt.Sprintf("int(%d)", x.status), "[]byte("+strconv.Quote(string(x.body))+")")
			}
			writeSeed(t, root, "FuzzWatchStream", v, "stream", "[]byte("+strconv.Quote(string(stream))+")", "uint16(0)")
			writeSeed(t, root, "FuzzWatchStream", v, "stream-limited", "[]byte("+strconv.Quote(string(stream))+")", "uint16(120)")
			t.Logf("%s: %d key, %d key error, %d message error, %d cluster, %d auth exchanges and a %d-byte stream recorded",
				s, len(keys), len(keyErrs), len(httpErrs), len(cluster), len(auth), len(stream))
		})
	}
}

// recordStream opens a stream=true watch of /w, runs writes, and returns
// the raw body once it holds want events (lines).
func recordStream(t *testing.T, hc *http.Client, ep string, writes func(), want int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ep+"/v2/keys/w?wait=true&recursive=true&stream=true", nil)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	writes()
	var buf bytes.Buffer
	r := bufio.NewReader(resp.Body)
	for n := 0; n < want; n++ {
		line, err := r.ReadBytes('\n')
		buf.Write(line)
		if err != nil {
			t.Fatalf("stream after %d events: %v", n, err)
		}
	}
	return buf.Bytes()
}

// writeSeed writes one corpus file in the format of go test -fuzz.
func writeSeed(t *testing.T, root, target, version, name string, values ...string) {
	t.Helper()
	dir := filepath.Join(root, target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := "go test fuzz v1\n" + strings.Join(values, "\n") + "\n"
	file := filepath.Join(dir, "real-"+version+"-"+name)
	if _, err := os.Stat(file); err == nil && os.Getenv(SeedsEnv) != "overwrite" {
		return // recorded before; GOETCD_WRITE_FUZZ_SEEDS=overwrite records it again
	}
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
