package client

// Checks shared by the fuzz targets (*_fuzz_test.go). The targets reach the
// decoders either directly (decodeKeysResult, decodeKeysError, ... on a
// fakeResult) or through the public API over cannedTransport (both in
// faketransport_test.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzStatus maps any int onto a status the client treats as an answer
// (200..499): 5xx answers go through the retry layer's back-off, which is
// tested apart (decodeAnyError) so that fuzzing stays fast.
func fuzzStatus(s int) int {
	if s >= 200 && s < 500 {
		return s
	}
	if s < 0 {
		s = -(s + 1)
	}
	return 200 + s%300
}

// checkAnswerError asserts what every error from decoding an answer must be:
// an etcd Error, an *HTTPError or a *ResponseError (wrapping ErrInvalidJSON
// or ErrEmptyBody, with a snippet of at most 120 bytes), saying where it
// came from; never a bare encoding/json error.
func checkAnswerError(t *testing.T, err error, status int) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if msg == "" {
		t.Fatalf("error with an empty message: %#v", err)
	}
	var ke Error
	var he *HTTPError
	var re *ResponseError
	switch {
	case errors.As(err, &re):
		if !errors.Is(err, ErrInvalidJSON) && !errors.Is(err, ErrEmptyBody) {
			t.Fatalf("ResponseError wraps neither ErrInvalidJSON nor ErrEmptyBody: %v", err)
		}
		if len(re.Snippet) > 120 {
			t.Fatalf("snippet of %d bytes: %q", len(re.Snippet), re.Snippet)
		}
		if re.StatusCode != status {
			t.Fatalf("ResponseError status %d, answer was %d", re.StatusCode, status)
		}
		if !strings.Contains(msg, re.Endpoint) || re.Endpoint == "" {
			t.Fatalf("ResponseError does not name the endpoint: %v", err)
		}
	case errors.As(err, &he):
		if he.StatusCode != status {
			t.Fatalf("HTTPError status %d, answer was %d", he.StatusCode, status)
		}
		if he.Endpoint == "" || !strings.Contains(msg, he.Endpoint) {
			t.Fatalf("HTTPError does not name the endpoint: %v", err)
		}
	case errors.As(err, &ke):
	default:
		t.Fatalf("error of type %T is not an answer error: %v", err, err)
	}
}

// ---- JSON equivalence of decoded answers ---------------------------------

// strictJSON reports whether data is one JSON value whose objects have no
// duplicate member names and no names that match one of known only when
// case is ignored. For such input encoding/json's struct decoding (which
// keeps the last duplicate and matches names case-insensitively) and a
// generic decoding agree, so a re-encoded value can be compared with the
// input; for other input only the re-encoding's stability is checked.
func strictJSON(data []byte, known ...string) bool {
	type member struct {
		obj  int
		name string
	}
	seen := map[member]bool{}
	return walkMemberNames(data, func(obj int, name string) bool {
		m := member{obj, name}
		if seen[m] {
			return false
		}
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				return false
			}
		}
		seen[m] = true
		return true
	})
}

// walkMemberNames calls visit with each member name of each object of
// data, in order, and a number telling the objects apart; it stops when
// visit returns false. It reports whether data was read to its end as one
// complete JSON value (false too when visit stopped it).
func walkMemberNames(data []byte, visit func(obj int, name string) bool) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		obj, isKey bool
		id         int
	}
	var stack []frame
	objects := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return len(stack) == 0
		}
		if err != nil {
			return false
		}
		n := len(stack)
		if n > 0 && stack[n-1].obj && stack[n-1].isKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				continue
			}
			if !visit(stack[n-1].id, tok.(string)) {
				return false
			}
			stack[n-1].isKey = false
			continue
		}
		if n > 0 && stack[n-1].obj {
			stack[n-1].isKey = true
		}
		switch tok {
		case json.Delim('{'):
			objects++
			stack = append(stack, frame{obj: true, isKey: true, id: objects})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:n-1]
		}
	}
}

var nodeFieldNames = []string{"action", "node", "prevNode", "key", "dir", "value", "nodes", "createdIndex", "modifiedIndex", "expiration", "ttl"}

// genericJSON decodes data with numbers kept as text.
func genericJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// canonResponse projects a generically decoded keys answer onto what the
// Response type holds, with absent fields and their defaults made equal.
func canonResponse(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object: %T", v)
	}
	out := map[string]any{"action": strOr(m["action"])}
	var err error
	if out["node"], err = canonNode(m["node"]); err != nil {
		return nil, err
	}
	if out["prevNode"], err = canonNode(m["prevNode"]); err != nil {
		return nil, err
	}
	return out, nil
}

func strOr(v any) string {
	s, _ := v.(string)
	return s
}

func canonNode(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("node is %T", v)
	}
	out := map[string]any{
		"key":   strOr(m["key"]),
		"value": strOr(m["value"]),
	}
	dir, _ := m["dir"].(bool)
	out["dir"] = dir
	for _, f := range []string{"createdIndex", "modifiedIndex", "ttl"} {
		n := new(big.Int)
		if s, ok := m[f].(json.Number); ok {
			if _, ok := n.SetString(string(s), 10); !ok {
				return nil, fmt.Errorf("%s: %q is not an integer", f, s)
			}
		}
		out[f] = n.String()
	}
	if e, ok := m["expiration"].(string); ok {
		tm, err := time.Parse(time.RFC3339Nano, e)
		if err != nil {
			return nil, fmt.Errorf("expiration %q: %v", e, err)
		}
		out["expiration"] = tm.UTC().Format(time.RFC3339Nano)
	} else {
		out["expiration"] = nil
	}
	switch ns := m["nodes"].(type) {
	case nil:
		out["nodes"] = nil
	case []any:
		list := make([]any, len(ns))
		for i, c := range ns {
			var err error
			if list[i], err = canonNode(c); err != nil {
				return nil, err
			}
		}
		out["nodes"] = list
	default:
		return nil, fmt.Errorf("nodes is %T", ns)
	}
	return out, nil
}

// checkResponseReencodes asserts that r, decoded from body, re-encodes to
// JSON equivalent to body: the same action, and node trees with the same
// keys, values, dir flags, indexes, TTLs, expirations (as instants) and
// children in the same order. Members the Response type does not hold are
// left out of the comparison. For input that is not strictJSON, it asserts
// that a second decode and encode changes nothing.
func checkResponseReencodes(t *testing.T, body []byte, r *Response) {
	t.Helper()
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("re-encoding the decoded answer: %v\nbody: %q", err, body)
	}
	var again Response
	if err := json.Unmarshal(out, &again); err != nil {
		t.Fatalf("the re-encoded answer does not decode: %v\n%s", err, out)
	}
	out2, _ := json.Marshal(&again)
	if !bytes.Equal(out, out2) {
		t.Fatalf("re-encoding is not stable:\n%s\n%s", out, out2)
	}
	gotG, err := genericJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := canonResponse(gotG)
	if err != nil {
		t.Fatalf("re-encoded answer: %v\n%s", err, out)
	}
	if !strictJSON(body, nodeFieldNames...) {
		return
	}
	inG, err := genericJSON(body)
	if err != nil {
		t.Fatalf("decoded by the client but not generically: %v\nbody: %q", err, body)
	}
	want, err := canonResponse(inG)
	if err != nil {
		t.Fatalf("decoded by the client although %v\nbody: %q", err, body)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded node tree does not re-encode to equivalent JSON\nbody:       %q\nre-encoded: %s\nwant %v\ngot  %v", body, out, want, got)
	}
}

// validUTF8Error asserts that an error message can be logged as text.
func validUTF8Error(t *testing.T, err error) {
	t.Helper()
	if err != nil && !utf8.ValidString(err.Error()) {
		t.Fatalf("error message is not valid UTF-8: %q", err.Error())
	}
}

// fuzzCtx is the context of fuzzed calls: every call over cannedTransport
// answers at once, so a call that is still running after this long hangs.
func fuzzCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
