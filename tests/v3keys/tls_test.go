package v3keys_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
	"github.com/meycoin/goetcd/v3keys"
)

// TestTLS runs etcd serving https with client certificates
// (--client-cert-auth), its CA made for the test with crypto/x509
// (etcdtest.NewTestCA). Config.TLS with the CA and a client certificate
// works for writes, reads and a watch (the watch stream gets the same TLS
// configuration); the same exchanges through a validating transport with
// that configuration match the spec. Verification is on by default: with
// no Config.TLS, with one that trusts only the system's roots, or with one
// that trusts another CA, the server's certificate is refused with an
// error that names the unknown authority, at once and without a write.
func TestTLS(t *testing.T) {
	for _, s := range etcdtest.V3Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			_, ca, eps := etcdtest.StartTLSCluster(t, s)
			certFile, keyFile := ca.IssueClientCert(t, "app")
			good := ca.ClientTLSConfig(t, certFile, keyFile)
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}

			kapi, err := v3keys.New(v3keys.Config{Endpoints: eps, TLS: good, HeaderTimeoutPerRequest: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()
			first := must(t)(kapi.Set(ctx, "/tls/k", "v1", nil))
			if r := must(t)(kapi.Get(ctx, "/tls/k", nil)); r.Node.Value != "v1" {
				t.Fatalf("get over TLS: %+v", r.Node)
			}
			w := kapi.Watcher("/tls/k", &client.WatcherOptions{AfterIndex: first.Node.ModifiedIndex})
			next := must(t)(kapi.Set(ctx, "/tls/k", "v2", nil))
			if r, err := w.Next(ctx); err != nil || r.Node.Value != "v2" || r.Node.ModifiedIndex != next.Node.ModifiedIndex {
				t.Fatalf("watch over TLS: %+v, %v", r, err)
			}

			// The same exchanges, validated.
			tr := clienttest.NewTransport(t, good)
			vk, err := v3keys.New(v3keys.Config{Endpoints: eps, Transport: tr, WatchTransport: tr})
			if err != nil {
				t.Fatal(err)
			}
			must(t)(vk.Set(ctx, "/tls/v", "x", nil))
			must(t)(vk.Get(ctx, "/tls", &client.GetOptions{Recursive: true}))
			if n := tr.Exchanges(); n == 0 || tr.Violations() != 0 {
				t.Errorf("over TLS: %d exchanges validated, %d violations", n, tr.Violations())
			}

			other := etcdtest.NewTestCA(t)
			otherRoots := other.ClientTLSConfig(t, "", "")
			otherRoots.Certificates = []tls.Certificate{pair}
			for _, c := range []struct {
				name string
				tls  *tls.Config
			}{
				{"no Config.TLS (the default transport)", nil},
				{"Config.TLS with the system's roots", &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}},
				{"Config.TLS trusting another CA", otherRoots},
			} {
				k, err := v3keys.New(v3keys.Config{Endpoints: eps, TLS: c.tls})
				if err != nil {
					t.Fatal(err)
				}
				began := time.Now()
				_, err = k.Set(ctx, "/tls/refused", "x", nil)
				var ua x509.UnknownAuthorityError
				if !errors.As(err, &ua) || !strings.Contains(err.Error(), "certificate signed by unknown authority") || !strings.Contains(err.Error(), eps[0][len("https://"):]) {
					t.Errorf("%s: %v, want the unknown authority named, with the endpoint", c.name, err)
				}
				if d := time.Since(began); d > 10*time.Second {
					t.Errorf("%s: refused after %v", c.name, d)
				}
				t.Logf("%s: %s: %v", s, c.name, err)
			}
			if _, err := kapi.Get(ctx, "/tls/refused", nil); !client.IsKeyNotFound(err) {
				t.Errorf("a refused write reached the store: %v", err)
			}
			client.DefaultTransport.(interface{ CloseIdleConnections() }).CloseIdleConnections()
		})
	}
}
