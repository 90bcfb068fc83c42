package client

import (
	"errors"
	"strings"
	"testing"
)

func TestNewValidatesEndpoints(t *testing.T) {
	for _, tc := range []struct {
		eps []string
		err string
	}{
		{eps: nil, err: "no endpoints"},
		{eps: []string{"localhost:2379"}, err: "has the scheme \"localhost\""},
		{eps: []string{"127.0.0.1:2379"}, err: "is not a URL"},
		{eps: []string{"ftp://h:1"}, err: "only http and https"},
		{eps: []string{"http://"}, err: "has no host"},
		{eps: []string{"http://user:secret@h:2379"}, err: "carries user info"},
		{eps: []string{"http://h:2379?x=1"}, err: "query or fragment"},
		{eps: []string{"h"}, err: "has no scheme"},
	} {
		_, err := New(Config{Endpoints: tc.eps})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("New(%q) err = %v, want one containing %q", tc.eps, err, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	if _, err := New(Config{}); !errors.Is(err, ErrNoEndpoints) {
		t.Errorf("New without endpoints: %v, want ErrNoEndpoints", err)
	}
}

func TestEndpointsAreCopiedAndDeduplicated(t *testing.T) {
	c, err := New(Config{Endpoints: []string{"http://a:1", "http://a:1/", "https://b:2/base/"}})
	if err != nil {
		t.Fatal(err)
	}
	eps := c.Endpoints()
	if len(eps) != 2 {
		t.Fatalf("Endpoints() = %v, want 2 after de-duplication", eps)
	}
	eps[0] = "mutated"
	for _, e := range c.Endpoints() {
		if e == "mutated" {
			t.Fatal("Endpoints() returned the client's own slice")
		}
	}
	if err := c.SetEndpoints([]string{"nope"}); err == nil {
		t.Fatal("SetEndpoints accepted an invalid endpoint")
	}
	if got := len(c.Endpoints()); got != 2 {
		t.Fatalf("a failed SetEndpoints changed the endpoints: %v", c.Endpoints())
	}
}
