package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/meycoin/goetcd/api/version"
	"github.com/meycoin/goetcd/generated"
)

// placeholderServer is the base URL the generated request builders get. The
// cluster doer replaces scheme, host and base path with the endpoint of each
// attempt, so this name never goes on the wire (and .invalid never resolves,
// should a bug ever let it through).
const placeholderServer = placeholderScheme + "://" + placeholderHost

// The parts of placeholderServer.
const (
	placeholderScheme = "http"
	placeholderHost   = "etcd.invalid"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// httpClusterClient is the Client: the endpoint ring and the machinery that
// sends one API call to the cluster.
type httpClusterClient struct {
	transport CancelableTransport
	// watchTransport drives watch requests (Config.WatchTransport).
	watchTransport CancelableTransport
	checkRedirect  CheckRedirectFunc
	username       string
	password       string
	headerTimeout  time.Duration
	selectionMode  EndpointSelectionMode
	logger         *slog.Logger
	maxBody        int64 // Config.MaxResponseBytes; 0 = no limit

	// attempts is the http.Client every attempt goes through: it never
	// follows redirects itself (the attempt transport does, by the rules in
	// Config.CheckRedirect) and has no overall timeout (watches would break).
	attempts *http.Client

	mu        sync.RWMutex
	endpoints []*url.URL
	names     []string // endpoints[i].String(), made once
	pinned    int
}

func (c *httpClusterClient) cluster() *httpClusterClient { return c }

func (c *httpClusterClient) init() {
	c.attempts = &http.Client{
		Transport: &attemptTransport{c: c},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Endpoints returns a copy of the endpoints in the order they are tried
// from the pinned one on.
func (c *httpClusterClient) Endpoints() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, len(c.endpoints))
	for i, u := range c.endpoints {
		out[i] = u.String()
	}
	return out
}

// SetEndpoints replaces the endpoints after checking every one (see
// Config.Endpoints). On error the current endpoints are kept.
func (c *httpClusterClient) SetEndpoints(eps []string) error {
	urls, err := parseEndpoints(eps)
	if err != nil {
		return err
	}
	c.setEndpoints(urls, -1)
	return nil
}

// setEndpoints stores a new ring. pin < 0 picks a random member.
func (c *httpClusterClient) setEndpoints(urls []*url.URL, pin int) {
	if pin < 0 {
		pin = rand.IntN(len(urls))
	}
	names := make([]string, len(urls))
	for i, u := range urls {
		names[i] = u.String()
	}
	c.mu.Lock()
	c.endpoints = urls
	c.names = names
	c.pinned = pin
	c.mu.Unlock()
}

// snapshot returns the ring and the pinned position.
func (c *httpClusterClient) snapshot() ([]*url.URL, int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.endpoints, c.pinned
}

// snapshotNames is snapshot with the endpoints' names.
func (c *httpClusterClient) snapshotNames() ([]*url.URL, []string, int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.endpoints, c.names, c.pinned
}

// repin moves the pin to ep if the ring still holds it.
func (c *httpClusterClient) repin(eps []*url.URL, i int) {
	c.mu.Lock()
	if len(c.endpoints) == len(eps) && len(eps) > 0 && &c.endpoints[0] == &eps[0] {
		c.pinned = i
	}
	c.mu.Unlock()
}

// skipPin moves the pin past ep if ep is still pinned: the watcher calls it
// when a member took a request but stopped answering, so that the next
// request goes elsewhere.
func (c *httpClusterClient) skipPin(ep string) {
	c.mu.Lock()
	if n := len(c.endpoints); n > 1 && c.endpoints[c.pinned].String() == ep {
		c.pinned = (c.pinned + 1) % n
	}
	c.mu.Unlock()
}

// Sync reads the membership (GET /v2/members) and makes the members' client
// URLs the endpoints. A member list without a usable client URL keeps the
// current endpoints and returns an error that says why. In
// EndpointSelectionPrioritizeLeader mode the leader's endpoint is pinned.
func (c *httpClusterClient) Sync(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	members, err := listMembers(ctx, c)
	if err != nil {
		return fmt.Errorf("client: sync: %w", err)
	}
	var urls []*url.URL
	seen := map[string]bool{}
	var bad []error
	for _, m := range members {
		for _, cu := range m.ClientURLs {
			u, err := parseEndpoint(cu)
			if err != nil {
				bad = append(bad, fmt.Errorf("member %s (%s): %w", m.ID, m.Name, err))
				continue
			}
			if s := u.String(); !seen[s] {
				seen[s] = true
				urls = append(urls, u)
			}
		}
	}
	if len(urls) == 0 {
		if len(members) == 0 {
			return fmt.Errorf("client: sync: the cluster lists no members; keeping the current endpoints: %w", ErrNoEndpoints)
		}
		return fmt.Errorf("client: sync: none of the %d members lists a usable client URL; keeping the current endpoints: %w", len(members), errors.Join(append([]error{ErrNoEndpoints}, bad...)...))
	}
	cur, _ := c.snapshot()
	same := sameEndpoints(cur, urls)
	if !same {
		// Members may advertise addresses this client cannot reach (a
		// tunnel, a container network): adopt the list only if one of
		// them answers.
		if err := c.probeAny(ctx, urls); err != nil {
			return fmt.Errorf("client: sync: keeping the current endpoints: %w", err)
		}
	}
	pin := -1
	if c.selectionMode == EndpointSelectionPrioritizeLeader {
		leader, err := getLeader(ctx, c)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNoLeaderEndpoint, err)
		}
		pin = -2
		for _, cu := range leader.ClientURLs {
			if u, err := parseEndpoint(cu); err == nil {
				if i := slices.IndexFunc(urls, func(x *url.URL) bool { return x.String() == u.String() }); i >= 0 {
					pin = i
					break
				}
			}
		}
		if pin == -2 {
			return fmt.Errorf("%w: leader %s lists no client URL among the members' URLs", ErrNoLeaderEndpoint, leader.ID)
		}
	} else {
		if same {
			return nil
		}
		rand.Shuffle(len(urls), func(i, j int) { urls[i], urls[j] = urls[j], urls[i] })
		pin = 0
	}
	c.setEndpoints(urls, pin)
	return nil
}

// probeAny asks each URL for /version at once and returns nil as soon as
// one answers 200, or an error naming each URL's failure. Each probe is
// bounded by HeaderTimeoutPerRequest (2 s when that is zero).
func (c *httpClusterClient) probeAny(ctx context.Context, urls []*url.URL) error {
	timeout := c.headerTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errs := make(chan error, len(urls))
	for _, u := range urls {
		go func() {
			req, err := http.NewRequestWithContext(pctx, http.MethodGet, u.JoinPath("version").String(), nil)
			if err != nil {
				errs <- err
				return
			}
			if c.username != "" {
				req.SetBasicAuth(c.username, c.password)
			}
			resp, err := c.transport.RoundTrip(req)
			if err != nil {
				errs <- fmt.Errorf("%s: %w", u, err)
				return
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("%s: /version answered %d", u, resp.StatusCode)
				return
			}
			errs <- nil
		}()
	}
	var all []error
	for range urls {
		if err := <-errs; err == nil {
			return nil
		} else {
			all = append(all, err)
		}
	}
	return fmt.Errorf("none of the members' advertised client URLs answered (this client may not reach the addresses members advertise; use SetEndpoints instead of Sync): %w", errors.Join(all...))
}

func sameEndpoints(a, b []*url.URL) bool {
	if len(a) != len(b) {
		return false
	}
	set := make(map[string]bool, len(a))
	for _, u := range a {
		set[u.String()] = true
	}
	for _, u := range b {
		if !set[u.String()] {
			return false
		}
	}
	return true
}

// AutoSync calls Sync at once and then every interval until ctx ends; it
// returns ctx's error then. A failed Sync does not stop it: the endpoints
// are kept and the next tick tries again.
func (c *httpClusterClient) AutoSync(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("client: AutoSync interval must be positive, got %v", interval)
	}
	if ctx == nil {
		return errNilContext
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		_ = c.Sync(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// GetVersion asks one member for its server version and the cluster version.
func (c *httpClusterClient) GetVersion(ctx context.Context) (*version.Versions, error) {
	req, err := generated.NewGetVersionRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := c.do(ctx, req, classRead, "get version")
	if err != nil {
		return nil, err
	}
	if res.resp.StatusCode != http.StatusOK {
		return nil, res.httpError("")
	}
	var v version.Versions
	if err := res.decodeJSON(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// result is one answered call: the final response with its body read.
type result struct {
	resp     *http.Response
	body     []byte
	endpoint string
	method   string
	path     string
	// retried is set when an earlier attempt failed after it may have
	// reached a server: a write may then have been applied by that attempt.
	retried bool
	// earlier is that attempt's error.
	earlier error
}

// decodeJSON decodes the body into v, or says the answer is not etcd's.
func (r *result) decodeJSON(v any) error {
	if len(r.body) == 0 {
		return newResponseError(r.endpoint, r.resp, r.body, ErrEmptyBody, "")
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return newResponseError(r.endpoint, r.resp, r.body, ErrInvalidJSON, err.Error())
	}
	return nil
}

// httpError turns a members/auth/stats error answer into an *HTTPError, or a
// *ResponseError when the body is not the {"message"} etcd sends.
// resource names what the call is about (see HTTPError.Resource).
func (r *result) httpError(resource string) error {
	err := decodeHTTPError(r.endpoint, r.method, r.path, r.resp, r.body)
	if he, ok := err.(*HTTPError); ok {
		he.Resource = resource
	}
	return err
}

func decodeHTTPError(endpoint, method, path string, resp *http.Response, body []byte) error {
	var m struct {
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Message == nil {
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		return newResponseError(endpoint, resp, body, ErrInvalidJSON, detail)
	}
	return &HTTPError{StatusCode: resp.StatusCode, Message: *m.Message, Endpoint: endpoint, Method: method, Path: path}
}

// readBody reads a whole body, bounded by ctx (the request's context ends
// the read when ctx does) and by limit bytes when limit > 0.
func readBody(ctx context.Context, resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	var buf []byte
	if resp.ContentLength > 0 && resp.ContentLength < 64<<20 && (limit <= 0 || resp.ContentLength <= limit) {
		buf = make([]byte, 0, resp.ContentLength+1)
	} else {
		// Small: a long poll holds it while it waits.
		buf = make([]byte, 0, 256)
	}
	for {
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if limit > 0 && int64(len(buf)) > limit {
			return nil, &ResponseTooLargeError{Limit: limit}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// PinnedEndpoint returns the endpoint that c sends its next request to first:
// the member that answered last. It is for diagnostics and tests (which
// member would a fault hit?).
func PinnedEndpoint(c Client) string {
	_, names, pin := c.cluster().snapshotNames()
	if len(names) == 0 {
		return ""
	}
	return names[pin]
}
