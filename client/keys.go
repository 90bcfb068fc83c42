package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// PrevExistType is used to define an existence condition when setting or
// deleting Nodes.
type PrevExistType string

const (
	// PrevIgnore makes no existence condition.
	PrevIgnore = PrevExistType("")
	// PrevExist requires the node to exist (an update).
	PrevExist = PrevExistType("true")
	// PrevNoExist requires the node not to exist (a create).
	PrevNoExist = PrevExistType("false")
)

// KeysAPI reads, writes and watches keys of the v2 store.
type KeysAPI interface {
	// Get retrieves a set of Nodes from etcd
	Get(ctx context.Context, key string, opts *GetOptions) (*Response, error)

	// Set assigns a new value to a Node identified by a given key. The caller
	// may define a set of conditions in the SetOptions. If SetOptions.Dir=true
	// then value is ignored.
	Set(ctx context.Context, key, value string, opts *SetOptions) (*Response, error)

	// Delete removes a Node identified by the given key, optionally destroying
	// all of its children as well. The caller may define a set of required
	// conditions in an DeleteOptions object.
	Delete(ctx context.Context, key string, opts *DeleteOptions) (*Response, error)

	// Create is an alias for Set w/ PrevExist=false
	Create(ctx context.Context, key, value string) (*Response, error)

	// CreateInOrder is used to atomically create in-order keys within the given directory.
	CreateInOrder(ctx context.Context, dir, value string, opts *CreateInOrderOptions) (*Response, error)

	// Update is an alias for Set w/ PrevExist=true
	Update(ctx context.Context, key, value string) (*Response, error)

	// Watcher builds a new Watcher targeted at a specific Node identified
	// by the given key. The Watcher may be configured at creation time
	// through a WatcherOptions object. The returned Watcher is designed
	// to emit events that happen to a Node, and optionally to its children.
	Watcher(key string, opts *WatcherOptions) Watcher
}

// GetOptions are the options of KeysAPI.Get. A nil *GetOptions means the
// zero value.
type GetOptions struct {
	// Recursive defines whether or not all children of the Node
	// should be returned.
	Recursive bool

	// Sort instructs the server whether or not to sort the Nodes.
	// If true, the Nodes are sorted alphabetically by key in
	// ascending order (A to z). If false (default), the Nodes will
	// not be sorted and the ordering used should not be considered
	// predictable.
	Sort bool

	// Quorum specifies whether it gets the latest committed value that
	// has been applied in quorum of members, which ensures external
	// consistency (or linearizability).
	Quorum bool
}

// SetOptions are the options of KeysAPI.Set. A nil *SetOptions means the
// zero value: an unconditional set of a permanent key.
type SetOptions struct {
	// PrevValue specifies what the current value of the Node must
	// be in order for the Set operation to succeed.
	//
	// Leaving this field empty means that the caller wishes to
	// ignore the current value of the Node. This cannot be used
	// to compare the Node's current value to an empty string.
	//
	// PrevValue may not be combined with Dir=true (an error says so).
	PrevValue string

	// PrevIndex indicates what the current ModifiedIndex of the
	// Node must be in order for the Set operation to succeed.
	//
	// If PrevIndex is set to 0 (default), no comparison is made.
	PrevIndex uint64

	// PrevExist specifies whether the Node must currently exist
	// (PrevExist) or not (PrevNoExist). If the caller does not
	// care about existence, set PrevExist to PrevIgnore, or simply
	// leave it unset.
	PrevExist PrevExistType

	// TTL defines a period of time after-which the Node should
	// expire and no longer exist. Zero means no TTL: the key is
	// permanent (a write without a TTL also removes an earlier one).
	// The server counts whole seconds, so TTL must be a whole number of
	// seconds; a negative, sub-second or fractional TTL is refused with an
	// error rather than rounded (etcd takes ttl=0 to mean "expire now").
	TTL time.Duration

	// Refresh set to true means a TTL value can be updated
	// without firing a watch or changing the node value. A
	// value must not be provided when refreshing a key, and TTL must be
	// set.
	Refresh bool

	// Dir specifies whether or not this Node should be created as a directory.
	Dir bool

	// NoValueOnSuccess specifies whether the response contains the current value of the Node.
	// If set, the response will only contain the current value when the request fails.
	// (The server then leaves out the node altogether: Response.Node is nil.)
	NoValueOnSuccess bool
}

// DeleteOptions are the options of KeysAPI.Delete. A nil *DeleteOptions means
// the zero value: an unconditional delete of a key (not a directory).
type DeleteOptions struct {
	// PrevValue specifies what the current value of the Node must
	// be in order for the Delete operation to succeed.
	//
	// Leaving this field empty means that the caller wishes to
	// ignore the current value of the Node. This cannot be used
	// to compare the Node's current value to an empty string.
	PrevValue string

	// PrevIndex indicates what the current ModifiedIndex of the
	// Node must be in order for the Delete operation to succeed.
	//
	// If PrevIndex is set to 0 (default), no comparison is made.
	PrevIndex uint64

	// Recursive defines whether or not all children of the Node
	// should be deleted. If set to true, all children of the Node
	// identified by the given key will be deleted. If left unset
	// or explicitly set to false, only a single Node will be
	// deleted.
	Recursive bool

	// Dir specifies whether or not this Node should be removed as a directory.
	Dir bool
}

// CreateInOrderOptions are the options of KeysAPI.CreateInOrder.
type CreateInOrderOptions struct {
	// TTL defines a period of time after-which the Node should
	// expire and no longer exist. Zero means no TTL. As with
	// SetOptions.TTL, it must be a whole number of seconds; a negative,
	// sub-second or fractional TTL is refused.
	TTL time.Duration
}

// Response is the answer to a keys call or a watched event.
type Response struct {
	// Action is the name of the operation that occurred. Possible values
	// include get, set, delete, update, create, compareAndSwap,
	// compareAndDelete and expire.
	Action string `json:"action"`

	// Node represents the state of the relevant etcd Node. It is nil when
	// SetOptions.NoValueOnSuccess was set.
	Node *Node `json:"node"`

	// PrevNode represents the previous state of the Node. PrevNode is non-nil
	// only if the Node existed before the action occurred and the action
	// caused a change to the Node.
	PrevNode *Node `json:"prevNode"`

	// Index holds the cluster-level index at the time the Response was generated.
	// This index is not tied to the Node(s) contained in this Response.
	// (On a watched event it is the index when the watch started; use
	// Node.ModifiedIndex for the event's own index.)
	Index uint64 `json:"-"`

	// ClusterID holds the cluster-level ID reported by the server. This
	// should be different for different etcd clusters.
	ClusterID string `json:"-"`

	// RaftIndex is the member's raft commit index (X-Raft-Index) when it
	// answered. It also counts quorum reads and internal entries, so it
	// moves without key changes.
	RaftIndex uint64 `json:"-"`

	// RaftTerm is the member's raft term (X-Raft-Term) when it answered; it
	// grows with each leader election.
	RaftTerm uint64 `json:"-"`
}

// Node is a key or a directory of the v2 store.
type Node struct {
	// Key represents the unique location of this Node (e.g. "/foo/bar").
	// The root directory's key is "".
	Key string `json:"key"`

	// Dir reports whether node describes a directory.
	Dir bool `json:"dir,omitempty"`

	// Value is the current data stored on this Node. If this Node
	// is a directory, Value will be empty.
	Value string `json:"value"`

	// Nodes holds the children of this Node, only if this Node is a directory.
	// This slice of will be arbitrarily deep (children, grandchildren, great-
	// grandchildren, etc.) if a recursive Get or Watch request were made.
	Nodes Nodes `json:"nodes"`

	// CreatedIndex is the etcd index at-which this Node was created.
	CreatedIndex uint64 `json:"createdIndex"`

	// ModifiedIndex is the etcd index at-which this Node was last modified.
	ModifiedIndex uint64 `json:"modifiedIndex"`

	// Expiration is the server side expiration time of the key.
	Expiration *time.Time `json:"expiration,omitempty"`

	// TTL is the time to live of the key in second.
	TTL int64 `json:"ttl,omitempty"`
}

// String shows the key, its indexes and TTL.
func (n *Node) String() string {
	return fmt.Sprintf("{Key: %s, CreatedIndex: %d, ModifiedIndex: %d, TTL: %d}", n.Key, n.CreatedIndex, n.ModifiedIndex, n.TTL)
}

// TTLDuration returns the Node's TTL as a time.Duration object
func (n *Node) TTLDuration() time.Duration {
	return time.Duration(n.TTL) * time.Second
}

// Nodes is a list of nodes; it sorts by key, byte-wise, one level deep.
type Nodes []*Node

// Len is the number of nodes.
func (ns Nodes) Len() int { return len(ns) }

// Less orders by key.
func (ns Nodes) Less(i, j int) bool { return ns[i].Key < ns[j].Key }

// Swap swaps two nodes.
func (ns Nodes) Swap(i, j int) { ns[i], ns[j] = ns[j], ns[i] }

// NewKeysAPI builds a KeysAPI that interacts with etcd's key-value API over HTTP.
func NewKeysAPI(c Client) KeysAPI {
	return NewKeysAPIWithPrefix(c, defaultV2KeysPrefix)
}

// NewKeysAPIWithPrefix acts like NewKeysAPI, but allows the caller to provide a
// custom base URL path. This should only be used in very rare cases.
func NewKeysAPIWithPrefix(c Client, p string) KeysAPI {
	p = "/" + strings.Trim(p, "/")
	if p == "/" {
		p = ""
	}
	return &httpKeysAPI{c: c.cluster(), prefix: p}
}

type httpKeysAPI struct {
	c      *httpClusterClient
	prefix string
}

// canonicalKey checks a key and returns it as the server stores it, without
// the leading slash ("" is the root). Doubled and trailing slashes are
// dropped (the server would answer a redirect to the same key otherwise);
// "." and ".." segments and invalid UTF-8 are refused, since the server would
// resolve them to another key, or store something other than what was asked.
func canonicalKey(key string) (string, error) {
	if !utf8.ValidString(key) {
		return "", fmt.Errorf("client: key %q is not valid UTF-8", key)
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
			return "", fmt.Errorf("client: key %q has a %q segment; dot segments are not allowed in keys (the server would resolve them to another key)", key, p)
		}
		out = append(out, p)
	}
	return path.Join(out...), nil
}

// ttlSeconds checks a TTL option and gives it in whole seconds; 0 means
// none.
func ttlSeconds(field string, ttl time.Duration) (*uint64, error) {
	switch {
	case ttl == 0:
		return nil, nil
	case ttl < 0:
		return nil, fmt.Errorf("client: %s is negative (%v); use 0 for no TTL", field, ttl)
	case ttl < time.Second:
		return nil, fmt.Errorf("client: %s %v is under one second; the server counts whole seconds and would take 0 as \"expire now\"", field, ttl)
	case ttl%time.Second != 0:
		return nil, fmt.Errorf("client: %s %v is not a whole number of seconds; the server counts whole seconds", field, ttl)
	}
	s := uint64(ttl / time.Second)
	return &s, nil
}

var trueValue = true

func boolPtr(b bool) *bool {
	if b {
		return &trueValue
	}
	return nil
}

// Get reads a key or a directory.
func (k *httpKeysAPI) Get(ctx context.Context, key string, opts *GetOptions) (*Response, error) {
	ck, err := canonicalKey(key)
	if err != nil {
		return nil, err
	}
	var o GetOptions
	if opts != nil {
		o = *opts
	}
	params := generated.GetKeyParams{Recursive: boolPtr(o.Recursive), Sorted: boolPtr(o.Sort), Quorum: boolPtr(o.Quorum)}
	req, err := k.getRequest(ctx, ck, &params)
	if err != nil {
		return nil, err
	}
	return k.send(ctx, req, classRead, "get", ck)
}

// Set writes a key or creates a directory, optionally on conditions.
func (k *httpKeysAPI) Set(ctx context.Context, key, value string, opts *SetOptions) (*Response, error) {
	ck, err := canonicalKey(key)
	if err != nil {
		return nil, err
	}
	var o SetOptions
	if opts != nil {
		o = *opts
	}
	form, class, err := setForm(value, &o)
	if err != nil {
		return nil, err
	}
	req, err := k.setRequest(ctx, ck, &form)
	if err != nil {
		return nil, err
	}
	return k.send(ctx, req, class, setOpName(&o), ck)
}

// checkUTF8 refuses text that etcd would store but never give back: its
// JSON answers carry U+FFFD in place of each byte that is not valid UTF-8,
// so such a value could not be read back, compared (PrevValue) or, for a
// password, typed again. what names the text; the text itself stays out of
// the error (it may be a secret).
func checkUTF8(what, s string) error {
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
	return fmt.Errorf("client: %s is not valid UTF-8 (byte %#x at offset %d): etcd would answer it with U+FFFD in its place, so it could never be read back or compared as sent; encode binary data (e.g. base64) first", what, s[i], i)
}

// setForm checks SetOptions and builds the form body, with the retry class
// the write belongs to.
func setForm(value string, o *SetOptions) (generated.SetKeyForm, opClass, error) {
	var f generated.SetKeyForm
	switch o.PrevExist {
	case PrevIgnore, PrevExist, PrevNoExist:
	default:
		return f, 0, fmt.Errorf("client: SetOptions.PrevExist is %q; use PrevIgnore, PrevExist or PrevNoExist", string(o.PrevExist))
	}
	if o.Dir && o.PrevValue != "" {
		return f, 0, errors.New("client: SetOptions.PrevValue cannot be used with Dir: a directory has no value to compare")
	}
	if o.Refresh && value != "" {
		return f, 0, errors.New("client: SetOptions.Refresh is set with a value; a refresh only resets the TTL, so the value must be empty")
	}
	if o.Refresh && o.TTL == 0 {
		return f, 0, errors.New("client: SetOptions.Refresh needs SetOptions.TTL")
	}
	if o.Refresh && o.Dir {
		return f, 0, errors.New("client: SetOptions.Refresh cannot be used with Dir")
	}
	if !o.Dir && !o.Refresh {
		if err := checkUTF8("the value", value); err != nil {
			return f, 0, err
		}
	}
	if err := checkUTF8("SetOptions.PrevValue", o.PrevValue); err != nil {
		return f, 0, err
	}
	ttl, err := ttlSeconds("SetOptions.TTL", o.TTL)
	if err != nil {
		return f, 0, err
	}
	f.Ttl = ttl
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

// Create makes a key that must not exist yet.
func (k *httpKeysAPI) Create(ctx context.Context, key, val string) (*Response, error) {
	return k.Set(ctx, key, val, &SetOptions{PrevExist: PrevNoExist})
}

// Update changes a key that must exist.
func (k *httpKeysAPI) Update(ctx context.Context, key, val string) (*Response, error) {
	return k.Set(ctx, key, val, &SetOptions{PrevExist: PrevExist})
}

// CreateInOrder adds a key named by the next index under dir.
func (k *httpKeysAPI) CreateInOrder(ctx context.Context, dir, val string, opts *CreateInOrderOptions) (*Response, error) {
	cd, err := canonicalKey(dir)
	if err != nil {
		return nil, err
	}
	if err := checkUTF8("the value", val); err != nil {
		return nil, err
	}
	var form generated.CreateInOrderForm
	form.Value = &val
	if opts != nil {
		if form.Ttl, err = ttlSeconds("CreateInOrderOptions.TTL", opts.TTL); err != nil {
			return nil, err
		}
	}
	var req *http.Request
	if cd == "" {
		req, err = generated.NewCreateInOrderKeysRootRequestWithFormdataBody(placeholderServer, form)
	} else {
		req, err = generated.NewCreateInOrderKeyRequestWithFormdataBody(placeholderServer, cd, form)
	}
	if err != nil {
		return nil, err
	}
	k.fixPath(req)
	return k.send(ctx, req, classOneShot, "create-in-order", cd)
}

// Delete removes a key or a directory, optionally on conditions.
func (k *httpKeysAPI) Delete(ctx context.Context, key string, opts *DeleteOptions) (*Response, error) {
	ck, err := canonicalKey(key)
	if err != nil {
		return nil, err
	}
	var o DeleteOptions
	if opts != nil {
		o = *opts
	}
	params := generated.DeleteKeyParams{Recursive: boolPtr(o.Recursive), Dir: boolPtr(o.Dir)}
	class, op := classIdempotent, "delete"
	if err := checkUTF8("DeleteOptions.PrevValue", o.PrevValue); err != nil {
		return nil, err
	}
	if o.PrevValue != "" {
		params.PrevValue = &o.PrevValue
		class, op = classOneShot, "compare-and-delete"
	}
	if o.PrevIndex != 0 {
		params.PrevIndex = &o.PrevIndex
		class, op = classOneShot, "compare-and-delete"
	}
	req, err := k.deleteRequest(ctx, ck, &params)
	if err != nil {
		return nil, err
	}
	return k.send(ctx, req, class, op, ck)
}

// The requests of Get, Set, Delete and watches are built here rather than
// by the generated builders, which style every parameter generically and
// parse URLs twice per request: the same request (method, URL, headers,
// body, GetBody) at a fraction of the cost. TestKeysRequestsMatchGenerated
// holds them to the generated builders followed by fixPath.

// formContentType is the Content-Type of form bodies; requests share the
// slice, which nothing changes.
var formContentType = []string{"application/x-www-form-urlencoded"}

// keysRequest makes a request for the key ck (canonical, "" for the root)
// with a query (already encoded) and, if hasForm, a form body.
func (k *httpKeysAPI) keysRequest(ctx context.Context, method, ck, query string, form []byte, hasForm bool) (*http.Request, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	ku := new(keyURL)
	ku.u = url.URL{Scheme: placeholderScheme, Host: placeholderHost, RawQuery: query}
	ku.setPath(k.prefix, ck)
	if !hasForm {
		// A copy of a ready request: what NewRequestWithContext makes,
		// without parsing placeholderServer again.
		req := bodylessRequest.WithContext(ctx)
		req.Method = method
		req.URL = &ku.u
		req.Header = make(http.Header)
		return req, nil
	}
	req, err := http.NewRequestWithContext(ctx, method, placeholderServer, bytes.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.URL = &ku.u
	req.Header["Content-Type"] = formContentType
	return req, nil
}

// errNilContext is returned by calls given a nil context.
var errNilContext = errors.New("client: nil context.Context (use context.Background())")

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
	return k.keysRequest(ctx, http.MethodGet, ck, q, nil, false)
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
	return k.keysRequest(ctx, http.MethodDelete, ck, q, nil, false)
}

// setRequest is generated.NewSetKeyRequestWithFormdataBody (on the root
// path for "", which etcd always refuses): the form is encoded as
// runtime.MarshalForm and url.Values.Encode do, names in sorted order.
func (k *httpKeysAPI) setRequest(ctx context.Context, ck string, f *generated.SetKeyForm) (*http.Request, error) {
	var b []byte
	b = appendBoolParam(b, "dir", f.Dir)
	b = appendBoolParam(b, "noValueOnSuccess", f.NoValueOnSuccess)
	b = appendBoolParam(b, "prevExist", f.PrevExist)
	b = appendUintParam(b, "prevIndex", f.PrevIndex)
	b = appendStringParam(b, "prevValue", f.PrevValue)
	b = appendBoolParam(b, "refresh", f.Refresh)
	b = appendUintParam(b, "ttl", f.Ttl)
	b = appendStringParam(b, "value", f.Value)
	return k.keysRequest(ctx, http.MethodPut, ck, "", b, true)
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

// send sends a keys request (made by keysRequest, or by the generated
// layer and then fixPath) and decodes the answer.
func (k *httpKeysAPI) send(ctx context.Context, req *http.Request, class opClass, op, key string) (*Response, error) {
	resp, st, err := k.c.sendKey(ctx, req, class, op, key, true)
	if err != nil {
		return nil, err
	}
	defer st.release()
	if (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated) && req.Method != http.MethodHead {
		// Decoded as it arrives: a large tree is never held twice.
		return decodeKeysStream(ctx, resp, st, req.Method, k.c.maxBody)
	}
	op = st.opName()
	res, err := k.c.readResult(ctx, req.Method, op, resp, st)
	if err != nil {
		return nil, err
	}
	r, err := decodeKeysResult(res)
	if res.retried && req.Method == http.MethodDelete && IsKeyNotFound(err) {
		// A delete was resent after an attempt that may have deleted the
		// key already: "not found" may be the first attempt's doing.
		return nil, &OutcomeUnknownError{Op: op, Endpoint: res.endpoint,
			Err: fmt.Errorf("the key was not found when the delete was resent after %v: %w", res.earlier, err)}
	}
	return r, err
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

// decodeKeysResult turns a keys answer into a Response or an error.
func decodeKeysResult(res *result) (*Response, error) {
	switch res.resp.StatusCode {
	case http.StatusOK, http.StatusCreated:
		if len(res.body) == 0 {
			if res.method == http.MethodHead {
				return keysHeaders(res, &Response{})
			}
			return nil, newResponseError(res.endpoint, res.resp, res.body, ErrEmptyBody, "")
		}
		r, err := decodeKeysBody(res.body)
		if err != nil || r.Action == "" {
			detail := "no action"
			if err != nil {
				detail = err.Error()
			}
			return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, detail)
		}
		return keysHeaders(res, r)
	}
	if e, ok := decodeKeysError(res.body); ok {
		return nil, e
	}
	if res.method == http.MethodHead && len(res.body) == 0 {
		// HEAD answers carry no body: keep what the status says.
		return nil, Error{Code: headStatusCode(res.resp.StatusCode), Message: http.StatusText(res.resp.StatusCode), Index: headerUint(res.resp.Header, "X-Etcd-Index")}
	}
	return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, "")
}

func headStatusCode(status int) int {
	switch status {
	case http.StatusNotFound:
		return ErrorCodeKeyNotFound
	case http.StatusUnauthorized:
		return ErrorCodeUnauthorized
	}
	return 0
}

// keysHeaders fills the index headers into r.
func keysHeaders(res *result, r *Response) (*Response, error) {
	h := res.resp.Header
	for _, f := range []struct {
		name string
		dst  *uint64
	}{{"X-Etcd-Index", &r.Index}, {"X-Raft-Index", &r.RaftIndex}, {"X-Raft-Term", &r.RaftTerm}} {
		if v := h.Get(f.name); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, newResponseError(res.endpoint, res.resp, res.body, ErrInvalidJSON, fmt.Sprintf("header %s: %q is not an index", f.name, v))
			}
			*f.dst = n
		}
	}
	r.ClusterID = h.Get("X-Etcd-Cluster-Id")
	return r, nil
}

func headerUint(h http.Header, name string) uint64 {
	n, _ := strconv.ParseUint(h.Get(name), 10, 64)
	return n
}

// decodeKeysError decodes etcd's keys error body.
func decodeKeysError(body []byte) (Error, bool) {
	var e struct {
		Code    *int   `json:"errorCode"`
		Message string `json:"message"`
		Cause   string `json:"cause"`
		Index   uint64 `json:"index"`
	}
	if len(body) == 0 || json.Unmarshal(body, &e) != nil || e.Code == nil {
		return Error{}, false
	}
	return Error{Code: *e.Code, Message: e.Message, Cause: e.Cause, Index: e.Index}, true
}
