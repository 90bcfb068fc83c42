package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goetcd "github.com/meycoin/goetcd/client"
	official "go.etcd.io/etcd/client/v2"
)

// Client names, as they appear in benchmark names and in the report.
const (
	nameGoetcd          = "goetcd"
	nameOfficial        = "official"
	nameOfficialDefault = "official-default"
	nameRaw             = "raw"
)

// rotate turns the order in which clients run: benchreport runs round r
// with -bench.rotate=r-1, so that no client is always first after a
// server start or always last in a warm process.
var rotate = flag.Int("bench.rotate", 0, "run the clients of each benchmark starting with the n-th")

// inOrder returns names rotated by -bench.rotate.
func inOrder(names []string) []string {
	if len(names) == 0 {
		return names
	}
	k := *rotate % len(names)
	return append(append([]string(nil), names[k:]...), names[:k]...)
}

// countingDialer counts the TCP connections a transport opens.
type countingDialer struct {
	d     net.Dialer
	count atomic.Int64
}

func newCountingDialer() *countingDialer {
	// The dial settings of both clients' DefaultTransport: 30 s connect
	// timeout and 30 s TCP keep-alive.
	return &countingDialer{d: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}}
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.count.Add(1)
	return c.d.DialContext(ctx, network, addr)
}

// tunedTransport is goetcd's DefaultTransport (up to 64 connections per
// member, all of which may stay idle in the pool; 256 idle in all) with a
// counting dialer. The official client and the
// raw loop get the same settings, so that transport tuning does not decide
// the comparison.
func tunedTransport(d *countingDialer) *http.Transport {
	t := goetcd.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	return t
}

// officialDefaultTransport is the official client's DefaultTransport (Go's
// defaults, notably MaxIdleConnsPerHost 2) with a counting dialer: what a
// user of the official client gets without tuning.
func officialDefaultTransport(d *countingDialer) *http.Transport {
	t := official.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	return t
}

// getResult is what every client's Get is checked against: the decoded
// answer must carry the etcd index, the node's value and its children.
type getResult struct {
	index    uint64
	value    string
	children int
}

// watchNext waits for the next event of one watcher and returns its node's
// ModifiedIndex.
type watchNext func(ctx context.Context) (uint64, error)

// kv is the little each benchmark needs from a client.
type kv interface {
	get(ctx context.Context, key string, recursive bool) (getResult, error)
	set(ctx context.Context, key, value string) (uint64, error)
	watcher(key string, afterIndex uint64, recursive bool) watchNext
	// conns is how many TCP connections the client's transport opened.
	conns() int64
	close()
}

// newWatchKV is newKV for watching: the official client and the raw loop
// send everything through one transport, so theirs loses the tuned
// transport's cap on connections per member (each waiting watcher holds
// one), as goetcd's watches do.
func newWatchKV(tb testing.TB, name, endpoint string) kv {
	c := newKV(tb, name, endpoint)
	switch c := c.(type) {
	case *officialKV:
		c.tr.MaxConnsPerHost = 0
	case *rawKV:
		c.tr.MaxConnsPerHost = 0
	}
	return c
}

// newKV makes the named client for endpoint, with a fresh transport.
func newKV(tb testing.TB, name, endpoint string) kv {
	tb.Helper()
	d := newCountingDialer()
	switch name {
	case nameGoetcd, nameGoetcd + "-stream":
		tr, wtr := goetcdTransports(d)
		c, err := goetcd.New(goetcd.Config{Endpoints: []string{endpoint}, Transport: tr, WatchTransport: wtr, Logger: benchLogger()})
		if err != nil {
			tb.Fatal(err)
		}
		return &goetcdKV{c: c, kapi: goetcd.NewKeysAPI(c), tr: tr, wtr: wtr, d: d, stream: name != nameGoetcd}
	case nameOfficial, nameOfficialDefault:
		tr := tunedTransport(d)
		if name == nameOfficialDefault {
			tr = officialDefaultTransport(d)
		}
		c, err := official.New(official.Config{Endpoints: []string{endpoint}, Transport: tr})
		if err != nil {
			tb.Fatal(err)
		}
		return &officialKV{kapi: official.NewKeysAPI(c), tr: tr, d: d}
	case nameRaw:
		tr := tunedTransport(d)
		return &rawKV{hc: &http.Client{Transport: tr}, base: endpoint + "/v2/keys", tr: tr, d: d}
	case nameGoetcdV3:
		return newV3KV(tb, endpoint, d)
	}
	tb.Fatalf("unknown client %q", name)
	return nil
}

// goetcdTransports are goetcd's transport and its watches': the tuned
// transport, and what goetcd makes for itself from a capped transport (see
// Config.WatchTransport), made here so that close reaches it.
func goetcdTransports(d *countingDialer) (tr *http.Transport, wtr goetcd.CancelableTransport) {
	tr = tunedTransport(d)
	return tr, goetcd.NewWatchTransport(tr)
}

// --- goetcd ---

type goetcdKV struct {
	c      goetcd.Client
	kapi   goetcd.KeysAPI
	tr     *http.Transport
	wtr    goetcd.CancelableTransport // its watches'
	d      *countingDialer
	stream bool
}

func (c *goetcdKV) get(ctx context.Context, key string, recursive bool) (getResult, error) {
	var opts *goetcd.GetOptions
	if recursive {
		opts = &goetcd.GetOptions{Recursive: true}
	}
	r, err := c.kapi.Get(ctx, key, opts)
	if err != nil {
		return getResult{}, err
	}
	return getResult{index: r.Index, value: r.Node.Value, children: len(r.Node.Nodes)}, nil
}

func (c *goetcdKV) set(ctx context.Context, key, value string) (uint64, error) {
	r, err := c.kapi.Set(ctx, key, value, nil)
	if err != nil {
		return 0, err
	}
	return r.Node.ModifiedIndex, nil
}

func (c *goetcdKV) watcher(key string, afterIndex uint64, recursive bool) watchNext {
	w := c.kapi.Watcher(key, &goetcd.WatcherOptions{AfterIndex: afterIndex, Recursive: recursive, Stream: c.stream})
	return func(ctx context.Context) (uint64, error) {
		r, err := w.Next(ctx)
		if err != nil {
			return 0, err
		}
		return r.Node.ModifiedIndex, nil
	}
}

func (c *goetcdKV) conns() int64 { return c.d.count.Load() }
func (c *goetcdKV) close() {
	c.tr.CloseIdleConnections()
	if w, ok := c.wtr.(interface{ CloseIdleConnections() }); ok {
		w.CloseIdleConnections()
	}
}

// --- official ---

type officialKV struct {
	kapi official.KeysAPI
	tr   *http.Transport
	d    *countingDialer
}

func (c *officialKV) get(ctx context.Context, key string, recursive bool) (getResult, error) {
	var opts *official.GetOptions
	if recursive {
		opts = &official.GetOptions{Recursive: true}
	}
	r, err := c.kapi.Get(ctx, key, opts)
	if err != nil {
		return getResult{}, err
	}
	return getResult{index: r.Index, value: r.Node.Value, children: len(r.Node.Nodes)}, nil
}

func (c *officialKV) set(ctx context.Context, key, value string) (uint64, error) {
	r, err := c.kapi.Set(ctx, key, value, nil)
	if err != nil {
		return 0, err
	}
	return r.Node.ModifiedIndex, nil
}

func (c *officialKV) watcher(key string, afterIndex uint64, recursive bool) watchNext {
	w := c.kapi.Watcher(key, &official.WatcherOptions{AfterIndex: afterIndex, Recursive: recursive})
	return func(ctx context.Context) (uint64, error) {
		r, err := w.Next(ctx)
		if err != nil {
			return 0, err
		}
		return r.Node.ModifiedIndex, nil
	}
}

func (c *officialKV) conns() int64 { return c.d.count.Load() }
func (c *officialKV) close()       { c.tr.CloseIdleConnections() }

// --- raw: net/http and encoding/json by hand ---

// rawKV is what a careful programmer writes without a client library: one
// pooled http.Client, URLs by concatenation, encoding/json into structs of
// the same shape as the clients' Response and Node, and the index headers.
type rawKV struct {
	hc   *http.Client
	base string
	tr   *http.Transport
	d    *countingDialer
}

type rawResponse struct {
	Action    string   `json:"action"`
	Node      *rawNode `json:"node"`
	PrevNode  *rawNode `json:"prevNode"`
	Index     uint64   `json:"-"`
	ClusterID string   `json:"-"`
	RaftIndex uint64   `json:"-"`
	RaftTerm  uint64   `json:"-"`
}

type rawNode struct {
	Key           string     `json:"key"`
	Dir           bool       `json:"dir,omitempty"`
	Value         string     `json:"value"`
	Nodes         []*rawNode `json:"nodes"`
	CreatedIndex  uint64     `json:"createdIndex"`
	ModifiedIndex uint64     `json:"modifiedIndex"`
	Expiration    *time.Time `json:"expiration,omitempty"`
	TTL           int64      `json:"ttl,omitempty"`
}

type rawError struct {
	Code    int    `json:"errorCode"`
	Message string `json:"message"`
	Cause   string `json:"cause"`
	Index   uint64 `json:"index"`
}

func (e *rawError) Error() string {
	return fmt.Sprintf("%d: %s (%s) [%d]", e.Code, e.Message, e.Cause, e.Index)
}

// errEmpty is a 200 without a body: a long poll that ended without an event.
var errEmpty = errors.New("empty answer")

func (c *rawKV) do(ctx context.Context, method, url, form string) (*rawResponse, error) {
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		var e rawError
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			return nil, fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
		}
		return nil, &e
	}
	var r rawResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		if err == io.EOF {
			return nil, errEmpty
		}
		return nil, err
	}
	// Read the rest (etcd's trailing newline) so the connection is reused.
	io.Copy(io.Discard, resp.Body)
	h := resp.Header
	r.Index, _ = strconv.ParseUint(h.Get("X-Etcd-Index"), 10, 64)
	r.RaftIndex, _ = strconv.ParseUint(h.Get("X-Raft-Index"), 10, 64)
	r.RaftTerm, _ = strconv.ParseUint(h.Get("X-Raft-Term"), 10, 64)
	r.ClusterID = h.Get("X-Etcd-Cluster-Id")
	return &r, nil
}

func (c *rawKV) get(ctx context.Context, key string, recursive bool) (getResult, error) {
	u := c.base + key
	if recursive {
		u += "?recursive=true"
	}
	r, err := c.do(ctx, http.MethodGet, u, "")
	if err != nil {
		return getResult{}, err
	}
	return getResult{index: r.Index, value: r.Node.Value, children: len(r.Node.Nodes)}, nil
}

func (c *rawKV) set(ctx context.Context, key, value string) (uint64, error) {
	r, err := c.do(ctx, http.MethodPut, c.base+key, "value="+url.QueryEscape(value))
	if err != nil {
		return 0, err
	}
	return r.Node.ModifiedIndex, nil
}

func (c *rawKV) watcher(key string, afterIndex uint64, recursive bool) watchNext {
	next := uint64(0)
	if afterIndex > 0 {
		next = afterIndex + 1
	}
	return func(ctx context.Context) (uint64, error) {
		for {
			u := c.base + key + "?wait=true"
			if next > 0 {
				u += "&waitIndex=" + strconv.FormatUint(next, 10)
			}
			if recursive {
				u += "&recursive=true"
			}
			r, err := c.do(ctx, http.MethodGet, u, "")
			if err == errEmpty {
				continue
			}
			if err != nil {
				return 0, err
			}
			next = r.Node.ModifiedIndex + 1
			return r.Node.ModifiedIndex, nil
		}
	}
}

func (c *rawKV) conns() int64 { return c.d.count.Load() }
func (c *rawKV) close()       { c.tr.CloseIdleConnections() }

func benchLogger() *slog.Logger {
	if os.Getenv("BENCH_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}
