package cluster

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestTLSWithClientCertificates runs a real etcd that serves https and
// requires client certificates: with the CA and a client certificate the
// client works; without the CA, or without a certificate, it fails with an
// error that says why — verification is on by default.
func TestTLSWithClientCertificates(t *testing.T) {
	for _, s := range etcdtest.Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			_, ca, eps := etcdtest.StartTLSCluster(t, s)

			cert, key := ca.IssueClientCert(t, "app")
			tr := clienttest.NewTransport(t, ca.ClientTLSConfig(t, cert, key))
			c, err := client.New(client.Config{Endpoints: eps, Transport: tr, HeaderTimeoutPerRequest: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			kapi := client.NewKeysAPI(c)
			if _, err := kapi.Set(t.Context(), "/tls/k", "secret-free", nil); err != nil {
				t.Fatalf("set over mTLS: %v", err)
			}
			resp, err := kapi.Get(t.Context(), "/tls/k", nil)
			if err != nil || resp.Node.Value != "secret-free" {
				t.Fatalf("get over mTLS: %v, %v", resp, err)
			}
			if tr.Exchanges() == 0 {
				t.Fatal("no exchange was validated")
			}

			// The default transport verifies certificates: the test CA is
			// unknown to it.
			c2, err := client.New(client.Config{Endpoints: eps})
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.NewKeysAPI(c2).Get(t.Context(), "/tls/k", nil)
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("an untrusted server certificate was accepted: %v", err)
			}

			// Trusting the CA but presenting no client certificate: the
			// server refuses the handshake.
			c3, err := client.New(client.Config{Endpoints: eps, Transport: &noCancel{&http.Transport{TLSClientConfig: ca.ClientTLSConfig(t, "", "")}}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.NewKeysAPI(c3).Get(t.Context(), "/tls/k", nil)
			if err == nil {
				t.Fatal("a client without a certificate was served")
			}
			t.Logf("%s: mTLS ok; without CA: certificate error; without client cert: %v", s, err)
		})
	}
}

// noCancel adapts a plain *http.Transport to client.CancelableTransport.
type noCancel struct{ *http.Transport }

func (noCancel) CancelRequest(*http.Request) {}
