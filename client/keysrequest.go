// Requests of the keys API: key canonicalisation, option checks, and the
// hand-built Get, Set, Delete and watch requests (held to the generated
// builders by tests).

package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/meycoin/goetcd/generated"
)

// defaultV2KeysPrefix is where the v2 keys API lives on a member.
const defaultV2KeysPrefix = "/v2/keys"

// canonicalKey checks a key and returns it as the server stores it, without
// the leading slash ("" is the root). Doubled and trailing slashes are
// dropped (the server would answer a redirect to the same key otherwise);
// "." and ".." segments and invalid UTF-8 are refused, since the server would
// resolve them to another key, or store something other than what was asked.
func canonicalKey(key string) (string, error) {
	if !utf8.ValidString(key) {
		return "", invalidArg("key", "%q is not valid UTF-8", key)
	}
	k := strings.Trim(key, "/")
	if !strings.Contains(k, "//") && !strings.Contains(k, ".") {
		return k, nil
	}
	parts := strings.Split(k, "/")
	out := parts[:0]
	for _, p := range parts {
		switch p {
		case "":
			continue
		case ".", "..":
			return "", invalidArg("key", "%q has a %q segment; dot segments are not allowed in keys (the server would resolve them to another key)", key, p)
		}
		out = append(out, p)
	}
	return path.Join(out...), nil
}

// ttlSeconds gives a TTL option as the ttl the server gets, in the whole
// seconds it counts: nil (no ttl sent, so the key is permanent) for a TTL
// <= 0, as the package documentation says; otherwise the TTL rounded
// up to the next whole second, so that a key never lives shorter than
// asked and a positive TTL never goes out as ttl=0, which etcd takes as
// "expire now". Every write that sends a TTL takes it from here.
func ttlSeconds(ttl time.Duration) *uint64 {
	if ttl <= 0 {
		return nil
	}
	s := uint64(ttl / time.Second)
	if ttl%time.Second != 0 {
		s++
	}
	return &s
}

var trueValue = true

func boolPtr(b bool) *bool {
	if b {
		return &trueValue
	}
	return nil
}

// checkUTF8 refuses text that etcd would store but never give back: its
// JSON answers carry U+FFFD in place of each byte that is not valid UTF-8,
// so such a value could not be read back or compared (PrevValue). field
// names the text; the text itself stays out of the error. (Passwords are
// checked apart, without the offending byte.)
func checkUTF8(field, s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	return invalidArg(field, "not valid UTF-8 (byte %#x at offset %d): etcd would answer it with U+FFFD in its place, so it could never be read back or compared as sent; encode binary data (e.g. base64) first", s[i], i)
}

// setForm checks SetOptions and builds the form body, with the retry class
// the write belongs to.
func setForm(value string, o *SetOptions) (generated.SetKeyForm, opClass, error) {
	var f generated.SetKeyForm
	switch o.PrevExist {
	case PrevIgnore, PrevExist, PrevNoExist:
	default:
		return f, 0, invalidArg("SetOptions.PrevExist", "%q is none of PrevIgnore, PrevExist and PrevNoExist", string(o.PrevExist))
	}
	if o.Dir && o.PrevValue != "" {
		return f, 0, invalidArg("SetOptions.PrevValue", "cannot be used with Dir: a directory has no value to compare")
	}
	if o.Refresh && value != "" {
		return f, 0, invalidArg("SetOptions.Refresh", "set with a value; a refresh only resets the TTL, so the value must be empty")
	}
	if o.Refresh && o.TTL <= 0 {
		return f, 0, invalidArg("SetOptions.TTL", "%v with SetOptions.Refresh: a refresh only sets a TTL, so it needs a positive one", o.TTL)
	}
	if o.Refresh && o.Dir {
		return f, 0, invalidArg("SetOptions.Refresh", "cannot be used with Dir")
	}
	if !o.Dir && !o.Refresh {
		if err := checkUTF8("value", value); err != nil {
			return f, 0, err
		}
	}
	if err := checkUTF8("SetOptions.PrevValue", o.PrevValue); err != nil {
		return f, 0, err
	}
	f.Ttl = ttlSeconds(o.TTL)
	if o.Dir {
		f.Dir = &trueValue
	} else if !o.Refresh {
		f.Value = &value
	}
	if o.PrevValue != "" {
		f.PrevValue = &o.PrevValue
	}
	if o.PrevIndex != 0 {
		f.PrevIndex = &o.PrevIndex
	}
	if o.PrevExist != PrevIgnore {
		b := o.PrevExist == PrevExist
		f.PrevExist = &b
	}
	f.Refresh = boolPtr(o.Refresh)
	f.NoValueOnSuccess = boolPtr(o.NoValueOnSuccess)

	class := classIdempotent
	if o.PrevExist == PrevNoExist || o.PrevValue != "" || o.PrevIndex != 0 || (o.Dir && o.PrevExist != PrevExist) {
		class = classOneShot
	}
	return f, class, nil
}

func setOpName(o *SetOptions) string {
	switch {
	case o.PrevExist == PrevNoExist:
		return "create"
	case o.PrevValue != "" || o.PrevIndex != 0:
		return "compare-and-swap"
	case o.Refresh:
		return "refresh"
	case o.PrevExist == PrevExist:
		return "update"
	}
	return "set"
}

// formContentType is the Content-Type of form bodies; requests share the
// slice, which nothing changes.
var formContentType = []string{"application/x-www-form-urlencoded"}

// keysRequest makes a request for the key ck (canonical, "" for the root)
// with a query (already encoded) and, if fr is not nil, fr's form as its
// body. It makes what http.NewRequestWithContext would make of
// placeholderServer, ck and the form (method, URL, Host, header, body,
// ContentLength, GetBody) as a copy of a ready request, without parsing
// placeholderServer again: for a call's attempt context, of the one that
// context keeps, which saves a copy.
func (k *httpKeysAPI) keysRequest(ctx context.Context, method, ck, query string, fr *formRequest) (*http.Request, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	var req *http.Request
	var ku *keyURL
	a, attempt := ctx.(*attemptCtx)
	switch {
	case fr != nil:
		ku = &fr.ku
		if attempt {
			fr.req = *a.bodyless
			req = &fr.req
		}
	case attempt:
		kr := new(keysReq)
		ku = &kr.ku
		kr.req = *a.bodyless
		req = &kr.req
	default:
		ku = new(keyURL)
	}
	if req == nil {
		req = bodylessRequest.WithContext(ctx)
	}
	ku.u = url.URL{Scheme: placeholderScheme, Host: placeholderHost, RawQuery: query}
	ku.setPath(k.prefix, ck)
	req.Method = method
	req.URL = &ku.u
	if fr == nil {
		req.Header = make(http.Header)
		return req, nil
	}
	req.Header = http.Header{"Content-Type": formContentType}
	if len(fr.form) == 0 {
		req.Body, req.GetBody = http.NoBody, noBody
		return req, nil
	}
	// The body is a NopCloser of a *bytes.Reader, as NewRequest makes it:
	// net/http sends such a body with its headers in one write.
	fr.body.Reset(fr.form)
	req.Body = io.NopCloser(&fr.body)
	req.ContentLength = int64(len(fr.form))
	req.GetBody = fr.getBody
	return req, nil
}

// keysReq is a keys request with its URL, in one allocation: the request
// is a copy of the bodyless request of the call's attempt context, which
// carries that context (see attemptCtx.bodyless).
type keysReq struct {
	req http.Request
	ku  keyURL
}

// formRequest holds a keys request with a form body and what it needs, so
// that it takes one allocation: the request (when built for an attempt
// context) and its URL, the form (in room when it fits: most forms do)
// and the reader of the first body.
type formRequest struct {
	keysReq
	body bytes.Reader
	form []byte
	room [formRoom]byte
}

const formRoom = 64

// getBody is the request's GetBody: the whole form again.
func (fr *formRequest) getBody() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(fr.form)), nil
}

func noBody() (io.ReadCloser, error) { return http.NoBody, nil }

// bodylessRequest is the request every keys request without a body is a
// copy of (method, URL and header set afterwards).
var bodylessRequest = func() *http.Request {
	req, err := http.NewRequest(http.MethodGet, placeholderServer, nil)
	if err != nil {
		panic(err)
	}
	return req
}()

// keyURL is a keys request's URL with room for its path, so that both take
// one allocation: keyURLRoom covers the keys of most programs.
type keyURL struct {
	u    url.URL
	room [keyURLRoom]byte
}

const keyURLRoom = 80

// setPath sets the URL's path to prefix+"/"+ck (prefix for the root, "").
// A path that fits is written into room, which is never written again, and
// the path string points into it; a longer one is allocated apart.
func (ku *keyURL) setPath(prefix, ck string) {
	switch {
	case ck == "":
		ku.u.Path = prefix
	case len(prefix)+1+len(ck) > len(ku.room):
		ku.u.Path = prefix + "/" + ck
	default:
		b := append(append(append(ku.room[:0], prefix...), '/'), ck...)
		ku.u.Path = unsafe.String(&ku.room[0], len(b))
	}
}

// Queries of Get for each combination of recursive, sorted and quorum.
var getQueries = [8]string{"", "recursive=true", "sorted=true", "recursive=true&sorted=true",
	"quorum=true", "recursive=true&quorum=true", "sorted=true&quorum=true", "recursive=true&sorted=true&quorum=true"}

// getRequest is generated.NewGetKeyRequest (NewGetKeysRootRequest for "").
func (k *httpKeysAPI) getRequest(ctx context.Context, ck string, p *generated.GetKeyParams) (*http.Request, error) {
	var q string
	if p.Wait == nil && p.WaitIndex == nil && p.Stream == nil && isTrueOrNil(p.Recursive) && isTrueOrNil(p.Sorted) && isTrueOrNil(p.Quorum) {
		i := 0
		if p.Recursive != nil {
			i |= 1
		}
		if p.Sorted != nil {
			i |= 2
		}
		if p.Quorum != nil {
			i |= 4
		}
		q = getQueries[i]
	} else {
		var b []byte
		b = appendBoolParam(b, "recursive", p.Recursive)
		b = appendBoolParam(b, "sorted", p.Sorted)
		b = appendBoolParam(b, "quorum", p.Quorum)
		b = appendBoolParam(b, "wait", p.Wait)
		b = appendUintParam(b, "waitIndex", p.WaitIndex)
		b = appendBoolParam(b, "stream", p.Stream)
		q = string(b)
	}
	return k.keysRequest(ctx, http.MethodGet, ck, q, nil)
}

// deleteRequest is generated.NewDeleteKeyRequest (on the root path for "",
// which etcd always refuses).
func (k *httpKeysAPI) deleteRequest(ctx context.Context, ck string, p *generated.DeleteKeyParams) (*http.Request, error) {
	var q string
	if p.Recursive != nil || p.Dir != nil || p.PrevValue != nil || p.PrevIndex != nil {
		var b []byte
		b = appendBoolParam(b, "recursive", p.Recursive)
		b = appendBoolParam(b, "dir", p.Dir)
		b = appendStringParam(b, "prevValue", p.PrevValue)
		b = appendUintParam(b, "prevIndex", p.PrevIndex)
		q = string(b)
	}
	return k.keysRequest(ctx, http.MethodDelete, ck, q, nil)
}

// setRequest is generated.NewSetKeyRequestWithFormdataBody (on the root
// path for "", which etcd always refuses): the form is encoded as
// runtime.MarshalForm and url.Values.Encode do, names in sorted order.
func (k *httpKeysAPI) setRequest(ctx context.Context, ck string, f *generated.SetKeyForm) (*http.Request, error) {
	fr := new(formRequest)
	b := fr.room[:0]
	b = appendBoolParam(b, "dir", f.Dir)
	b = appendBoolParam(b, "noValueOnSuccess", f.NoValueOnSuccess)
	b = appendBoolParam(b, "prevExist", f.PrevExist)
	b = appendUintParam(b, "prevIndex", f.PrevIndex)
	b = appendStringParam(b, "prevValue", f.PrevValue)
	b = appendBoolParam(b, "refresh", f.Refresh)
	b = appendUintParam(b, "ttl", f.Ttl)
	b = appendStringParam(b, "value", f.Value)
	fr.form = b
	return k.keysRequest(ctx, http.MethodPut, ck, "", fr)
}

func isTrueOrNil(b *bool) bool { return b == nil || *b }

// appendParam starts the parameter name of a query or form.
func appendParam(b []byte, name string) []byte {
	if len(b) > 0 {
		b = append(b, '&')
	}
	b = append(b, name...)
	return append(b, '=')
}

func appendBoolParam(b []byte, name string, v *bool) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendBool(appendParam(b, name), *v)
}

func appendUintParam(b []byte, name string, v *uint64) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendUint(appendParam(b, name), *v, 10)
}

func appendStringParam(b []byte, name string, v *string) []byte {
	if v == nil {
		return b
	}
	return append(appendParam(b, name), url.QueryEscape(*v)...)
}

// fixPath sends slashes inside a key as slashes, the way etcd's own tools do
// (the generated layer escapes them as %2F, which etcd accepts but some
// proxies reject), and moves the request below a custom prefix.
func (k *httpKeysAPI) fixPath(req *http.Request) {
	req.URL.RawPath = ""
	if k.prefix != defaultV2KeysPrefix {
		req.URL.Path = k.prefix + strings.TrimPrefix(req.URL.Path, defaultV2KeysPrefix)
	}
}
