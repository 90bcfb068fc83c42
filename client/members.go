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
	// ID is the unique identifier of this Member.
	ID string `json:"id"`

	// Name is a human-readable, non-unique identifier of this Member.
	Name string `json:"name"`

	// PeerURLs represents the HTTP(S) endpoints this Member uses to
	// participate in etcd's consensus protocol.
	PeerURLs []string `json:"peerURLs"`

	// ClientURLs represents the HTTP(S) endpoints on which this Member
	// serves its client-facing APIs.
	ClientURLs []string `json:"clientURLs"`
}

// MembersAPI reads and changes the cluster's membership.
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

// List reads the members, sorted by id as the server sends them. A member
// added but not started yet has no name and no client URLs.
func (m *httpMembersAPI) List(ctx context.Context) ([]Member, error) {
	return listMembers(ctx, m.c)
}

func listMembers(ctx context.Context, c *httpClusterClient) ([]Member, error) {
	req, err := generated.NewListMembersRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := c.do(ctx, req, classRead, "list members")
	if err != nil {
		return nil, err
	}
	if res.resp.StatusCode != http.StatusOK {
		return nil, res.httpError("member")
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
	return body.Members, nil
}

// Add asks the cluster to accept a member that will listen for peers at
// peerURL; the URL is checked before anything is sent. The new member must
// then be started with the cluster's member list. Add is never sent twice:
// if its outcome is unknown, the error says so (IsOutcomeUnknown) and List
// tells. A peer URL that a member already has gives an *HTTPError with
// status 409 (IsMemberExists).
func (m *httpMembersAPI) Add(ctx context.Context, peerURL string) (*Member, error) {
	urls, err := checkPeerURLs([]string{peerURL})
	if err != nil {
		return nil, err
	}
	req, err := generated.NewAddMemberRequest(placeholderServer, generated.AddMemberJSONRequestBody{PeerURLs: urls})
	if err != nil {
		return nil, err
	}
	res, err := m.c.do(ctx, req, classOneShot, "add member "+peerURL)
	if err != nil {
		return nil, tagResource(err, "member")
	}
	if res.resp.StatusCode != http.StatusCreated {
		return nil, res.httpError("member")
	}
	var mem Member
	if err := res.decodeJSON(&mem); err != nil {
		return nil, err
	}
	return &mem, nil
}

// Remove takes the member with id mID out of the cluster. An unknown id
// gives an *HTTPError with status 404 (IsMemberNotFound); a member removed
// before gives status 410 (IsMemberRemoved).
func (m *httpMembersAPI) Remove(ctx context.Context, mID string) error {
	if err := checkMemberID(mID); err != nil {
		return err
	}
	req, err := generated.NewRemoveMemberRequest(placeholderServer, mID)
	if err != nil {
		return err
	}
	res, err := m.c.do(ctx, req, classOneShot, "remove member "+mID)
	if err != nil {
		return tagResource(err, "member")
	}
	if res.resp.StatusCode != http.StatusNoContent {
		return res.httpError("member")
	}
	return nil
}

// Update replaces the peer URLs of member mID; they are checked before
// anything is sent.
func (m *httpMembersAPI) Update(ctx context.Context, mID string, peerURLs []string) error {
	if err := checkMemberID(mID); err != nil {
		return err
	}
	urls, err := checkPeerURLs(peerURLs)
	if err != nil {
		return err
	}
	req, err := generated.NewUpdateMemberRequest(placeholderServer, mID, generated.UpdateMemberJSONRequestBody{PeerURLs: urls})
	if err != nil {
		return err
	}
	res, err := m.c.do(ctx, req, classOneShot, "update member "+mID)
	if err != nil {
		return tagResource(err, "member")
	}
	if res.resp.StatusCode != http.StatusNoContent {
		return res.httpError("member")
	}
	return nil
}

// Leader returns the current leader. During an election every member
// answers 503; Leader then asks the other members and, if none knows a
// leader, returns an error for which IsNoLeader holds. It does not wait for
// the election to end: call it again (a leader is usually elected within a
// second or two).
func (m *httpMembersAPI) Leader(ctx context.Context) (*Member, error) {
	return getLeader(ctx, m.c)
}

func getLeader(ctx context.Context, c *httpClusterClient) (*Member, error) {
	req, err := generated.NewGetLeaderRequest(placeholderServer)
	if err != nil {
		return nil, err
	}
	res, err := c.do(ctx, req, classRead, "get leader")
	if err != nil {
		return nil, tagResource(err, "member")
	}
	if res.resp.StatusCode != http.StatusOK {
		return nil, res.httpError("member")
	}
	var mem Member
	if err := res.decodeJSON(&mem); err != nil {
		return nil, err
	}
	return &mem, nil
}

// checkPeerURLs checks peer URLs the way the server will (scheme http,
// https, unix or unixs; host:port; no path), trims them and sorts them.
func checkPeerURLs(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, errors.New("client: no peer URLs given")
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("client: peer URL %q is not a URL: %v", s, err)
		}
		switch u.Scheme {
		case "http", "https", "unix", "unixs":
		default:
			return nil, fmt.Errorf("client: peer URL %q: the scheme must be http, https, unix or unixs", s)
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return nil, fmt.Errorf("client: peer URL %q: the address must have the form host:port", s)
		}
		if u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("client: peer URL %q must not contain a path", s)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("client: peer URL %q must be scheme://host:port only", s)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}

// checkMemberID refuses ids that cannot be a member id (lowercase or
// uppercase hex), so that nothing odd is put in the path.
func checkMemberID(id string) error {
	if id == "" {
		return errors.New("client: empty member id")
	}
	for _, r := range id {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return fmt.Errorf("client: member id %q is not hexadecimal", id)
		}
	}
	return nil
}

// IsMemberNotFound reports whether err says the member id is unknown (404).
func IsMemberNotFound(err error) bool { return hasStatus(err, http.StatusNotFound, "member") }

// IsMemberRemoved reports whether err says the member was removed before
// (410 Gone).
func IsMemberRemoved(err error) bool { return hasStatus(err, http.StatusGone, "member") }

// IsMemberExists reports whether err says a member already has the peer URL
// (409 Conflict).
func IsMemberExists(err error) bool { return hasStatus(err, http.StatusConflict, "member") }

// IsNoLeader reports whether err says the cluster has no leader at the
// moment (503 "During election").
func IsNoLeader(err error) bool { return hasStatus(err, http.StatusServiceUnavailable, "member") }
