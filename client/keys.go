// KeysAPI: options, Response and Node, and the keys calls (Get, Set, Create,
// Update, CreateInOrder, Delete) from input checks to the decoded answer.

package client

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/meycoin/goetcd/generated"
)

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
	// PrevValue may not be combined with Dir=true (an *InvalidArgumentError says so).
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
	// expire and no longer exist. Values <= 0 are ignored: no TTL is
	// sent and the key is permanent (a write without a TTL also removes
	// an earlier one). Given that the zero-value is ignored, TTL cannot
	// be used to set a TTL of 0. The server counts whole seconds: a TTL
	// that is not a whole number of seconds is rounded up to the next
	// one (500ms and 1s give 1s, 1.5s gives 2s), so the key never
	// expires sooner than asked and a positive TTL is never sent as
	// ttl=0, which etcd takes as "expire now". The same holds for a
	// refresh, a directory and CreateInOrderOptions.TTL.
	TTL time.Duration

	// Refresh set to true means a TTL value can be updated
	// without firing a watch or changing the node value. A
	// value must not be provided when refreshing a key, and TTL must be
	// positive (a refresh only sets a TTL).
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
	// expire and no longer exist. Values <= 0 are ignored (no TTL is
	// sent). As with SetOptions.TTL, a TTL that is not a whole number
	// of seconds is rounded up to the next one (1.5s gives 2s).
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
	return k.send(ctx, classRead, "get", ck, func(ctx context.Context) (*http.Request, error) {
		return k.getRequest(ctx, ck, &params)
	})
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
	return k.send(ctx, class, setOpName(&o), ck, func(ctx context.Context) (*http.Request, error) {
		return k.setRequest(ctx, ck, &form)
	})
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
		if ia, ok := err.(*InvalidArgumentError); ok {
			ia.Field = "dir" // what the parameter is called here
		}
		return nil, err
	}
	if err := checkUTF8("value", val); err != nil {
		return nil, err
	}
	var form generated.CreateInOrderForm
	form.Value = &val
	if opts != nil {
		form.Ttl = ttlSeconds(opts.TTL)
	}
	return k.send(ctx, classOneShot, "create-in-order", cd, func(context.Context) (*http.Request, error) {
		var req *http.Request
		var err error
		if cd == "" {
			req, err = generated.NewCreateInOrderKeysRootRequestWithFormdataBody(placeholderServer, form)
		} else {
			req, err = generated.NewCreateInOrderKeyRequestWithFormdataBody(placeholderServer, cd, form)
		}
		if err != nil {
			return nil, err
		}
		k.fixPath(req)
		return req, nil
	})
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
	return k.send(ctx, class, op, ck, func(ctx context.Context) (*http.Request, error) {
		return k.deleteRequest(ctx, ck, &params)
	})
}

// The requests of Get, Set, Delete and watches are built here rather than
// by the generated builders, which style every parameter generically and
// parse URLs twice per request: the same request (method, URL, headers,
// body, GetBody) at a fraction of the cost. TestKeysRequestsMatchGenerated
// holds them to the generated builders followed by fixPath, and
// TestKeysRequestsSendEveryGeneratedField to every field the generated
// parameter and form structs have (a field openapi.yaml adds fails it until
// the builder in keysrequest.go sends it).

// send builds a keys request with build (keysRequest, or the generated
// layer and then fixPath), sends it and decodes the answer. The request is
// built with the context of the call that sends it, so that it is not
// copied again. A read or idempotent write whose answer stopped half-way
// because member health found its member dead is sent again (health now
// steers it elsewhere).
func (k *httpKeysAPI) send(ctx context.Context, class opClass, op, key string, build func(context.Context) (*http.Request, error)) (*Response, error) {
	st, err := k.c.takeCall(ctx)
	if err != nil {
		return nil, err
	}
	req, err := build(st.ctxFor(class))
	if err != nil {
		st.release()
		return nil, err
	}
	path, raw := req.URL.Path, req.URL.RawPath
	for tries := 1; ; tries++ {
		r, cut, err := k.sendOnce(st, req, class, op, key)
		if err == nil {
			// Every answer tells member health the cluster's raft term.
			k.c.health.noteTerm(r.RaftTerm)
		}
		if !cut || tries > retryRounds || (class != classRead && class != classIdempotent) || ctx.Err() != nil {
			return r, err
		}
		req.URL.Path, req.URL.RawPath = path, raw
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		if st, err = k.c.takeCall(ctx); err != nil {
			return nil, err
		}
	}
}

// sendOnce is one round of send; cut reports that member health ended the
// answer half-way.
func (k *httpKeysAPI) sendOnce(st *call, req *http.Request, class opClass, op, key string) (r *Response, cut bool, err error) {
	ctx := st.ctx
	resp, st, err := k.c.sendCall(st, req, operation{class: class, name: op, key: key, hasKey: true})
	if err != nil {
		return nil, false, err
	}
	defer func() {
		cut = err != nil && st.att.w.cut.Load() == cutDown
		st.release()
	}()
	if (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated) && req.Method != http.MethodHead {
		// Decoded as it arrives: a large tree is never held twice.
		r, err = decodeKeysStream(ctx, resp, st.endpoint(), op, key, req.Method, st.path, k.c.maxBody)
		return r, false, err
	}
	res, err := st.readResult(ctx, req.Method, resp)
	if err != nil {
		return nil, false, err
	}
	r, err = decodeKeysResult(res)
	if res.retried && req.Method == http.MethodDelete && IsKeyNotFound(err) {
		// A delete was resent after an attempt that may have deleted the
		// key already: "not found" may be the first attempt's doing.
		return nil, false, &OutcomeUnknownError{Op: st.opName(), Endpoint: res.endpoint,
			Err: fmt.Errorf("the key was not found when the delete was resent after %v: %w", res.earlier, err)}
	}
	return r, false, err
}
