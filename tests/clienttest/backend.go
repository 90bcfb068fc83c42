package clienttest

import (
	"os"
	"strings"
	"testing"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/etcdtest"
	"github.com/meycoin/goetcd/v3keys"
)

// BackendsEnv restricts Backends to "v2" or "v3" (comma-separated); empty
// means both.
const BackendsEnv = "GOETCD_BACKENDS"

// Backend is one implementation of client.KeysAPI under test on one server:
// the v2 client on a server's v2 API, or the v3 backend (package v3keys) on
// its v3 gateway. Suites take it as a parameter, so the same test runs on
// both.
type Backend struct {
	Server etcdtest.Server
	// V3 selects the v3 backend.
	V3 bool
}

// String names the backend in subtest names: the server's name for the v2
// client (as the suites named their subtests before there were two
// backends), "v3-" and the server's name for the v3 backend.
func (b Backend) String() string {
	if b.V3 {
		return "v3-" + b.Server.String()
	}
	return b.Server.String()
}

// Backends returns the v2 client on every server of etcdtest.Servers, then
// the v3 backend on every server of etcdtest.V3Servers (3.5.35 and 3.6.x),
// as GOETCD_BACKENDS and GOETCD_ETCD_VERSIONS allow.
func Backends(t testing.TB) []Backend {
	t.Helper()
	want := strings.FieldsFunc(os.Getenv(BackendsEnv), func(r rune) bool { return r == ',' || r == ' ' })
	allows := func(name string) bool {
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			if w == name {
				return true
			}
		}
		return false
	}
	var out []Backend
	if allows("v2") {
		for _, s := range etcdtest.Servers(t) {
			out = append(out, Backend{Server: s})
		}
	}
	if allows("v3") {
		for _, s := range etcdtest.V3Servers(t) {
			out = append(out, Backend{Server: s, V3: true})
		}
	}
	if len(out) == 0 {
		t.Skipf("clienttest: no backend matches %s=%q", BackendsEnv, os.Getenv(BackendsEnv))
	}
	return out
}

// KeysAPI makes the backend's KeysAPI for endpoints with cfg (its
// Transport, WatchTransport, HeaderTimeoutPerRequest, MaxResponseBytes,
// Logger, and Username and Password, which the v3 backend exchanges for a
// token; the v2 client takes all of cfg). It also returns the v2 client.Client,
// or nil for the v3 backend, which has none.
func (b Backend) KeysAPI(t testing.TB, endpoints []string, cfg client.Config) (client.KeysAPI, client.Client) {
	t.Helper()
	if b.V3 {
		k, err := v3keys.New(v3keys.Config{
			Endpoints:               endpoints,
			Username:                cfg.Username,
			Password:                cfg.Password,
			Transport:               cfg.Transport,
			WatchTransport:          cfg.WatchTransport,
			HeaderTimeoutPerRequest: cfg.HeaderTimeoutPerRequest,
			MaxResponseBytes:        cfg.MaxResponseBytes,
			Logger:                  cfg.Logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		return k, nil
	}
	cfg.Endpoints = endpoints
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client.NewKeysAPI(c), c
}
