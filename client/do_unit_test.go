package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDoSendsThroughThePipeline(t *testing.T) {
	var dead = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"message":"unavailable"}`)
	}))
	defer dead.Close()
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, _, _ := r.BasicAuth()
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b)+" "+user)
	}))
	defer live.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c, err := New(Config{Endpoints: []string{dead.URL, live.URL + "/base"}, Username: "u", Password: "p", Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "/v3/kv/range", strings.NewReader(`{"key":"YQ=="}`))
	resp, err := Do(context.Background(), c, req, RequestIdempotent)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if got, want := string(b), `POST /base/v3/kv/range {"key":"YQ=="} u`; got != want {
		t.Fatalf("answer %q, want %q", got, want)
	}

	// A one-shot request that got a 5xx is not resent.
	c2, _ := New(Config{Endpoints: []string{dead.URL, live.URL}, Transport: tr})
	req, _ = http.NewRequest(http.MethodPost, "/v3/kv/txn", strings.NewReader(`{}`))
	for range 4 {
		resp, err := Do(context.Background(), c2, req, RequestOneShot)
		if err == nil {
			resp.Body.Close()
		} else if !IsOutcomeUnknown(err) {
			t.Fatalf("one-shot after a 5xx: %v, want an outcome-unknown error or success", err)
		}
	}
	if _, err := Do(context.Background(), c2, req, RequestClass(9)); err == nil {
		t.Fatal("an unknown class was accepted")
	}
}
