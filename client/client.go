// Package client provides bindings for the etcd v2 APIs: keys and watch,
// members, auth, and the cluster's status.
//
// Create a Config and exchange it for a Client, then make the API values you
// need from it (NewKeysAPI, NewMembersAPI, NewAuthUserAPI, ...). Clients are
// safe for concurrent use by multiple goroutines.
//
// Every call takes a context first; a cancelled or expired context ends the
// call at once and the call returns the context's error. Within the
// context's time a call may go to several members: reads and writes that are
// safe to repeat move on to the next member when one fails; writes that are
// not (create, compare-and-swap, in-order create, ...) are never sent twice
// once they may have reached a server, and report an OutcomeUnknownError
// instead.
package client

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/meycoin/goetcd/api/version"
)

// DefaultRequestTimeout is a sensible timeout for one API call, for callers
// that want one: context.WithTimeout(ctx, client.DefaultRequestTimeout).
// The client itself sets no overall timeout.
var DefaultRequestTimeout = 5 * time.Second

// DefaultTransport is the Transport used when Config.Transport is nil. It
// verifies TLS certificates, honours HTTP_PROXY and friends, bounds dial
// (30 s) and TLS handshake (10 s) times, and keeps up to 64 idle connections
// per member so that concurrent callers reuse connections instead of opening
// new ones.
//
// It opens no more than 64 connections per member (MaxConnsPerHost, the
// size of the idle pool), so that every connection it opens can go back to
// the pool: a 65th concurrent request waits for a connection to come free
// instead of opening one that would be closed after a single use, and a
// burst of callers starting at once opens no more connections than there
// are callers. Watches are not held by this cap: see Config.WatchTransport.
//
// It does not ask for gzip: etcd's v2 API never compresses its answers (3.4
// and 3.5 ignore Accept-Encoding), so asking would only cost a header on
// every request.
var DefaultTransport CancelableTransport = &http.Transport{
	Proxy: http.ProxyFromEnvironment,
	DialContext: (&net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
	}).DialContext,
	TLSHandshakeTimeout: 10 * time.Second,
	TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
	MaxIdleConns:        256,
	MaxIdleConnsPerHost: 64,
	MaxConnsPerHost:     64,
	IdleConnTimeout:     90 * time.Second,
	DisableCompression:  true,
}

// CancelableTransport mimics net/http.Transport, but requires that the object
// also support request cancellation. This client cancels requests through
// their context; CancelRequest is never called, so a transport may implement
// it as a no-op.
type CancelableTransport interface {
	http.RoundTripper
	CancelRequest(req *http.Request)
}

// CheckRedirectFunc decides whether a redirect is followed. via is the number
// of requests already made; an error stops the chain and is returned.
type CheckRedirectFunc func(via int) error

// DefaultCheckRedirect follows up to 10 redirects, but no more.
var DefaultCheckRedirect CheckRedirectFunc = func(via int) error {
	if via > 10 {
		return ErrTooManyRedirects
	}
	return nil
}

// EndpointSelectionMode is the policy for choosing the member that requests
// go to first.
type EndpointSelectionMode int

const (
	// EndpointSelectionRandom is the default value of the 'SelectionMode'.
	// As the name implies, the client object will pick a node from the members
	// of the cluster in a random fashion. If the cluster has three members, A, B,
	// and C, the client picks any node from its three members as its request
	// destination. The choice is kept (pinned) until that member fails.
	EndpointSelectionRandom EndpointSelectionMode = iota

	// If 'SelectionMode' is set to 'EndpointSelectionPrioritizeLeader',
	// requests are sent directly to the cluster leader. This reduces
	// forwarding roundtrips compared to making requests to etcd followers
	// who then forward them to the cluster leader. In the event of a leader
	// failure, however, clients configured this way cannot prioritize among
	// the remaining etcd followers. Therefore, when a client sets 'SelectionMode'
	// to 'EndpointSelectionPrioritizeLeader', it must use 'client.AutoSync()' to
	// maintain its knowledge of current cluster state.
	//
	// This mode should be used with Client.AutoSync().
	EndpointSelectionPrioritizeLeader
)

// Config is what New needs to make a Client. The zero value of every field
// but Endpoints is usable.
type Config struct {
	// Endpoints defines a set of URLs (schemes, hosts and ports only, plus
	// an optional base path) that can be used to communicate with a logical
	// etcd cluster. For example, a three-node cluster could be provided like
	// so:
	//
	// 	Endpoints: []string{
	// 		"http://node1.example.com:2379",
	// 		"http://node2.example.com:2379",
	// 		"http://node3.example.com:2379",
	// 	}
	//
	// Each must have the scheme http or https and a host; New refuses
	// anything else with an error naming the endpoint. Duplicates are
	// dropped. If multiple endpoints are provided, the Client will attempt
	// to use them all in the event that one or more of them are unusable.
	//
	// If Client.Sync is ever called, the Client may cache an alternate
	// set of endpoints to continue operation.
	Endpoints []string

	// Transport is used by the Client to drive HTTP requests. If not
	// provided, DefaultTransport will be used. Give an *http.Transport with
	// a TLSClientConfig for https endpoints with a private CA or client
	// certificates.
	//
	// An *http.Transport (DefaultTransport too) gives its settings to the
	// Client's own connection transport, NewTransport, which sends the
	// requests with less CPU than net/http's Transport does; requests it
	// does not send itself (through a proxy, over HTTP/2) still go through
	// the *http.Transport. Clients made with one DefaultTransport share its
	// connections; Clients made with another *http.Transport each keep
	// their own, unless given the one NewTransport(t) as their Transport.
	// A Transport of any other type is used as it is.
	Transport CancelableTransport

	// WatchTransport drives the requests of watchers (Watcher.Next), which
	// each hold a connection for as long as they wait for an event. If nil,
	// watches go through Transport, except when Transport (or the
	// DefaultTransport used in its place) is an *http.Transport: then they
	// go through NewWatchTransport of it, without its MaxConnsPerHost cap,
	// so that waiting watchers never take the connections other requests
	// need, nor wait for them, and each costs one goroutine of its own
	// instead of net/http's two per connection.
	WatchTransport CancelableTransport

	// CheckRedirect specifies the policy for handling HTTP redirects.
	// If CheckRedirect is not nil, the Client calls it before
	// following an HTTP redirect. The sole argument is the number of
	// requests that have already been made. If CheckRedirect returns
	// an error, the call will not make any further requests and returns
	// the error.
	//
	// If CheckRedirect is nil, the Client uses DefaultCheckRedirect, which
	// stops after 10 redirects. Whatever it says, a redirect from https to
	// http is refused, and credentials are never sent to a host other than
	// the one the request was made to.
	CheckRedirect CheckRedirectFunc

	// Username specifies the user credential to add as an authorization
	// header (HTTP basic auth) on every request.
	Username string

	// Password is the password for the specified user to add as an
	// authorization header to the request. It never appears in errors,
	// debug output or logs.
	Password string

	// HeaderTimeoutPerRequest specifies the time limit to wait for response
	// header in a single request made by the Client. The timeout includes
	// connection time, any redirects, and header wait time.
	//
	// For non-watch GET request, server returns the response body immediately.
	// For PUT/POST/DELETE request, server will attempt to commit request
	// before responding, which is expected to take `100ms + 2 * RTT`.
	// For watch request, server returns the header immediately to notify Client
	// watch start. But if server is behind some kind of proxy, the response
	// header may be cached at proxy, and Client cannot rely on this behavior.
	//
	// Especially, wait request will ignore this timeout once the server has
	// answered with headers (etcd sends them at once; only that phase is
	// bounded, not the wait for the event).
	//
	// One API call may send multiple requests to different etcd servers until it
	// succeeds; each request gets its own HeaderTimeoutPerRequest, so one
	// member that hangs cannot use up the call's time. Use context of the API
	// to specify the overall timeout.
	//
	// A HeaderTimeoutPerRequest of zero means no timeout.
	HeaderTimeoutPerRequest time.Duration

	// SelectionMode is an EndpointSelectionMode enum that specifies the
	// policy for choosing the etcd cluster node to which requests are sent.
	SelectionMode EndpointSelectionMode

	// MaxResponseBytes, when positive, bounds the size of an answer's body
	// (a recursive Get of a huge tree, or something that is not etcd
	// sending without end): a larger answer is cut off with an error that
	// says so (*ResponseTooLargeError) instead of filling memory. Zero
	// means no limit. Streamed watch events are bounded one by one.
	MaxResponseBytes int64

	// Logger, when set, receives one record per attempt at Debug level
	// (message "etcd attempt") with the operation, endpoint, attempt number,
	// HTTP status or transport error, etcd error code when there is one, and
	// latency; and a Warn record when a write's outcome is unknown. Nothing
	// is logged when it is nil. Credentials and values are never logged.
	Logger *slog.Logger
}

// Client is a connection to one etcd cluster. Make one with New.
type Client interface {
	// Sync updates the internal cache of the etcd cluster's membership.
	Sync(context.Context) error
	// AutoSync periodically calls Sync() every given interval.
	// The recommended sync interval is 10 seconds to 1 minute, which does
	// not bring too much overhead to server and makes client catch up the
	// cluster change in time.
	//
	// The example to use it:
	//
	//	for {
	//		err := client.AutoSync(ctx, 10*time.Second)
	//		if err == context.DeadlineExceeded || err == context.Canceled {
	//			break
	//		}
	//		log.Print(err)
	//	}
	AutoSync(context.Context, time.Duration) error
	// Endpoints returns a copy of the current set of API endpoints used
	// by Client to resolve HTTP requests. If Sync has ever been called,
	// this may differ from the initial Endpoints provided in the Config.
	Endpoints() []string
	// SetEndpoints sets the set of API endpoints used by Client to resolve
	// HTTP requests. If the given endpoints are not valid, an error will be
	// returned
	SetEndpoints(eps []string) error
	// GetVersion retrieves the current etcd server and cluster version
	GetVersion(ctx context.Context) (*version.Versions, error)

	// cluster gives the package's APIs the request machinery.
	cluster() *httpClusterClient
}

// New makes a Client from cfg. It checks the endpoints (each needs the
// scheme http or https and a host) and returns an error naming the first
// one that does not fit. New sends nothing.
func New(cfg Config) (Client, error) {
	c := &httpClusterClient{
		transport:     cfg.Transport,
		checkRedirect: cfg.CheckRedirect,
		username:      cfg.Username,
		password:      cfg.Password,
		headerTimeout: cfg.HeaderTimeoutPerRequest,
		selectionMode: cfg.SelectionMode,
		logger:        cfg.Logger,
		maxBody:       cfg.MaxResponseBytes,
	}
	if c.transport == nil {
		c.transport = DefaultTransport
	}
	c.transport, c.watchTransport = transportsFor(c.transport)
	if cfg.WatchTransport != nil {
		c.watchTransport = cfg.WatchTransport
	}
	c.health = newHealth(c)
	c.health.leaderLost = c.leaderMayHaveChanged
	if c.checkRedirect == nil {
		c.checkRedirect = DefaultCheckRedirect
	}
	if cfg.MaxResponseBytes < 0 {
		return nil, invalidArg("Config.MaxResponseBytes", "negative (%d bytes); 0 means no limit", cfg.MaxResponseBytes)
	}
	if cfg.HeaderTimeoutPerRequest < 0 {
		return nil, invalidArg("Config.HeaderTimeoutPerRequest", "negative (%v); 0 means no timeout", cfg.HeaderTimeoutPerRequest)
	}
	switch cfg.SelectionMode {
	case EndpointSelectionRandom, EndpointSelectionPrioritizeLeader:
	default:
		return nil, invalidArg("Config.SelectionMode", "%d is not a known EndpointSelectionMode", cfg.SelectionMode)
	}
	if err := c.SetEndpoints(cfg.Endpoints); err != nil {
		return nil, err
	}
	return c, nil
}

// transportsFor returns the transports a Client sends its requests and its
// watches through when given t: for an *http.Transport, NewTransport and
// NewWatchTransport of it (made once for DefaultTransport, so that all
// Clients on it share their connections); t itself for both otherwise.
func transportsFor(t CancelableTransport) (keys, watches CancelableTransport) {
	ht, ok := t.(*http.Transport)
	if !ok {
		return t, t
	}
	if t != DefaultTransport {
		return NewTransport(ht), NewWatchTransport(ht)
	}
	defaults.Lock()
	defer defaults.Unlock()
	if defaults.of != ht {
		defaults.of, defaults.keys, defaults.watches = ht, NewTransport(ht), NewWatchTransport(ht)
	}
	return defaults.keys, defaults.watches
}

// defaults are the transports made from DefaultTransport, which all Clients
// on it share, remade if DefaultTransport is replaced.
var defaults struct {
	sync.Mutex
	of            *http.Transport
	keys, watches CancelableTransport
}

// Buffers of the connections of a watch transport: a watch request is a
// few hundred bytes, and its answer one event at a time, so the 4 KiB each
// of net/http's defaults would mostly sit empty on every waiting watch's
// connection. Larger events are read in more than one go.
const (
	watchReadBuffer  = 1024
	watchWriteBuffer = 512
)

// watchIdlePerMember is how many idle connections per member a watch
// transport keeps: when one write wakes many watchers, each connection is
// idle for a moment before its watcher's next long poll takes it again, and
// one closed for want of room would be dialled again at once.
const watchIdlePerMember = 1024

// WatchTransportFor returns the net/http transport a Client's watches fall
// back on (see NewWatchTransport) when Config.WatchTransport is nil and t
// caps its connections per member: a copy of t without that cap (so waiting watchers never take the
// connections other calls need), with small connection buffers (each
// waiting watch holds a connection), room for 1,024 idle connections per
// member (watchers woken at once poll again at once), and the same
// settings otherwise.
func WatchTransportFor(t *http.Transport) *http.Transport {
	w := t.Clone()
	w.MaxConnsPerHost = 0
	w.MaxIdleConnsPerHost = max(w.MaxIdleConnsPerHost, watchIdlePerMember)
	if w.MaxIdleConns > 0 {
		w.MaxIdleConns = max(w.MaxIdleConns, watchIdlePerMember)
	}
	if w.ReadBufferSize == 0 {
		w.ReadBufferSize = watchReadBuffer
	}
	if w.WriteBufferSize == 0 {
		w.WriteBufferSize = watchWriteBuffer
	}
	return w
}
