// The endpoint ring: parsing and checking endpoints, pinning, and the
// Client's endpoint state.

package client

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// parseEndpoints checks and normalises a list of endpoint URLs: http or
// https, a host, no query, fragment or user info (credentials belong in
// Config.Username and Password, where they are never logged). Duplicates are
// dropped, keeping the first.
func parseEndpoints(eps []string) ([]*url.URL, error) {
	if len(eps) == 0 {
		e := invalidArg("endpoints", "no endpoints given")
		e.Err = ErrNoEndpoints
		return nil, e
	}
	out := make([]*url.URL, 0, len(eps))
	seen := make(map[string]bool, len(eps))
	for _, ep := range eps {
		u, err := parseEndpoint(ep)
		if err != nil {
			return nil, err
		}
		if s := u.String(); !seen[s] {
			seen[s] = true
			out = append(out, u)
		}
	}
	return out, nil
}

func parseEndpoint(ep string) (*url.URL, error) {
	// Errors show the endpoint with any user info masked.
	shown := redactUserinfo(ep)
	u, err := url.Parse(ep)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if shown != ep {
			// The parser's detail may quote part of the user info.
			return nil, invalidArg("endpoint", "%q is not a URL", shown)
		}
		return nil, invalidArg("endpoint", "%q is not a URL: %v", ep, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "":
		bare := strings.TrimPrefix(shown, "//")
		return nil, invalidArg("endpoint", "%q has no scheme; write it as http://%s or https://%s", shown, bare, bare)
	default:
		return nil, invalidArg("endpoint", "%q has the scheme %q; only http and https are supported", shown, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, invalidArg("endpoint", "%q has no host", shown)
	}
	if u.User != nil {
		return nil, invalidArg("endpoint", "%q carries user info; give credentials in Config.Username and Config.Password", shown)
	}
	if strings.Contains(u.EscapedPath(), "@") {
		// "http://user:pa/ss@host" parses as host "user", port "pa" and
		// the path "/ss@host": user info with a '/' in the password.
		return nil, invalidArg("endpoint", "%q has an '@' in its path, which looks like user info; give credentials in Config.Username and Config.Password", shown)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, invalidArg("endpoint", "%q has a query or fragment; give scheme, host, port and at most a base path", shown)
	}
	if port := u.Port(); port == "" && strings.HasSuffix(u.Host, ":") {
		return nil, invalidArg("endpoint", "%q has an empty port", shown)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// redactUserinfo hides a password in an endpoint string, whether it parses
// as a URL or not, so that errors never carry it: everything between the
// start of the authority (after "scheme://" or a leading "//", else the
// start of the string) and the last "@" is masked. A password with
// characters a URL does not allow there ('/', '?', '#') still ends before
// that "@".
func redactUserinfo(ep string) string {
	start := 0
	if strings.HasPrefix(ep, "//") {
		start = 2
	} else if i := strings.Index(ep, "://"); i >= 0 && !strings.ContainsAny(ep[:i], "/?#@") {
		start = i + 3
	}
	if at := strings.LastIndex(ep[start:], "@"); at >= 0 {
		return ep[:start] + "xxxxx@" + ep[start+at+1:]
	}
	return ep
}

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

	// health is the members' health, shared by every call and watch.
	health *health
	// shares holds the long polls that watchers of a key share.
	shares watchShares
	// repinning is set while a look-up of a new leader runs
	// (EndpointSelectionPrioritizeLeader).
	repinning atomic.Bool

	mu        sync.RWMutex
	endpoints []*url.URL
	names     []string // endpoints[i].String(), made once
	pinned    int
}

func (c *httpClusterClient) cluster() *httpClusterClient { return c }

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
