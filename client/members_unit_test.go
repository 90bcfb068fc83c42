package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestCheckPeerURLs(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
		err  string
	}{
		{in: []string{" http://10.0.0.2:2380 ", "https://10.0.0.1:2380"}, want: []string{"http://10.0.0.2:2380", "https://10.0.0.1:2380"}},
		{in: []string{"unixs://sock:1", "http://[::1]:2380"}, want: []string{"http://[::1]:2380", "unixs://sock:1"}},
		{in: nil, err: "no peer URLs"},
		{in: []string{"ftp://h:1"}, err: "scheme must be"},
		{in: []string{"10.0.0.1:2380"}, err: "does not parse as a URL"},
		{in: []string{"localhost:2380"}, err: "scheme must be"},
		{in: []string{"http://h"}, err: "host:port"},
		{in: []string{"http://h:1/"}, err: "must not contain a path"},
		{in: []string{"http://h:1/p"}, err: "must not contain a path"},
		{in: []string{"http://u:Secret-pw@h:1"}, err: "no user info"},
		{in: []string{"http://h:1?x=1"}, err: "no user info, query or fragment"},
		{in: []string{"http://h:1#f"}, err: "no user info, query or fragment"},
		{in: []string{"http://u:Secret-pw@h:1/%zz"}, err: "does not parse as a URL"},
	} {
		got, err := checkPeerURLs("peerURLs", tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("checkPeerURLs(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "Secret-pw") {
				t.Errorf("checkPeerURLs(%q): the error shows the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("checkPeerURLs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestMemberChangesAreCheckedBeforeSending(t *testing.T) {
	f := newFakeEtcd(t, nil)
	m := NewMembersAPI(newTestClient(t, Config{}, f.endpoint()))
	ctx := context.Background()
	if _, err := m.Add(ctx, "http://h:1/"); err == nil {
		t.Error("Add accepted a peer URL with a path")
	}
	if err := m.Update(ctx, "8e9e05c52164694d", nil); err == nil {
		t.Error("Update accepted no peer URLs")
	}
	for _, id := range []string{"", "leader", "0x1f", "1/2", "../x"} {
		if err := m.Remove(ctx, id); err == nil {
			t.Errorf("Remove(%q) was accepted", id)
		}
	}
	if n := f.hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestMemberErrorsAreTyped(t *testing.T) {
	f := newFakeEtcd(t, map[string]route{
		"POST /v2/members":         {409, `{"message":"membership: peerURL exists"}`},
		"DELETE /v2/members/1":     {404, `{"message":"No such member: 1"}`},
		"DELETE /v2/members/2":     {410, `{"message":"Member permanently removed: 2"}`},
		"PUT /v2/members/3":        {409, `{"message":"membership: peerURL exists"}`},
		"PUT /v2/members/4":        {401, `{"message":"Insufficient credentials"}`},
		"GET /v2/members":          {200, `{"members":[{"id":"a","name":"","peerURLs":["http://h:1"]}]}` + "\n"},
		"GET /v2/members/leader":   {503, `{"message":"During election"}`},
		"DELETE /v2/members/abcd0": {204, ``},
	})
	ctx := context.Background()
	m := NewMembersAPI(newTestClient(t, Config{}, f.endpoint()))

	_, err := m.Add(ctx, "http://h:1")
	if !IsMemberExists(err) || IsMemberNotFound(err) || IsOutcomeUnknown(err) {
		t.Errorf("Add → 409: %v", err)
	}
	if body := f.lastBody(); body != `{"peerURLs":["http://h:1"]}` {
		t.Errorf("Add sent %s", body)
	}
	if err := m.Remove(ctx, "1"); !IsMemberNotFound(err) || IsMemberRemoved(err) {
		t.Errorf("Remove → 404: %v", err)
	}
	if err := m.Remove(ctx, "2"); !IsMemberRemoved(err) || IsMemberNotFound(err) {
		t.Errorf("Remove → 410: %v", err)
	}
	if err := m.Update(ctx, "3", []string{"http://h:2"}); !IsMemberExists(err) {
		t.Errorf("Update → 409: %v", err)
	}
	if err := m.Update(ctx, "4", []string{"http://h:2"}); !IsUnauthorized(err) || !strings.Contains(err.Error(), "no credentials were sent") {
		t.Errorf("Update → 401 without credentials: %v", err)
	}
	if err := m.Remove(ctx, "abcd0"); err != nil {
		t.Errorf("Remove → 204: %v", err)
	}

	list, err := m.List(ctx)
	if err != nil || len(list) != 1 || list[0].ClientURLs == nil || list[0].Name != "" {
		t.Errorf("List = %+v, %v; want one unstarted member with an empty (not nil) client URL list", list, err)
	}

	_, err = m.Leader(ctx)
	if !IsNoLeader(err) || !errors.Is(err, ErrNoLeader) {
		t.Errorf("Leader → 503: %v, want IsNoLeader and ErrNoLeader", err)
	}
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable || he.Message != "During election" {
		t.Errorf("Leader → 503: the server's answer is not kept: %v", err)
	}
}

func TestUnauthorizedSaysWhoseCredentials(t *testing.T) {
	f := newFakeEtcd(t, map[string]route{
		"DELETE /v2/members/1": {401, `{"message":"Insufficient credentials"}`},
	})
	m := NewMembersAPI(newTestClient(t, Config{Username: "root", Password: "Secret-pw"}, f.endpoint()))
	err := m.Remove(context.Background(), "1")
	if !IsUnauthorized(err) || !strings.Contains(err.Error(), `user "root" were refused`) {
		t.Errorf("401 with credentials: %v", err)
	}
	if strings.Contains(err.Error(), "Secret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
	if a := f.lastAuth(); !strings.HasPrefix(a, "Basic ") {
		t.Errorf("Authorization = %q, want basic auth from the Config", a)
	}
}
