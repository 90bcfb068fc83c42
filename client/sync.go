// The Client's own calls: Sync and AutoSync of the endpoints from the
// membership, and GetVersion.

package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/meycoin/goetcd/api/version"
	"github.com/meycoin/goetcd/generated"
)

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
				// %v: a member's URL is the server's answer, not the
				// caller's input, so the error is no invalid argument.
				bad = append(bad, fmt.Errorf("member %s (%s): %v", m.ID, m.Name, err))
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
		return invalidArg("interval", "%v; AutoSync needs a positive interval", interval)
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
	res, err := c.do(ctx, req, operation{class: classRead, name: "get version"})
	if err != nil {
		return nil, err
	}
	if res.resp.StatusCode != http.StatusOK {
		return nil, res.httpError()
	}
	var v version.Versions
	if err := res.decodeJSON(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// leaderMayHaveChanged is called when a member went down or a proposal was
// lost to a leader change. In EndpointSelectionPrioritizeLeader mode it
// looks up the leader in the background until a member that is not down
// names one, and pins it, so that the client follows a new leader as soon
// as it is elected rather than at the next Sync. The search lasts while
// the Client is in use (member health's monitor runs), leaderSearch at
// most: a Client nobody calls any more leaves nothing running.
func (c *httpClusterClient) leaderMayHaveChanged() {
	if c.selectionMode != EndpointSelectionPrioritizeLeader || !c.repinning.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.repinning.Store(false)
		deadline := time.Now().Add(leaderSearch)
		for time.Now().Before(deadline) && c.health.active() {
			ctx, cancel := context.WithTimeout(context.Background(), leaderSearchEvery*5)
			leader, err := getLeader(ctx, c)
			cancel()
			if err == nil && c.pinLeader(leader) {
				return
			}
			time.Sleep(leaderSearchEvery)
		}
	}()
}

// How long and how often leaderMayHaveChanged looks for a new leader.
const (
	leaderSearch      = 10 * time.Second
	leaderSearchEvery = 100 * time.Millisecond
)

// pinLeader pins the endpoint of leader if the ring holds it and it is not
// down, and reports whether it did.
func (c *httpClusterClient) pinLeader(leader *Member) bool {
	eps, names, _ := c.snapshotNames()
	for _, cu := range leader.ClientURLs {
		u, err := parseEndpoint(cu)
		if err != nil {
			continue
		}
		for i, n := range names {
			if n == u.String() && !c.health.down(n) {
				c.repin(eps, i)
				return true
			}
		}
	}
	return false
}
