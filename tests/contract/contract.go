// Package contract checks real HTTP exchanges against the OpenAPI spec: a
// Transport validates every request and response with kin-openapi and fails
// the test on each mismatch, so the spec is held to what etcd really sends
// and the client to what the spec allows.
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// DefaultSpecPath returns the repository's openapi.yaml, located from this
// source file so it does not depend on the test's working directory.
func DefaultSpecPath() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "..", "openapi.yaml")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "openapi.yaml")
}

// V3SpecPath returns v3keys/openapi.yaml, the part of etcd's v3 gateway the
// v3 backend uses.
func V3SpecPath() string {
	return filepath.Join(filepath.Dir(DefaultSpecPath()), "v3keys", "openapi.yaml")
}

// Transport is an http.RoundTripper that validates each exchange against an
// OpenAPI document and reports every violation with t.Errorf.
type Transport struct {
	// Base performs the actual exchange; nil means http.DefaultTransport.
	Base http.RoundTripper

	t testing.TB
	// routers are tried in order; the first that knows the request's path
	// validates the exchange.
	routers []routers.Router
	options *openapi3filter.Options

	exchanges  atomic.Int64
	violations atomic.Int64
	// done is set when the test's cleanup runs: a streaming body read after
	// that must not call t.Errorf, which panics once a test has finished.
	done atomic.Bool
}

var registerFormats sync.Once

// textPlainDecoder reads a text/plain body as JSON when the spec gives it an
// object or array schema. etcd's /health sends {"health":"true"} as
// text/plain; without this, kin-openapi hands the schema a string and the
// spec could only describe the body as an opaque string.
func textPlainDecoder(body io.Reader, h http.Header, schema *openapi3.SchemaRef, enc openapi3filter.EncodingFn) (any, error) {
	if schema != nil && schema.Value != nil && (schema.Value.Type.Is("object") || schema.Value.Type.Is("array")) {
		return openapi3filter.JSONBodyDecoder(body, h, schema, enc)
	}
	return openapi3filter.PlainBodyDecoder(body, h, schema, enc)
}

// RefusedExtension is the top-level extension of openapi.yaml that holds, in
// the shape of paths, the requests etcd answers but never lets succeed (PUT
// and DELETE of the root, DELETE /v2/members/leader). They are no
// operations of the API, so generators never offer them; Load adds them to
// the paths so that what the server answers to them is still checked.
const RefusedExtension = "x-always-refused"

// Load reads the spec at specPath and returns it with the operations of
// RefusedExtension merged into its paths, all references resolved. Each
// refused operation must be on a path of the spec and must not collide with
// one of its operations.
func Load(specPath string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", specPath, err)
	}
	raw, ok := doc.Extensions[RefusedExtension]
	if !ok {
		return doc, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", specPath, RefusedExtension, err)
	}
	var refused map[string]*openapi3.PathItem
	if err := json.Unmarshal(b, &refused); err != nil {
		return nil, fmt.Errorf("%s: %s is not a map of path items: %w", specPath, RefusedExtension, err)
	}
	for path, item := range refused {
		target := doc.Paths.Value(path)
		if target == nil {
			return nil, fmt.Errorf("%s: %s names %s, which is not a path of the spec", specPath, RefusedExtension, path)
		}
		for method, op := range item.Operations() {
			if target.GetOperation(method) != nil {
				return nil, fmt.Errorf("%s: %s %s is both an operation and in %s", specPath, method, path, RefusedExtension)
			}
			target.SetOperation(method, op)
		}
	}
	if err := loader.ResolveRefsIn(doc, nil); err != nil {
		return nil, fmt.Errorf("%s: resolving %s: %w", specPath, RefusedExtension, err)
	}
	return doc, nil
}

// keysPath matches the key-space path item, whatever its parameter is called.
var keysPath = regexp.MustCompile(`^/v2/keys/\{([A-Za-z0-9_]+)\}$`)

// New loads and validates the spec at specPath and returns a Transport over
// base. With an empty specPath it validates against both of the
// repository's specs: openapi.yaml (the v2 API) and, for the requests it
// does not describe, v3keys/openapi.yaml (the v3 gateway). It fails the test
// if a spec cannot be loaded, is invalid, or cannot be routed.
func New(t testing.TB, specPath string, base http.RoundTripper) *Transport {
	t.Helper()
	specs := []string{specPath}
	if specPath == "" {
		specs = []string{DefaultSpecPath(), V3SpecPath()}
	}
	// kin-openapi keeps format validators in a global map, so define uint64
	// once, before any validation can read the map. Values beyond int64 still
	// fail (kin-openapi parses integers as int64), which etcd indices never
	// reach.
	registerFormats.Do(func() {
		openapi3.DefineIntegerFormatValidator("uint64", openapi3.NewRangeFormatValidator[int64](0, math.MaxInt64))
		openapi3filter.RegisterBodyDecoder("text/plain", textPlainDecoder)
	})

	var rs []routers.Router
	for _, specPath := range specs {
		rs = append(rs, loadRouter(t, specPath))
	}
	tr := &Transport{
		Base:    base,
		t:       t,
		routers: rs,
		options: &openapi3filter.Options{
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
			IncludeResponseStatus: true,
		},
	}
	t.Cleanup(func() { tr.done.Store(true) })
	return tr
}

// loadRouter loads and validates one spec and makes its router.
func loadRouter(t testing.TB, specPath string) routers.Router {
	t.Helper()
	doc, err := Load(specPath)
	if err != nil {
		t.Fatalf("contract: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("contract: %s is not a valid OpenAPI document: %v", specPath, err)
	}
	// Servers would pin routing to the spec's host and port; test servers
	// listen on random ports.
	doc.Servers = nil

	router, err := gorillamux.NewRouter(routingCopy(doc))
	if err != nil {
		t.Fatalf("contract: building router for %s: %v", specPath, err)
	}
	return router
}

// routingCopy returns doc with /v2/keys/{key} turned into the gorilla/mux
// template /v2/keys/{key:.*}, so that keys sent with raw slashes (a/b/c, as
// etcd's own client does) match. Only the router sees the copy; the path
// items and operations are shared, so validation is unchanged.
func routingCopy(doc *openapi3.T) *openapi3.T {
	paths := openapi3.NewPaths()
	for p, item := range doc.Paths.Map() {
		if m := keysPath.FindStringSubmatch(p); m != nil {
			p = "/v2/keys/{" + m[1] + ":.*}"
		}
		paths.Set(p, item)
	}
	cp := *doc
	cp.Paths = paths
	return &cp
}

// Client returns an http.Client that validates against the repository's
// openapi.yaml and, like the library, does not follow redirects: etcd's
// redirects are answers the client must handle, and Go would turn a
// redirected PUT into a GET.
func Client(t testing.TB, base http.RoundTripper) *http.Client {
	t.Helper()
	return New(t, "", base).Client()
}

// Client returns an http.Client over tr that does not follow redirects.
func (tr *Transport) Client() *http.Client {
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Exchanges returns how many requests went through the transport.
func (tr *Transport) Exchanges() int { return int(tr.exchanges.Load()) }

// Violations returns how many contract violations were reported.
func (tr *Transport) Violations() int { return int(tr.violations.Load()) }

func (tr *Transport) base() http.RoundTripper {
	if tr.Base != nil {
		return tr.Base
	}
	return http.DefaultTransport
}

// report never prints headers, so credentials in Authorization cannot leak
// into test logs; the URL is printed without its password for the same reason.
func (tr *Transport) report(req *http.Request, status string, err error) {
	tr.violations.Add(1)
	if tr.done.Load() {
		return
	}
	tr.t.Errorf("contract violation: %s %s -> %s: %v", req.Method, req.URL.Redacted(), status, err)
}

// RoundTrip validates the request, performs it with Base, and validates the
// response. Violations never change what the caller receives.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tr.exchanges.Add(1)
	body, err := drain(req.Body)
	if err != nil {
		return nil, fmt.Errorf("contract: reading request body: %w", err)
	}
	// RoundTrip must not modify the caller's request, so the buffered body
	// travels on a clone.
	out := req.Clone(req.Context())
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}

	in := tr.validateRequest(out, body)

	resp, err := tr.base().RoundTrip(out)
	if err != nil {
		return resp, err
	}
	resp.Request = req
	if in == nil {
		return resp, nil
	}
	if err := undeclaredRedirect(in, resp.StatusCode); err != nil {
		tr.report(req, resp.Status, err)
	}
	if isStream(out) && resp.StatusCode == http.StatusOK {
		tr.validateStream(in, resp)
		return resp, nil
	}
	rb, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if readErr != nil {
		// Cancelled or broken mid-body: not the server's contract, so hand
		// the caller the same bytes and the same error without a report.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(rb), errReader{readErr}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))

	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                tr.options,
	}
	if len(rb) == 0 && isWait(out) && resp.StatusCode == http.StatusOK {
		// etcd commits 200 and headers before the event exists; when it
		// closes the long poll without one, the body is empty. That is legal
		// on the wire (the client re-issues the watch), so only the headers
		// are checked.
		opts := *tr.options
		opts.ExcludeResponseBody = true
		rin.Options = &opts
	}
	rin.SetBodyBytes(rb)
	if err := openapi3filter.ValidateResponse(req.Context(), rin); err != nil {
		tr.report(req, resp.Status, err)
	}
	return resp, nil
}

// undeclaredRedirect closes a gap in kin-openapi: ValidateResponse accepts
// 301, 304, 307 and 308 without looking at the spec, but etcd's ServeMux
// redirects are exactly the responses a client mishandles (a followed 301
// turns PUT into GET), so they must be declared like any other status.
func undeclaredRedirect(in *openapi3filter.RequestValidationInput, status int) error {
	switch status {
	case http.StatusMovedPermanently, http.StatusNotModified, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil
	}
	responses := in.Route.Operation.Responses
	if responses.Status(status) != nil || responses.Default() != nil {
		return nil
	}
	return fmt.Errorf("status %d is not declared for %s %s", status, in.Route.Method, in.Route.Path)
}

// validateRequest returns nil when the request has no route, after reporting
// it; without a route there is nothing to check the response against.
func (tr *Transport) validateRequest(req *http.Request, body []byte) *openapi3filter.RequestValidationInput {
	var route *routers.Route
	var params map[string]string
	var err error
	for _, r := range tr.routers {
		if route, params, err = r.FindRoute(req); err == nil {
			break
		}
	}
	if err != nil {
		tr.report(req, "(not sent yet)", fmt.Errorf("no route in the spec: %w", err))
		return nil
	}
	// ValidateRequest consumes the body, so it gets its own copy.
	vreq := req.Clone(req.Context())
	if body != nil {
		vreq.Body = io.NopCloser(bytes.NewReader(body))
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    vreq,
		PathParams: params,
		Route:      route,
		Options:    tr.options,
	}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		tr.report(req, "(not sent yet)", fmt.Errorf("request: %w", err))
	}
	return in
}

// validateStream checks status and headers at once, then validates each
// event as the caller reads it. Buffering is impossible here: a stream watch
// only ends when the caller gives up.
func (tr *Transport) validateStream(in *openapi3filter.RequestValidationInput, resp *http.Response) {
	opts := *tr.options
	opts.ExcludeResponseBody = true
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &opts,
	}
	if err := openapi3filter.ValidateResponse(in.Request.Context(), rin); err != nil {
		tr.report(in.Request, resp.Status, err)
	}
	var schema *openapi3.SchemaRef
	if r := in.Route.Operation.Responses.Status(http.StatusOK); r != nil && r.Value != nil {
		if mt := r.Value.Content.Get("application/json"); mt != nil {
			schema = mt.Schema
		}
	}
	if schema == nil {
		tr.report(in.Request, resp.Status, errors.New("stream: the spec has no application/json schema for 200"))
	}
	resp.Body = &eventReader{tr: tr, req: in.Request, status: resp.Status, header: resp.Header, schema: schema, body: resp.Body}
}

// eventReader passes a stream watch body through unchanged and validates
// every complete newline-terminated event against the 200 schema.
type eventReader struct {
	tr     *Transport
	req    *http.Request
	status string
	header http.Header
	schema *openapi3.SchemaRef
	body   io.ReadCloser
	buf    []byte // bytes of the event not yet terminated by '\n'
}

func (r *eventReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.buf = append(r.buf, p[:n]...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			break
		}
		r.check(r.buf[:i])
		r.buf = r.buf[i+1:]
	}
	if errors.Is(err, io.EOF) && len(bytes.TrimSpace(r.buf)) > 0 {
		r.tr.report(r.req, r.status, fmt.Errorf("stream ended inside an event: %q", r.buf))
		r.buf = nil
	}
	return n, err
}

func (r *eventReader) check(line []byte) {
	if len(bytes.TrimSpace(line)) == 0 || r.schema == nil {
		return
	}
	value, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(line), r.header, r.schema, nil)
	if err == nil {
		err = r.schema.Value.VisitJSON(value, openapi3.VisitAsResponse())
	}
	if err != nil {
		r.tr.report(r.req, r.status, fmt.Errorf("stream event %q: %w", line, err))
	}
}

func (r *eventReader) Close() error { return r.body.Close() }

// isWait reports an etcd watch: wait=true on a GET. etcd parses booleans
// with strconv.ParseBool, so "1" and "T" count too.
func isWait(req *http.Request) bool {
	return req.Method == http.MethodGet && queryBool(req.URL, "wait")
}

// isStream reports a streaming watch: a v2 watch with stream=true (etcd
// ignores stream without wait), or a watch of the v3 gateway.
func isStream(req *http.Request) bool {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/v3/watch") {
		return true
	}
	return isWait(req) && queryBool(req.URL, "stream")
}

func queryBool(u *url.URL, name string) bool {
	b, err := strconv.ParseBool(u.Query().Get(name))
	return err == nil && b
}

// drain reads and closes a request body; nil means there was none.
func drain(body io.ReadCloser) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	defer body.Close()
	return io.ReadAll(body)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
