package client_test

// The examples' server. By default it is a test double of the wire format:
// replayTransport answers each request with the answer etcd 3.5.35 gave to
// the same request, recorded in testdata/examples.json — so `go test
// ./client/` runs the examples, and checks their output, in milliseconds
// and without a server. tests/examples runs the same examples against a
// real etcd (GOETCD_EXAMPLE_ENDPOINTS, every exchange validated against
// openapi.yaml) and re-records the file (GOETCD_EXAMPLE_RECORD).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/meycoin/goetcd/client"
)

// exampleEndpoints and exampleTransport are what the examples connect with.
var exampleEndpoints, exampleTransport = exampleServer()

const (
	// exampleEndpointsEnv makes the examples talk to a real etcd: a comma
	// separated list of its client URLs.
	exampleEndpointsEnv = "GOETCD_EXAMPLE_ENDPOINTS"
	// exampleRecordEnv, with exampleEndpointsEnv, names the file the
	// exchanges with the real etcd are written to.
	exampleRecordEnv = "GOETCD_EXAMPLE_RECORD"
	// exampleRecording is the recording replayed without a real etcd.
	exampleRecording = "testdata/examples.json"
	// replayEndpoint is where the replayed examples send.
	replayEndpoint = "http://127.0.0.1:2379"
)

func exampleServer() ([]string, client.CancelableTransport) {
	eps := os.Getenv(exampleEndpointsEnv)
	if eps == "" {
		return []string{replayEndpoint}, newReplayTransport(exampleRecording)
	}
	// No idle connection may outlive the examples (the package's TestMain
	// checks that no goroutine does).
	live := client.DefaultTransport.(*http.Transport).Clone()
	live.DisableKeepAlives = true
	if path := os.Getenv(exampleRecordEnv); path != "" {
		return strings.Split(eps, ","), &recordingTransport{base: live, path: path}
	}
	return strings.Split(eps, ","), live
}

// exchange is one recorded request and its answer. Request headers (among
// them credentials) are not kept, and passwords in request bodies are
// replaced (the replay compares bodies the same way).
type exchange struct {
	Request string            `json:"request"` // "METHOD /path?query"
	Body    string            `json:"body,omitempty"`
	Status  int               `json:"status"`
	Header  map[string]string `json:"header,omitempty"`
	Answer  string            `json:"answer"`
}

// recordedHeaders are the answer headers a recording keeps.
var recordedHeaders = []string{"Content-Type", "X-Etcd-Cluster-Id", "X-Etcd-Index", "X-Raft-Index", "X-Raft-Term"}

func requestLine(req *http.Request) string {
	return req.Method + " " + req.URL.RequestURI()
}

// passwordField is a password in a JSON request body.
var passwordField = regexp.MustCompile(`"password":"(?:[^"\\]|\\.)*"`)

// redacted is body with its passwords replaced.
func redacted(body string) string {
	return passwordField.ReplaceAllString(body, `"password":"REDACTED"`)
}

func readBody(rc io.ReadCloser) string {
	if rc == nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// replayTransport answers a request with the first unused recorded
// exchange of the same request line and body (the last one again once all
// are used), and anything else with 400 and a body saying it was not
// recorded (also written to standard error).
type replayTransport struct {
	mu    sync.Mutex
	byReq map[string][]exchange
}

func newReplayTransport(path string) *replayTransport {
	t := &replayTransport{byReq: map[string][]exchange{}}
	b, err := os.ReadFile(path)
	var xs []exchange
	if err == nil {
		err = json.Unmarshal(b, &xs)
	}
	if err != nil {
		panic(fmt.Sprintf("examples: reading the recording %s: %v", path, err))
	}
	for _, x := range xs {
		k := x.Request + "\n" + x.Body
		t.byReq[k] = append(t.byReq[k], x)
	}
	return t
}

func (t *replayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := redacted(readBody(req.Body))
	k := requestLine(req) + "\n" + body
	t.mu.Lock()
	xs := t.byReq[k]
	var x exchange
	if len(xs) > 0 {
		x = xs[0]
		if len(xs) > 1 {
			t.byReq[k] = xs[1:]
		}
	}
	t.mu.Unlock()
	if x.Status == 0 {
		msg := fmt.Sprintf("%s (body %q) is not in %s: record the examples again with `cd tests && go test ./examples -update`", requestLine(req), body, exampleRecording)
		fmt.Fprintln(os.Stderr, "examples:", msg)
		x = exchange{Status: http.StatusBadRequest, Answer: msg + "\n"}
	}
	h := http.Header{}
	for k, v := range x.Header {
		h.Set(k, v)
	}
	return &http.Response{
		Status: strconv.Itoa(x.Status) + " " + http.StatusText(x.Status), StatusCode: x.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(x.Answer)), ContentLength: int64(len(x.Answer)),
		Request: req,
	}, nil
}

func (*replayTransport) CancelRequest(*http.Request) {}

// recordingTransport sends requests to a real etcd and writes every
// exchange to path (rewritten after each one).
type recordingTransport struct {
	base *http.Transport
	path string
	mu   sync.Mutex
	xs   []exchange
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := readBody(req.Body)
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(strings.NewReader(body))
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	answer := readBody(resp.Body)
	resp.Body = io.NopCloser(strings.NewReader(answer))
	x := exchange{Request: requestLine(req), Body: redacted(body), Status: resp.StatusCode, Header: map[string]string{}, Answer: answer}
	for _, h := range recordedHeaders {
		if v := resp.Header.Get(h); v != "" {
			x.Header[h] = v
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.xs = append(t.xs, x)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t.xs); err != nil {
		return nil, err
	}
	return resp, os.WriteFile(t.path, b.Bytes(), 0o644)
}

func (t *recordingTransport) CancelRequest(req *http.Request) { t.base.CancelRequest(req) }
