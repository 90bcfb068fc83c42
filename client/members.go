// MembersAPI: the cluster's membership (list, add, update, remove, leader)
// and the checks of member ids and peer URLs made before sending.

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/meycoin/goetcd/generated"
)

// Member is one member of the cluster.
type Member struct {
	// ID is the unique identifier of this Member: lowercase hexadecimal
	// without leading zeros, so it can be shorter than 16 characters.
	ID string `json:"id"`

	// Name is a human-readable, non-unique identifier of this Member. It is
	// empty for a member that was added but has not started yet.
	Name string `json:"name"`

	// PeerURLs represents the HTTP(S) endpoints this Member uses to
	// participate in etcd's consensus protocol.
	PeerURLs []string `json:"peerURLs"`

	// ClientURLs represents the HTTP(S) endpoints on which this Member
	// serves its client-facing APIs. It is empty for a member that was
	// added but has not started yet.
	ClientURLs []string `json:"clientURLs"`
}

// MembersAPI reads and changes the cluster's membership. Reads (List,
// Leader) need no credentials; changes need a user with the root role once
// auth is enabled. Changes are never sent twice once they may have reached
// a server: when their outcome is unknown the error says so
// (IsOutcomeUnknown) and List tells what happened.
type MembersAPI interface {
	// List enumerates the current cluster membership.
	List(ctx context.Context) ([]Member, error)

	// Add instructs etcd to accept a new Member into the cluster.
	Add(ctx context.Context, peerURL string) (*Member, error)

	// Remove demotes an existing Member out of the cluster.
	Remove(ctx context.Context, mID string) error

	// Update instructs etcd to update an existing Member in the cluster.
	Update(ctx context.Context, mID string, peerURLs []string) error

	// Leader gets current leader of the cluster
	Leader(ctx context.Context) (*Member, error)
}

// NewMembersAPI constructs a new MembersAPI that uses HTTP to interact with etcd's membership API.
func NewMembersAPI(c Client) MembersAPI {
	return &httpMembersAPI{c: c.cluster()}
}

type httpMembersAPI struct {
	c *httpClusterClient
}

// List reads the members, sorted by id as the server sends them (every
// member answers the same list). A member added but not started yet has no
// name and no client URLs; a member that is down is still listed, since the
// list has no status.
func (m *httpMembersAPI) List(ctx context.Context) ([]Member, error) {
	return listMembers(ctx, m.c)
}

func listMembers(ctx context.Context, c *httpClusterClient) ([]Member, error) {
	req, err := generated.NewListMembersRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := c.expect(ctx, req, operation{class: classRead, name: "list members", resource: "member"}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var body struct {
		Members []Member `json:"members"`
	}
	if err := res.decodeJSON(&body); err != nil {
		return nil, err
	}
	if body.Members == nil {
		body.Members = []Member{}
	}
	for i := range body.Members {
		normalizeMember(&body.Members[i])
	}
	return body.Members, nil
}

// normalizeMember turns absent URL lists into empty ones, so that callers
// can range and compare without nil checks.
func normalizeMember(m *Member) {
	if m.PeerURLs == nil {
		m.PeerURLs = []string{}
	}
	if m.ClientURLs == nil {
		m.ClientURLs = []string{}
	}
}

// Add asks the cluster to accept a member that will listen for peers at
// peerURL. The URL is checked first, as the server would check it
// (http://host:port or https://host:port without a path, or a unix or unixs
// URL), so a malformed one is refused before anything is sent. The new
// member must then be started with --initial-cluster-state=existing and the
// cluster's member list; until it has started it has no name and no client
// URLs.
//
// A peer URL that a member already has gives an *HTTPError with status 409
// (IsMemberExists). Add is never sent twice: if its outcome is unknown the
// error satisfies IsOutcomeUnknown, and List tells. That includes etcd's
// bare 500 "Internal Server Error" for an add its strict reconfiguration
// check refuses before applying anything: while quorum would depend on a
// member that has not started, and until the answering member has been
// connected to enough peers for 5 s (so also for 5 s after a cluster or
// member starts). Such an add can be retried once List shows it was not
// applied.
func (m *httpMembersAPI) Add(ctx context.Context, peerURL string) (*Member, error) {
	urls, err := checkPeerURLs("peerURL", []string{peerURL})
	if err != nil {
		return nil, err
	}
	req, err := generated.NewAddMemberRequest(placeholderServer, generated.AddMemberJSONRequestBody{PeerURLs: urls})
	if err != nil {
		return nil, err
	}
	res, err := m.c.expect(ctx, req, operation{class: classOneShot, name: "add member " + urls[0], resource: "member"}, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	var mem Member
	if err := res.decodeJSON(&mem); err != nil {
		return nil, err
	}
	normalizeMember(&mem)
	return &mem, nil
}

// Remove takes the member with id mID out of the cluster; the removed
// member's process shuts itself down. An id that is not hexadecimal is
// refused before anything is sent. An unknown id gives an *HTTPError with
// status 404 (IsMemberNotFound); a member removed before gives status 410
// (IsMemberRemoved). Remove is never sent twice (see Add).
func (m *httpMembersAPI) Remove(ctx context.Context, mID string) error {
	if err := checkMemberID(mID); err != nil {
		return err
	}
	req, err := generated.NewDeleteMemberRequest(placeholderServer, mID)
	if err != nil {
		return err
	}
	_, err = m.c.expect(ctx, req, operation{class: classOneShot, name: "remove member " + mID, resource: "member"}, http.StatusNoContent)
	if err != nil {
		return err
	}
	return nil
}

// Update replaces the peer URLs of member mID; they are checked first, like
// Add's. Only the peer URLs change (a member's name and client URLs are its
// own to announce). An unknown id gives status 404 (IsMemberNotFound), a
// peer URL of another member status 409 (IsMemberExists). Update is never
// sent twice (see Add).
func (m *httpMembersAPI) Update(ctx context.Context, mID string, peerURLs []string) error {
	if err := checkMemberID(mID); err != nil {
		return err
	}
	urls, err := checkPeerURLs("peerURLs", peerURLs)
	if err != nil {
		return err
	}
	req, err := generated.NewUpdateMemberRequest(placeholderServer, mID, generated.UpdateMemberJSONRequestBody{PeerURLs: urls})
	if err != nil {
		return err
	}
	_, err = m.c.expect(ctx, req, operation{class: classOneShot, name: "update member " + mID, resource: "member"}, http.StatusNoContent)
	if err != nil {
		return err
	}
	return nil
}

// ErrNoLeader is wrapped by the error of Leader (and of Sync in
// EndpointSelectionPrioritizeLeader mode) when the members that answered
// know no leader: an election is in progress, or quorum is lost.
var ErrNoLeader = errors.New("client: the cluster has no leader (an election is in progress or quorum is lost)")

// Leader returns the current leader, as the members see it (every member
// answers with the same one).
//
// Leader does not wait for an election to end. While there is no leader
// every member answers 503 "During election"; Leader asks each endpoint
// (the usual failover of reads, two rounds with a short back-off) and then
// returns an error that wraps ErrNoLeader and satisfies IsNoLeader. A
// leader is usually elected within a few election timeouts (about a second
// with etcd's defaults); a caller that wants to wait polls Leader until it
// succeeds or its context ends. When quorum is lost the error stays until
// enough members are back.
func (m *httpMembersAPI) Leader(ctx context.Context) (*Member, error) {
	return getLeader(ctx, m.c)
}

func getLeader(ctx context.Context, c *httpClusterClient) (*Member, error) {
	req, err := generated.NewGetLeaderRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := c.expect(ctx, req, operation{class: classRead, name: "get leader", resource: "member"}, http.StatusOK)
	if err != nil {
		if hasStatus(err, http.StatusServiceUnavailable, "member") {
			return nil, fmt.Errorf("%w: %w", ErrNoLeader, err)
		}
		return nil, err
	}
	var mem Member
	if err := res.decodeJSON(&mem); err != nil {
		return nil, err
	}
	normalizeMember(&mem)
	return &mem, nil
}

// checkPeerURLs checks peer URLs the way the server will, so that the
// caller gets a clear error before anything is sent: the scheme is http,
// https, unix or unixs, the address has the form host:port, and there is no
// path (not even "/", which the server refuses too). It is stricter than
// the server in two ways that no working peer URL meets: unix URLs need
// host:port as well, and user info, a query or a fragment are refused. The
// URLs are trimmed and sorted, as the server stores them. field names the
// parameter in errors.
func checkPeerURLs(field string, in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, invalidArg(field, "no peer URLs given")
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, invalidArg(field, "%q does not parse as a URL: %v", redactUserinfo(s), err)
		}
		switch u.Scheme {
		case "http", "https", "unix", "unixs":
		default:
			return nil, invalidArg(field, "%q: the scheme must be http, https, unix or unixs", redactUserinfo(s))
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return nil, invalidArg(field, "%q: the address must have the form host:port", redactUserinfo(s))
		}
		if u.Path != "" || u.RawPath != "" || u.Opaque != "" {
			return nil, invalidArg(field, "%q must not contain a path", redactUserinfo(s))
		}
		if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return nil, invalidArg(field, "%q must be scheme://host:port only (no user info, query or fragment)", redactUserinfo(s))
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// checkMemberID refuses ids that cannot be a member id (the server parses
// ids as hexadecimal, either case), so that nothing odd is put in the path.
func checkMemberID(id string) error {
	if id == "" {
		return invalidArg("memberID", "empty")
	}
	for _, r := range id {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return invalidArg("memberID", "%q is not hexadecimal", id)
		}
	}
	return nil
}

// IsMemberNotFound reports whether err says the member id is unknown (404).
func IsMemberNotFound(err error) bool { return hasStatus(err, http.StatusNotFound, "member") }

// IsMemberRemoved reports whether err says the member was removed before
// (410 Gone): ids of removed members can never be used again.
func IsMemberRemoved(err error) bool { return hasStatus(err, http.StatusGone, "member") }

// IsMemberExists reports whether err says a member already has the peer URL
// (409 Conflict; etcd 3.5 also answers it for a re-add of a URL just added).
func IsMemberExists(err error) bool { return hasStatus(err, http.StatusConflict, "member") }

// IsNoLeader reports whether err says the cluster has no leader at the
// moment (503 "During election" from /v2/members/leader; see ErrNoLeader).
func IsNoLeader(err error) bool {
	return errors.Is(err, ErrNoLeader) || hasStatus(err, http.StatusServiceUnavailable, "member")
}
