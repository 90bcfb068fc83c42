// Package clienttest builds goetcd clients for tests against real etcd: every
// exchange goes through the contract transport, so a request or answer that
// openapi.yaml does not describe fails the test.
package clienttest

import (
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/contract"
)

// Transport is a contract-validating transport usable as
// client.Config.Transport. Underneath, the requests go through
// client.NewTransport of an *http.Transport, as a Client given that
// *http.Transport would send them.
type Transport struct {
	*contract.Transport
	base  *http.Transport
	conns client.CancelableTransport
}

// CloseIdleConnections closes the idle connections underneath.
func (t *Transport) CloseIdleConnections() {
	t.conns.(interface{ CloseIdleConnections() }).CloseIdleConnections()
}

// CancelRequest is a no-op: the client cancels through contexts.
func (*Transport) CancelRequest(*http.Request) {}

// Base is the *http.Transport underneath, e.g. to count connections or cap
// them (its settings are read at each request).
func (t *Transport) Base() *http.Transport { return t.base }

// NewTransport returns a validating transport over a fresh *http.Transport
// (tlsConfig may be nil), whose idle connections are closed when the test
// ends so that no goroutine outlives it.
func NewTransport(t testing.TB, tlsConfig *tls.Config) *Transport {
	t.Helper()
	base := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	conns := client.NewTransport(base)
	tr := &Transport{Transport: contract.New(t, "", conns), base: base, conns: conns}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// New makes a client over endpoints with cfg, its Transport replaced by a
// validating one. It returns the transport too, to check its counters.
func New(t testing.TB, endpoints []string, cfg client.Config) (client.Client, *Transport) {
	t.Helper()
	tr := NewTransport(t, nil)
	cfg.Endpoints = endpoints
	cfg.Transport = tr
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, tr
}
