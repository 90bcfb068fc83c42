package client

// Canned answers without sockets: cannedTransport answers every request of
// a client (cannedClient) from memory and records the requests, so a fuzz
// worker runs tens of thousands of executions a second and goleak stays
// quiet; pieceReader hands a body out in pieces; fakeResult builds the
// *result the answer decoders take.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// fuzzEndpoint is where fuzzed clients send; cannedTransport answers for it.
const fuzzEndpoint = "http://127.0.0.1:2379"

// cannedTransport answers every request with the next of its answers (the
// last one repeats) and records the requests.
type cannedTransport struct {
	answers []cannedAnswer
	reqs    []*http.Request
	bodies  [][]byte
}

type cannedAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error
	chunk  int // > 0: the body is read at most chunk bytes at a time
}

// pieceReader hands out at most n bytes per Read.
type pieceReader struct {
	r io.Reader
	n int
}

func (c *pieceReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

func (t *cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	t.reqs = append(t.reqs, req)
	t.bodies = append(t.bodies, body)
	a := t.answers[min(len(t.reqs), len(t.answers))-1]
	if a.err != nil {
		return nil, a.err
	}
	var rd io.Reader = bytes.NewReader(a.body)
	if a.chunk > 0 {
		rd = &pieceReader{r: rd, n: a.chunk}
	}
	h := a.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	return &http.Response{
		StatusCode:    a.status,
		Status:        fmt.Sprintf("%d %s", a.status, http.StatusText(a.status)),
		Header:        h,
		Body:          io.NopCloser(rd),
		ContentLength: int64(len(a.body)),
		Request:       req,
		Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}, nil
}

func (*cannedTransport) CancelRequest(*http.Request) {}

// cannedClient is a client whose every request is answered by t.
func cannedClient(t testing.TB, tr *cannedTransport, cfg Config) *httpClusterClient {
	t.Helper()
	if cfg.Endpoints == nil {
		cfg.Endpoints = []string{fuzzEndpoint}
	}
	cfg.Transport = tr
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*httpClusterClient)
}

// fakeResult builds the *result the decoders take.
func fakeResult(status int, method string, header http.Header, body []byte) *result {
	if header == nil {
		header = http.Header{}
	}
	req, _ := http.NewRequest(method, fuzzEndpoint+"/v2/keys/k", nil)
	resp := &http.Response{StatusCode: status, Header: header, Request: req, Body: http.NoBody}
	return &result{resp: resp, body: body, endpoint: fuzzEndpoint, method: method, path: "/v2/keys/k"}
}
