package v3keys

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/meycoin/goetcd/client"
)

// DefaultPrefix is the v3 key prefix the v2 tree lives under when
// Config.Prefix is empty.
const DefaultPrefix = "/v2"

// Config is what New needs. The zero value of every field but Endpoints is
// usable.
type Config struct {
	// Endpoints are the client URLs of the cluster's members (scheme http
	// or https, host and port, optionally a base path), as for
	// client.Config.Endpoints. The v3 JSON gateway must be served there
	// (it is by default on etcd 3.4 and later).
	Endpoints []string

	// Prefix is the v3 key prefix the v2 tree is kept under: every key
	// this package writes starts with Prefix+"/". Empty means
	// DefaultPrefix ("/v2"). It must not end with a slash, must be valid
	// UTF-8 without bytes below 0x04, and the prefixes of two trees on one
	// cluster must not be one the other's prefix followed by "/" (their
	// keys would mix).
	Prefix string

	// Username and Password, when Username is set, are exchanged for a v3
	// auth token (/v3/auth/authenticate) on first use; the token goes in
	// the Authorization header of every request and is fetched again when
	// the server no longer knows it (simple tokens expire, by default
	// after 5 minutes without use). With auth disabled on the server no
	// token is sent. The password never appears in errors, logs or debug
	// output.
	Username string
	Password string

	// Transport drives the HTTP requests; nil means a copy of
	// client.DefaultTransport with TLS set, when TLS is not nil.
	Transport client.CancelableTransport

	// WatchTransport drives watch streams, as client.Config.WatchTransport.
	WatchTransport client.CancelableTransport

	// TLS is the TLS configuration for https endpoints (a private CA,
	// client certificates) when Transport is nil.
	TLS *tls.Config

	// HeaderTimeoutPerRequest bounds each attempt's wait for the answer's
	// headers, as client.Config.HeaderTimeoutPerRequest. Zero means none.
	HeaderTimeoutPerRequest time.Duration

	// MaxResponseBytes, when positive, bounds the size of one answer (a
	// recursive Get of a huge tree): a larger one fails with a
	// *client.ResponseTooLargeError. Zero means no limit.
	MaxResponseBytes int64

	// Logger receives one Debug record per attempt, as client.Config.Logger
	// (never a value or a credential).
	Logger *slog.Logger
}

// New returns a client.KeysAPI kept in etcd's v3 store, over the v3 JSON
// gateway of the members in cfg.Endpoints, with the same cluster layer as
// the v2 client (endpoint selection and pinning, failover, the retry table
// that never resends a one-shot write). It checks cfg and sends nothing.
func New(cfg Config) (client.KeysAPI, error) {
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if cfg.MaxResponseBytes < 0 {
		return nil, fmt.Errorf("v3keys: Config.MaxResponseBytes is negative (%d)", cfg.MaxResponseBytes)
	}
	tr := cfg.Transport
	if tr == nil && cfg.TLS != nil {
		def, ok := client.DefaultTransport.(*http.Transport)
		if !ok {
			return nil, errors.New("v3keys: Config.TLS needs client.DefaultTransport to be an *http.Transport; give Config.Transport instead")
		}
		t := def.Clone()
		t.TLSClientConfig = cfg.TLS.Clone()
		tr = t
	} else if tr != nil && cfg.TLS != nil {
		return nil, errors.New("v3keys: give Config.TLS or Config.Transport, not both (set TLSClientConfig on the Transport)")
	}
	c, err := client.New(client.Config{
		Endpoints:               cfg.Endpoints,
		Transport:               tr,
		WatchTransport:          cfg.WatchTransport,
		HeaderTimeoutPerRequest: cfg.HeaderTimeoutPerRequest,
		Logger:                  cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	g, err := newGateway(c, cfg.MaxResponseBytes, cfg.Username, cfg.Password)
	if err != nil {
		return nil, err
	}
	return &keysAPI{g: g, l: newLayout(prefix)}, nil
}

// checkPrefix refuses a prefix the layout cannot use.
func checkPrefix(p string) error {
	if strings.HasSuffix(p, "/") {
		return fmt.Errorf("v3keys: Config.Prefix %q ends with a slash; leave it out (keys are Prefix+\"/...\")", p)
	}
	if err := client.CheckText("Config.Prefix", p); err != nil {
		return fmt.Errorf("v3keys: %w", err)
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= kindEnd {
			return fmt.Errorf("v3keys: Config.Prefix %q has the byte %#x, which the layout reserves", p, p[i])
		}
	}
	return nil
}

// keysAPI is the v3 backend of client.KeysAPI.
type keysAPI struct {
	g *gateway
	l layout
}

// errNilContext is returned by calls given a nil context.
var errNilContext = &client.InvalidArgumentError{Field: "ctx", Reason: "nil context.Context (use context.Background())"}

// Get reads a key or a directory (its children; with Recursive the whole
// tree). Quorum reads are linearizable; others are served by the member
// from its own state (serializable), like v2's.
func (k *keysAPI) Get(ctx context.Context, key string, opts *client.GetOptions) (*client.Response, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	ck, err := canonicalKey(key)
	if err != nil {
		return nil, err
	}
	var o client.GetOptions
	if opts != nil {
		o = *opts
	}
	return k.getNode(ctx, ck, o.Recursive, !o.Quorum)
}

// Set writes a key or makes a directory, on the conditions of opts, in
// one transaction.
func (k *keysAPI) Set(ctx context.Context, key, value string, opts *client.SetOptions) (*client.Response, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	ck, err := canonicalKey(key)
	if err != nil {
		return nil, err
	}
	var o client.SetOptions
	if opts != nil {
		o = *opts
	}
	ttl, err := client.CheckSetOptions(value, &o)
	if err != nil {
		return nil, err
	}
	w := &writeOpts{value: value, dir: o.Dir, ttl: int64(ttl), refresh: o.Refresh, noValue: o.NoValueOnSuccess, prevValue: o.PrevValue, prevIndex: o.PrevIndex}
	if o.Dir {
		w.value = ""
	}
	op := setOpName(&o)
	if ck == "" {
		return nil, k.rootError(ctx, op)
	}
	// A plain set or a create most often makes a new key in an existing
	// directory: it starts from that guess (see guessSnapshot).
	n := need{guess: !o.Refresh && o.PrevIndex == 0 && o.PrevValue == "" && o.PrevExist != client.PrevExist}
	return k.write(ctx, op, setClass(&o), ck, n, k.planSet(&o, w))
}

// Create makes a key that must not exist yet.
func (k *keysAPI) Create(ctx context.Context, key, value string) (*client.Response, error) {
	return k.Set(ctx, key, value, &client.SetOptions{PrevExist: client.PrevNoExist})
}

// Update changes a key that must exist.
func (k *keysAPI) Update(ctx context.Context, key, value string) (*client.Response, error) {
	return k.Set(ctx, key, value, &client.SetOptions{PrevExist: client.PrevExist})
}

// CreateInOrder adds a key named by the next index under dir.
func (k *keysAPI) CreateInOrder(ctx context.Context, dir, value string, opts *client.CreateInOrderOptions) (*client.Response, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	cd, err := canonicalKey(dir)
	if err != nil {
		return nil, err
	}
	if err := client.CheckText("value", value); err != nil {
		return nil, err
	}
	w := &writeOpts{value: value}
	if opts != nil {
		w.ttl = int64(client.TTLSeconds(opts.TTL))
	}
	return k.write(ctx, "create-in-order", client.RequestOneShot, cd, need{seq: true}, k.planInOrder(w))
}

// recursiveLevels is how many levels below a directory a recursive delete
// counts first; a deeper tree is counted again with more.
const recursiveLevels = 8

// Delete removes a key or a directory, on the conditions of opts, in one
// transaction. It follows the v2 client's retry table: a delete without
// PrevValue or PrevIndex is resent to another member after a failure, like
// an idempotent write, and if the resent delete finds no key the outcome is
// unknown (client.IsOutcomeUnknown; the earlier attempt may have deleted
// it); a compare-and-delete is never resent once it may have reached a
// member (its outcome is then unknown).
func (k *keysAPI) Delete(ctx context.Context, key string, opts *client.DeleteOptions) (*client.Response, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	ck, err := canonicalKey(key)
	if err != nil {
		return nil, err
	}
	var o client.DeleteOptions
	if opts != nil {
		o = *opts
	}
	if err := client.CheckText("DeleteOptions.PrevValue", o.PrevValue); err != nil {
		return nil, err
	}
	op, class := "delete", client.RequestIdempotent
	var n need
	switch {
	case o.PrevValue != "" || o.PrevIndex != 0:
		op, class = "compare-and-delete", client.RequestOneShot
	case o.Recursive:
		n.levels = recursiveLevels
	case o.Dir:
		n.children = true
	}
	if ck == "" {
		return nil, k.rootError(ctx, op)
	}
	return k.write(ctx, op, class, ck, n, k.planDelete(&o))
}

// rootError is v2's answer to a write of the root: 107 at the current
// index.
func (k *keysAPI) rootError(ctx context.Context, op string) error {
	s, err := k.read(ctx, op+" /", "", need{})
	if err != nil {
		return err
	}
	return s.v2err(client.ErrorCodeRootROnly, "/")
}
