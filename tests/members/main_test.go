// Package members tests the members and status APIs against real 3-member
// etcd clusters of every supported server version: a member is added,
// started as a real process, moved to another peer URL and removed, two
// members die and come back, and at every step the client's answers must
// agree with what each server says. Every exchange is validated against
// openapi.yaml.
package members

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock and checks that
// nothing (watch loops, transports, member reapers) outlives the tests.
func TestMain(m *testing.M) {
	etcdtest.Main(m)
}

// checkContract fails the test unless tr saw exchanges and no violation.
func checkContract(t *testing.T, tr *clienttest.Transport) {
	t.Helper()
	if tr.Exchanges() == 0 {
		t.Error("no exchange went through the contract transport")
	}
	if v := tr.Violations(); v != 0 {
		t.Errorf("%d contract violations (see above)", v)
	}
}

// rawGet fetches path from one member without the client library, through
// the validating transport, and decodes the JSON answer into v.
func rawGet(ctx context.Context, raw *http.Client, endpoint, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := raw.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s%s: %s %s", endpoint, path, resp.Status, body)
	}
	return resp.StatusCode, json.Unmarshal(body, v)
}

// sameMembers compares two member lists irrespective of order, with nil
// and empty URL lists counted equal.
func sameMembers(a, b []client.Member) error {
	norm := func(ms []client.Member) []string {
		var out []string
		for _, m := range ms {
			p, c := slices.Clone(m.PeerURLs), slices.Clone(m.ClientURLs)
			slices.Sort(p)
			slices.Sort(c)
			out = append(out, fmt.Sprintf("%s|%s|%v|%v", m.ID, m.Name, p, c))
		}
		slices.Sort(out)
		return out
	}
	na, nb := norm(a), norm(b)
	if !slices.Equal(na, nb) {
		return fmt.Errorf("member lists differ:\n  %v\n  %v", na, nb)
	}
	return nil
}

// agree checks that List and Leader give what every listed server says
// itself, and returns the list and the leader. Membership changes reach the
// members one after the other, so callers poll it with waitFor.
func agree(ctx context.Context, mapi client.MembersAPI, raw *http.Client, servers []string) ([]client.Member, *client.Member, error) {
	list, err := mapi.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	leader, err := mapi.Leader(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, ep := range servers {
		var view struct {
			Members []client.Member `json:"members"`
		}
		if _, err := rawGet(ctx, raw, ep, "/v2/members", &view); err != nil {
			return nil, nil, err
		}
		if err := sameMembers(list, view.Members); err != nil {
			return nil, nil, fmt.Errorf("List and %s: %w", ep, err)
		}
		var l client.Member
		if _, err := rawGet(ctx, raw, ep, "/v2/members/leader", &l); err != nil {
			return nil, nil, err
		}
		if l.ID != leader.ID {
			return nil, nil, fmt.Errorf("Leader says %s (%s), %s says %s (%s)", leader.ID, leader.Name, ep, l.ID, l.Name)
		}
	}
	if !slices.ContainsFunc(list, func(m client.Member) bool { return m.ID == leader.ID }) {
		return nil, nil, fmt.Errorf("the leader %s is not in the list", leader.ID)
	}
	return list, leader, nil
}

// memberByID returns the member with id from list, or nil.
func memberByID(list []client.Member, id string) *client.Member {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}
