package client

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/meycoin/goetcd/api/version"
)

// FuzzClusterAnswers feeds member lists, leader and member-add answers and
// /version answers to MembersAPI.List, Leader, Add and Client.GetVersion.
// Invariants: no panic and no hang; exactly one of result and error; a
// result only from a success status, equal to what the body says (member
// ids, names and URL lists; server and cluster versions); every error an
// HTTPError or ResponseError with the answer's status and endpoint.
func FuzzClusterAnswers(f *testing.F) {
	f.Add(uint8(0), 200, []byte(`{"members":[{"id":"21754121be54e65","name":"m0","peerURLs":["http://127.0.0.1:2380"],"clientURLs":["http://127.0.0.1:2379"]}]}`+"\n"))
	f.Add(uint8(0), 200, []byte(`{"members":[{"id":"48276a8f75b6a87","name":"","peerURLs":["http://127.0.0.1:2382"],"clientURLs":[]}]}`+"\n"))
	f.Add(uint8(1), 200, []byte(`{"id":"21754121be54e65","name":"m0","peerURLs":["http://127.0.0.1:2380"],"clientURLs":["http://127.0.0.1:2379"]}`+"\n"))
	f.Add(uint8(1), 503, []byte(`{"message":"During election"}`))
	f.Add(uint8(2), 201, []byte(`{"id":"9e3f7b5d0a1c2e4f","name":"","peerURLs":["http://127.0.0.1:2380"],"clientURLs":[]}`+"\n"))
	f.Add(uint8(2), 409, []byte(`{"message":"membership: peerURL exists"}`))
	f.Add(uint8(3), 200, []byte(`{"etcdserver":"3.5.35","etcdcluster":"3.5.0"}`))
	f.Add(uint8(3), 404, []byte("404 page not found\n"))
	f.Fuzz(func(t *testing.T, which uint8, status int, body []byte) {
		status = fuzzStatus(status)
		tr := &cannedTransport{answers: []cannedAnswer{{status: status, body: body}}}
		c := cannedClient(t, tr, Config{})
		ctx := fuzzCtx(t)
		var got any
		var err error
		var okStatus int
		var want any
		switch which % 4 {
		case 0:
			okStatus = http.StatusOK
			var ms []Member
			ms, err = NewMembersAPI(c).List(ctx)
			if err == nil {
				got = normMembers(ms)
			}
			var w struct {
				Members []Member `json:"members"`
			}
			if json.Unmarshal(body, &w) == nil {
				want = normMembers(w.Members)
			}
		case 1, 2:
			var m *Member
			if which%4 == 1 {
				okStatus = http.StatusOK
				m, err = NewMembersAPI(c).Leader(ctx)
			} else {
				okStatus = http.StatusCreated
				m, err = NewMembersAPI(c).Add(ctx, "http://127.0.0.1:2380")
			}
			if (m == nil) == (err == nil) {
				t.Fatalf("member %v and error %v", m, err)
			}
			if m != nil {
				got = normMembers([]Member{*m})
			}
			var w Member
			if json.Unmarshal(body, &w) == nil {
				want = normMembers([]Member{w})
			}
		case 3:
			okStatus = http.StatusOK
			var v *version.Versions
			v, err = c.GetVersion(ctx)
			if (v == nil) == (err == nil) {
				t.Fatalf("version %v and error %v", v, err)
			}
			if v != nil {
				got = *v
			}
			var w version.Versions
			if json.Unmarshal(body, &w) == nil {
				want = w
			}
		}
		checkAnswerError(t, err, status)
		validUTF8Error(t, err)
		if err != nil {
			if status == okStatus && want != nil && len(body) > 0 {
				t.Fatalf("a %d answer that decodes was refused: %v\nbody %q", status, err, body)
			}
			return
		}
		if status != okStatus {
			t.Fatalf("a %d answer was taken as a result: %+v", status, got)
		}
		if want == nil {
			t.Fatalf("a body that does not decode gave %+v: %q", got, body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v, the body says %+v\nbody %q", got, want, body)
		}
	})
}

// normMembers makes nil and empty URL lists equal, and a nil list of
// members equal to an empty one.
func normMembers(ms []Member) []Member {
	out := make([]Member, len(ms))
	for i, m := range ms {
		if len(m.PeerURLs) == 0 {
			m.PeerURLs = nil
		}
		if len(m.ClientURLs) == 0 {
			m.ClientURLs = nil
		}
		out[i] = m
	}
	return out
}

// FuzzAuthAnswers feeds user, role and auth-status answers to GetUser,
// GrantUser (role names, as PUT answers), ListUsers, GetRole, ListRoles and
// Enabled. Invariants: exactly one of result and error; a result only from a
// 200 answer and equal to the body (a user's roles given as names or as role
// objects both give the role names, in order; listed names in order); errors
// typed as for every answer.
func FuzzAuthAnswers(f *testing.F) {
	f.Add(uint8(0), 200, []byte(`{"user":"u","roles":[{"role":"r1","permissions":{"kv":{"read":["/app/*"],"write":["/app/*"]}}}]}`+"\n"))
	f.Add(uint8(1), 200, []byte(`{"user":"u","roles":["r1"]}`+"\n"))
	f.Add(uint8(1), 200, []byte(`{"user":"u","roles":null}`+"\n"))
	f.Add(uint8(0), 404, []byte(`{"message":"auth: User u does not exist."}`))
	f.Add(uint8(2), 200, []byte(`{"users":[{"user":"root","roles":[{"role":"root","permissions":{"kv":{"read":["/*"],"write":["/*"]}}}]},{"user":"v"}]}`+"\n"))
	f.Add(uint8(2), 200, []byte(`{"users":null}`+"\n"))
	f.Add(uint8(3), 200, []byte(`{"role":"r1","permissions":{"kv":{"read":["/bar","/foo/*"],"write":["/foo/*"]}}}`+"\n"))
	f.Add(uint8(4), 200, []byte(`{"roles":[{"role":"root","permissions":{"kv":{"read":["/*"],"write":["/*"]}}}]}`+"\n"))
	f.Add(uint8(5), 200, []byte(`{"enabled":false}`+"\n"))
	f.Add(uint8(5), 401, []byte(`{"message":"Insufficient credentials"}`))
	f.Fuzz(func(t *testing.T, which uint8, status int, body []byte) {
		status = fuzzStatus(status)
		tr := &cannedTransport{answers: []cannedAnswer{{status: status, body: body}}}
		c := cannedClient(t, tr, Config{})
		ctx := fuzzCtx(t)
		var got, want any
		var err error
		switch which % 6 {
		case 0, 1:
			var u *User
			if which%6 == 0 {
				u, err = NewAuthUserAPI(c).GetUser(ctx, "u")
			} else {
				u, err = NewAuthUserAPI(c).GrantUser(ctx, "u", []string{"r1"})
			}
			if (u == nil) == (err == nil) {
				t.Fatalf("user %v and error %v", u, err)
			}
			if u != nil {
				got = []string{u.User, joinNames(u.Roles)}
			}
			var raw struct {
				User  string            `json:"user"`
				Roles []json.RawMessage `json:"roles"`
			}
			if json.Unmarshal(body, &raw) == nil {
				var names []string
				ok := true
				for _, r := range raw.Roles {
					var s string
					var o struct {
						Role string `json:"role"`
					}
					if json.Unmarshal(r, &s) == nil {
						names = append(names, s)
					} else if json.Unmarshal(r, &o) == nil {
						names = append(names, o.Role)
					} else {
						ok = false
					}
				}
				if ok {
					want = []string{raw.User, joinNames(names)}
				}
			}
		case 2:
			var names []string
			names, err = NewAuthUserAPI(c).ListUsers(ctx)
			if err == nil {
				got = joinNames(names)
			}
			var w struct {
				Users []struct {
					User string `json:"user"`
				} `json:"users"`
			}
			if json.Unmarshal(body, &w) == nil {
				var n []string
				for _, u := range w.Users {
					n = append(n, u.User)
				}
				want = joinNames(n)
			}
		case 3:
			var r *Role
			r, err = NewAuthRoleAPI(c).GetRole(ctx, "r1")
			if (r == nil) == (err == nil) {
				t.Fatalf("role %v and error %v", r, err)
			}
			if r != nil {
				got = *r
			}
			var w Role
			if json.Unmarshal(body, &w) == nil {
				want = w
			}
		case 4:
			var names []string
			names, err = NewAuthRoleAPI(c).ListRoles(ctx)
			if err == nil {
				got = joinNames(names)
			}
			var w struct {
				Roles []struct {
					Role string `json:"role"`
				} `json:"roles"`
			}
			if json.Unmarshal(body, &w) == nil {
				var n []string
				for _, r := range w.Roles {
					n = append(n, r.Role)
				}
				want = joinNames(n)
			}
		case 5:
			var on bool
			on, err = NewAuthStatusAPI(c).Enabled(ctx)
			if err == nil {
				got = on
			}
			var w struct {
				Enabled bool `json:"enabled"`
			}
			if json.Unmarshal(body, &w) == nil {
				want = w.Enabled
			}
		}
		checkAnswerError(t, err, status)
		validUTF8Error(t, err)
		if err != nil {
			return
		}
		if status != http.StatusOK {
			t.Fatalf("a %d answer was taken as a result: %+v", status, got)
		}
		if want == nil {
			t.Fatalf("a body that does not decode gave %+v: %q", got, body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v, the body says %+v\nbody %q", got, want, body)
		}
	})
}

// joinNames renders a list of names so that nil and empty compare equal
// and names with separators in them cannot collide.
func joinNames(ns []string) string {
	b, _ := json.Marshal(slices.Clip(append([]string{}, ns...)))
	return string(b)
}
