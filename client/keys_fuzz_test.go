package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var fuzzMethods = []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodHead}

// FuzzKeysResult decodes keys answers (events, listings, errors) the way
// every KeysAPI call does. Invariants: exactly one of answer and error; a
// 2xx answer decodes to a Response with an action whose node tree
// re-encodes to equivalent JSON, with X-Etcd-Index taken over exactly (or
// refused with an error that says so); every error is an etcd Error or a
// ResponseError naming the endpoint and status; an error body of the keys
// API is returned as the same Error that decodeKeysError gives.
func FuzzKeysResult(f *testing.F) {
	f.Add(200, uint8(0), "7", []byte(`{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":7,"createdIndex":7}}`+"\n"))
	f.Add(201, uint8(1), "8", []byte(`{"action":"create","node":{"key":"/d/00000000000000000008","value":"x","expiration":"2026-01-01T00:00:05.123Z","ttl":5,"modifiedIndex":8,"createdIndex":8}}`+"\n"))
	f.Add(200, uint8(0), "9", []byte(`{"action":"get","node":{"dir":true,"nodes":[{"key":"/d/a","dir":true,"nodes":[{"key":"/d/a/b","value":"1","modifiedIndex":4,"createdIndex":4}],"modifiedIndex":4,"createdIndex":4}]}}`))
	f.Add(404, uint8(0), "9", []byte(`{"errorCode":100,"message":"Key not found","cause":"/nope","index":9}`+"\n"))
	f.Add(200, uint8(4), "9", []byte(nil))
	f.Add(404, uint8(4), "9", []byte(nil))
	f.Add(502, uint8(0), "", []byte("<html><body>Bad Gateway</body></html>"))
	f.Add(200, uint8(3), "x", []byte(`{"action":"delete","node":{"key":"/k","modifiedIndex":10,"createdIndex":7},"prevNode":{"key":"/k","value":"v","modifiedIndex":7,"createdIndex":7}}`))
	f.Fuzz(func(t *testing.T, status int, method uint8, etcdIndex string, body []byte) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		h := http.Header{}
		if etcdIndex != "" {
			h.Set("X-Etcd-Index", etcdIndex)
		}
		h.Set("X-Etcd-Cluster-Id", "cdf818194e3a8c32")
		h.Set("Content-Type", "application/json")
		res := fakeResult(status, m, h, body)
		r, err := decodeKeysResult(res)
		if (r == nil) == (err == nil) {
			t.Fatalf("decodeKeysResult gave answer %v and error %v", r, err)
		}
		if m == http.MethodGet && fuzzStatus(status) == status {
			var limit int64
			if method&0x80 != 0 {
				limit = int64(len(body)/2 + 1)
			}
			checkThroughClient(t, status, h, body, 1+int(method>>3)%8, limit, r, err)
		}
		checkAnswerError(t, err, status)
		validUTF8Error(t, err)
		ok2xx := status == http.StatusOK || status == http.StatusCreated
		if err != nil {
			if ke, ok := decodeKeysError(body); ok && !ok2xx {
				if !reflect.DeepEqual(err, ke) {
					t.Fatalf("keys error body gave %#v, decodeKeysError %#v", err, ke)
				}
			}
			var e Error
			if errors.As(err, &e) && ok2xx {
				t.Fatalf("a %d answer decoded to the etcd error %v", status, e)
			}
			return
		}
		if !ok2xx {
			t.Fatalf("a %d answer decoded to a Response %+v", status, r)
		}
		if n, perr := strconv.ParseUint(etcdIndex, 10, 64); etcdIndex != "" && (perr != nil || r.Index != n) {
			t.Fatalf("X-Etcd-Index %q gave Index %d (parse error %v)", etcdIndex, r.Index, perr)
		}
		if r.ClusterID != "cdf818194e3a8c32" {
			t.Fatalf("ClusterID %q", r.ClusterID)
		}
		if len(body) == 0 {
			if m != http.MethodHead {
				t.Fatalf("an empty %s answer decoded to %+v", m, r)
			}
			return
		}
		if r.Action == "" {
			t.Fatalf("answer without an action accepted: %q", body)
		}
		checkResponseReencodes(t, body, r)
	})
}

// checkThroughClient sends the answer to a KeysAPI.Get over cannedTransport,
// where a 2xx body is decoded as it is read from the connection, handed
// over chunk bytes at a time, under a size limit of limit bytes (0 = none).
// The outcome must be what decodeKeysResult gives for the body read whole:
// the same Response, or the same error text; or, for a body over the
// limit, a *ResponseTooLargeError.
func checkThroughClient(t *testing.T, status int, h http.Header, body []byte, chunk int, limit int64, r *Response, err error) {
	t.Helper()
	tr := &cannedTransport{answers: []cannedAnswer{{status: status, header: h, body: body, chunk: chunk}}}
	c := cannedClient(t, tr, Config{MaxResponseBytes: limit})
	got, gotErr := NewKeysAPI(c).Get(fuzzCtx(t), "/k", nil)
	if limit > 0 && int64(len(body)) > limit {
		var tl *ResponseTooLargeError
		if !errors.As(gotErr, &tl) || tl.Limit != limit || tl.Endpoint != fuzzEndpoint {
			t.Fatalf("a %d-byte answer with a %d-byte limit gave %v, %v", len(body), limit, got, gotErr)
		}
		return
	}
	if (err == nil) != (gotErr == nil) || (err != nil && err.Error() != gotErr.Error()) {
		t.Fatalf("read whole: %v\nread %d bytes at a time: %v\nbody %q", err, chunk, gotErr, body)
	}
	if err == nil && !reflect.DeepEqual(r, got) {
		t.Fatalf("read whole: %+v\nread %d bytes at a time: %+v\nbody %q", r, chunk, got, body)
	}
}

// FuzzKeysError decodes the keys API's error body. Invariants: a body is an
// etcd error exactly when it is a JSON object with an integer errorCode; the
// decoded Error re-encodes to the same code, message, cause and index; its
// message names the code; and decodeAnyError (the 5xx path of the retry
// layer) gives the same Error for it, or else an HTTPError or ResponseError.
func FuzzKeysError(f *testing.F) {
	f.Add([]byte(`{"errorCode":105,"message":"Key already exists","cause":"/k","index":12}` + "\n"))
	f.Add([]byte(`{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}` + "\n"))
	f.Add([]byte(`{"message":"Internal Server Error"}`))
	f.Add([]byte(`{"errorCode":null}`))
	f.Add([]byte(`{"errorCode":1e2}`))
	f.Add([]byte("404 page not found\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, ok := decodeKeysError(body)
		var probe struct {
			Code *json.Number `json:"errorCode"`
		}
		var want bool
		if json.Unmarshal(body, &probe) == nil && probe.Code != nil {
			if _, err := strconv.ParseInt(string(*probe.Code), 10, strconv.IntSize); err == nil {
				// The other members must decode too for the body to count.
				var full struct {
					Code    int    `json:"errorCode"`
					Message string `json:"message"`
					Cause   string `json:"cause"`
					Index   uint64 `json:"index"`
				}
				want = json.Unmarshal(body, &full) == nil
			}
		}
		if ok != want {
			t.Fatalf("decodeKeysError(%q) ok=%v, want %v", body, ok, want)
		}
		if ok {
			out, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			back, ok2 := decodeKeysError(out)
			if !ok2 || back != e {
				t.Fatalf("Error %#v re-encodes to %s, which decodes to %#v", e, out, back)
			}
			if s := e.Error(); !startsWithInt(s, e.Code) {
				t.Fatalf("Error() = %q does not start with the code %d", s, e.Code)
			}
		}
		for _, status := range []int{500, 503} {
			res := fakeResult(status, http.MethodPut, nil, body)
			err := decodeAnyError(fuzzEndpoint, "", res.resp, body)
			if err == nil {
				t.Fatalf("decodeAnyError(%q) = nil", body)
			}
			if ok && !reflect.DeepEqual(err, e) {
				t.Fatalf("decodeAnyError gave %#v, decodeKeysError %#v", err, e)
			}
			checkAnswerError(t, err, status)
		}
	})
}

func startsWithInt(s string, n int) bool {
	p := strconv.Itoa(n) + ": "
	return len(s) >= len(p) && s[:len(p)] == p
}

// FuzzHTTPError decodes the {"message"} errors of the members, auth and
// stats APIs. Invariants: a JSON object with a string message becomes an
// *HTTPError with that message and the answer's status; anything else a
// ResponseError wrapping ErrInvalidJSON; the error's text names the method,
// path, endpoint and status and stays valid UTF-8.
func FuzzHTTPError(f *testing.F) {
	f.Add(404, []byte(`{"message":"auth: User u does not exist."}`))
	f.Add(403, []byte(`{"message":"not current leader"}`))
	f.Add(503, []byte(`{"message":"During election"}`))
	f.Add(409, []byte(`{"message":"membership: peerURL exists"}`))
	f.Add(401, []byte(`{"message":"Insufficient credentials"}`))
	f.Add(405, []byte("Method Not Allowed\n"))
	f.Add(404, []byte(`{"message":null}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		res := fakeResult(status, http.MethodGet, nil, body)
		err := decodeHTTPError(fuzzEndpoint, http.MethodGet, "/v2/members", "member", res.resp, body)
		if err == nil {
			t.Fatal("decodeHTTPError gave nil")
		}
		checkAnswerError(t, err, status)
		validUTF8Error(t, err)
		var probe struct {
			Message *string `json:"message"`
		}
		isMsg := json.Unmarshal(body, &probe) == nil && probe.Message != nil
		he, ok := err.(*HTTPError)
		if ok != isMsg {
			t.Fatalf("body %q: HTTPError=%v, but a message body=%v (%v)", body, ok, isMsg, err)
		}
		if ok {
			if he.Message != *probe.Message || he.StatusCode != status || he.Method != http.MethodGet || he.Path != "/v2/members" {
				t.Fatalf("HTTPError %+v from status %d body %q", he, status, body)
			}
		} else if !errors.Is(err, ErrInvalidJSON) {
			t.Fatalf("not a message body, yet %v", err)
		}
		s := err.Error()
		if !strings.Contains(s, fuzzEndpoint) || !strings.Contains(s, strconv.Itoa(status)) {
			t.Fatalf("error %q does not name endpoint and status", s)
		}
		if ok && (!strings.Contains(s, "GET") || !strings.Contains(s, "/v2/members")) {
			t.Fatalf("error %q does not name the request", s)
		}
	})
}
