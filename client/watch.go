// Watcher and WatchChan: long polls (and streams) of a key or tree, re-issued
// from the last delivered index when a member fails, with Resync after a
// cleared history.

package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/meycoin/goetcd/generated"
)

// ActionResync is the Action of the Response a Watcher with
// WatcherOptions.Resync returns after the server's event history no longer
// held the next event: Node is the key's (or tree's) state read afresh (nil
// if the key does not exist), Index the index it was read at, and the watch
// goes on from Index+1.
const ActionResync = "resync"

// Watcher waits for changes of a key or of a directory's tree.
type Watcher interface {
	// Next blocks until an etcd event occurs, then returns a Response
	// representing that event. The behavior of Next depends on the
	// WatcherOptions used to construct the Watcher. Next is designed to
	// be called repeatedly, each time blocking until a subsequent event
	// is available.
	//
	// If the provided context is cancelled, Next will return a non-nil
	// error. Any other failures encountered while waiting for the next
	// event (connection issues, deserialization failures, etc) will
	// also result in a non-nil error.
	Next(context.Context) (*Response, error)
}

// WatcherOptions are the options of KeysAPI.Watcher.
type WatcherOptions struct {
	// AfterIndex defines the index after-which the Watcher should
	// start emitting events. For example, if a value of 5 is
	// provided, the first event will have an index >= 6.
	//
	// Setting AfterIndex to 0 (default) means that the Watcher
	// should start watching for events starting at the current
	// index, whatever that may be.
	AfterIndex uint64

	// Recursive specifies whether or not the Watcher should emit
	// events that occur in children of the given keyspace. If set
	// to false (default), events will be limited to those that
	// occur for the exact key.
	Recursive bool

	// Stream asks the server to send every event on one long answer
	// (stream=true) instead of one request per event; the duplicate
	// delete/expire events etcd sends in that mode are dropped. Where the
	// server or a proxy in between does not stream, the Watcher falls back
	// to long polling by itself.
	Stream bool

	// Resync makes the Watcher recover when the server's history (the last
	// 1000 events of the whole store) no longer holds the next event: it
	// reads the key afresh and returns a Response with Action ActionResync
	// carrying that state, then goes on from there. Without Resync, Next
	// returns the server's Error with Code ErrorCodeEventIndexCleared
	// (IsEventIndexCleared), whose Index is the server's current index.
	Resync bool

	// IdleTimeout re-issues a long poll (or stream) that has brought no
	// event for this long, from the same index, so that a member that hangs
	// without closing the connection does not hold the watch forever.
	// Zero means DefaultWatchIdleTimeout; negative means never.
	IdleTimeout time.Duration

	// Unshared gives the Watcher long polls (or a stream) of its own. By
	// default the Watchers of one Client on the same key with the same
	// Recursive, Stream and IdleTimeout share one long poll (or stream)
	// while they wait in Next, each still receiving every event after its
	// own AfterIndex, once, in order, as a Response of its own; a Watcher
	// whose next event is older than what the shared poll still holds asks
	// etcd itself until it has caught up. The v3 backend (package v3keys)
	// does not share.
	Unshared bool
}

// DefaultWatchIdleTimeout is the WatcherOptions.IdleTimeout used when none
// is given.
const DefaultWatchIdleTimeout = time.Minute

// Watcher returns a Watcher for key. A key that is not valid (see Get) gives
// a Watcher whose Next returns that error.
func (k *httpKeysAPI) Watcher(key string, opts *WatcherOptions) Watcher {
	w := &httpWatcher{k: k}
	w.key, w.keyErr = canonicalKey(key)
	if opts != nil {
		w.opts = *opts
		if opts.AfterIndex > 0 {
			w.nextIndex = opts.AfterIndex + 1
		}
	}
	if w.opts.IdleTimeout == 0 {
		w.opts.IdleTimeout = DefaultWatchIdleTimeout
	}
	if !w.opts.Unshared {
		w.shareCh = make(chan shareMsg, 1)
	}
	return w
}

// httpWatcher long-polls (or streams) one key. It is not safe for
// concurrent Next calls.
type httpWatcher struct {
	k      *httpKeysAPI
	key    string
	keyErr error
	opts   WatcherOptions
	// nextIndex is the first index the next request asks for; 0 means "from
	// now" and becomes the index after the first event.
	nextIndex uint64

	stream *watchStream // the open stream, if any
	// shortStreams counts streams in a row that ended after one event or
	// none: a sign that something between here and etcd does not stream.
	shortStreams int

	// For a shared watch (watchshare.go): want is the first index it waits
	// for while it is in a shared poll, shareCh where the poll's leader
	// hands it an event, an error or the lead. started, on the shared poll's
	// own watcher, learns where a poll "from now" started.
	want    uint64
	shareCh chan shareMsg
	started func(next uint64)

	// poll is the long poll request left for await.
	poll longPoll
}

// Empty or cut-off answers are asked again after a short, growing, jittered
// pause, never in a busy loop.
const (
	repollWaitMin = 10 * time.Millisecond
	repollWaitMax = 1 * time.Second
)

// errRepoll marks an answer that brought no event but no error either: the
// long poll ended empty, the stream ended, the member went away mid-answer,
// or the idle timeout re-issued the request. The watch goes on.
type errRepoll struct {
	reason string
	pause  bool // wait a little first (empty answers), or go at once
}

func (e *errRepoll) Error() string { return "watch re-issued: " + e.reason }

// Next waits for the next event after the last one it returned.
func (w *httpWatcher) Next(ctx context.Context) (*Response, error) {
	if w.keyErr != nil {
		return nil, w.keyErr
	}
	if ctx == nil {
		return nil, errNilContext
	}
	if w.shared() {
		if resp, err := w.sharedNext(ctx); resp != nil || err != nil {
			return resp, err
		}
	}
	wait := repollWaitMin
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var resp *Response
		var err error
		if w.stream != nil {
			resp, err = w.stream.next(ctx, w)
		} else if resp, err = w.request(ctx); w.poll.resp != nil {
			resp, err = w.await(ctx)
		}
		var rp *errRepoll
		switch {
		case err == nil:
			if resp.Node != nil && resp.Node.ModifiedIndex < w.nextIndex {
				continue // delivered already (stream repeats delete/expire)
			}
			if resp.Node != nil {
				w.nextIndex = resp.Node.ModifiedIndex + 1
			}
			w.k.c.health.noteTerm(resp.RaftTerm)
			return resp, nil
		case ctx.Err() != nil:
			w.closeStream()
			return nil, ctx.Err()
		case errors.As(err, &rp):
			if !rp.pause {
				continue
			}
			t := time.NewTimer(wait/2 + rand.N(wait/2+1))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, repollWaitMax)
		case w.opts.Resync && IsEventIndexCleared(err):
			return w.resync(ctx)
		default:
			return nil, err
		}
	}
}

// sharedNext waits for the next event on the shared poll of w's key. It
// returns nil and no error when w must ask etcd itself.
func (w *httpWatcher) sharedNext(ctx context.Context) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp, err, ok := w.k.c.shares.next(ctx, w)
	switch {
	case !ok:
		return nil, nil
	case err == nil:
		if resp.Node != nil {
			w.nextIndex = resp.Node.ModifiedIndex + 1
		}
		return resp, nil
	case ctx.Err() == nil && w.opts.Resync && IsEventIndexCleared(err):
		return w.resync(ctx)
	}
	return nil, err
}

// resync reads the watched key afresh after the history was cleared.
func (w *httpWatcher) resync(ctx context.Context) (*Response, error) {
	r, err := w.k.Get(ctx, "/"+w.key, &GetOptions{Recursive: w.opts.Recursive, Quorum: true})
	var e Error
	switch {
	case err == nil:
		w.nextIndex = r.Index + 1
		return &Response{Action: ActionResync, Node: r.Node, Index: r.Index, ClusterID: r.ClusterID, RaftIndex: r.RaftIndex, RaftTerm: r.RaftTerm}, nil
	case errors.As(err, &e) && e.Code == ErrorCodeKeyNotFound:
		w.nextIndex = e.Index + 1
		return &Response{Action: ActionResync, Index: e.Index}, nil
	}
	return nil, fmt.Errorf("client: watch /%s: reading the key after the event history was cleared: %w", w.key, err)
}

// request makes one watch request. In stream mode it opens the stream and
// returns its first event; a long poll whose headers are in is left in
// w.poll, with nil and nil returned, for Next to await.
func (w *httpWatcher) request(ctx context.Context) (*Response, error) {
	streaming := w.opts.Stream && w.shortStreams < 2
	params := generated.GetKeyParams{Wait: &trueValue, Recursive: boolPtr(w.opts.Recursive), Stream: boolPtr(streaming)}
	if w.nextIndex > 0 {
		params.WaitIndex = &w.nextIndex
	}
	// The request lives as long as its answer is read: for a stream, across
	// Next calls, until the stream ends or the context of the Next that
	// opened it ends.
	rctx, cancel := context.WithCancel(ctx)
	req, err := w.k.getRequest(rctx, w.key, &params)
	if err != nil {
		cancel()
		return nil, err
	}
	idle := newIdleTimer(w.opts.IdleTimeout, cancel)
	pinned := PinnedEndpoint(w.k.c)
	resp, st, err := w.k.c.sendAside(rctx, req, w.key)
	if err != nil {
		idle.stop()
		cancel()
		if idle.fired() && ctx.Err() == nil {
			w.k.c.skipPin(pinned)
			return nil, &errRepoll{reason: "no answer within the idle timeout"}
		}
		return nil, err
	}
	// A long poll may wait for long: what it needs of the call is kept, the
	// rest goes back for other calls.
	endpoint, path := st.endpoint(), st.path
	st.release()
	if resp.StatusCode == http.StatusOK && w.nextIndex == 0 {
		// A watch "from now" reports events after the index etcd sends in
		// X-Etcd-Index; keep it, so that a re-issued request (idle timeout,
		// empty answer, another member) goes on from there and not from a
		// later "now", which would lose the events in between.
		if idx := headerUint(resp.Header, "X-Etcd-Index"); idx > 0 {
			w.nextIndex = idx + 1
			if w.started != nil {
				w.started(w.nextIndex)
			}
		}
	}
	// While it waits for its event, the watch is registered with member
	// health, which ends it when the member stops answering its probes.
	hw := &waiter{start: time.Now(), watch: true, cancel: cancel, ctx: rctx}
	member := w.k.c.health.wait(endpoint, hw)
	if resp.StatusCode != http.StatusOK || !streaming {
		// Next waits for the answer (await), from a frame of its own.
		w.poll = longPoll{ctx: rctx, resp: resp, cancel: cancel, idle: idle, member: member, hw: hw,
			endpoint: endpoint, method: req.Method, path: path}
		w.poll.readHead()
		return nil, nil
	}
	body := io.Reader(bufio.NewReader(resp.Body))
	var limited *eventLimiter
	if max := w.k.c.maxBody; max > 0 {
		limited = &eventLimiter{r: body, max: max, left: max}
		body = limited
	}
	w.stream = &watchStream{resp: resp, dec: newEventDecoder(body), cancel: cancel, idle: idle, endpoint: endpoint, limit: limited, member: member, hw: hw}
	return w.stream.next(ctx, w)
}

// longPoll is a long poll whose answer's headers are in, waiting for its
// body.
type longPoll struct {
	ctx                    context.Context
	resp                   *http.Response
	cancel                 context.CancelFunc
	idle                   *idleTimer
	member                 *memberHealth
	hw                     *waiter
	endpoint, method, path string
	// head is what the answer's headers say, when it is a 200 whose index
	// headers are all numbers (headOK).
	head   keysHead
	headOK bool
}

// readHead reads the long poll's index headers as soon as they are in,
// long before the event, so that they are not read between the event's
// arrival and Next returning it. It is not inlined: request's frame is on
// the stack at the deepest point of a watch (sending the request), and a
// larger one would grow many waiting watchers' stacks from 4 to 8 KiB.
//
//go:noinline
func (p *longPoll) readHead() {
	if p.resp.StatusCode != http.StatusOK {
		return
	}
	var bad string
	p.head, bad, _ = readKeysHead(p.resp.Header)
	p.headOK = bad == ""
}

// await reads the answer of the long poll request left in w.poll. It is
// called by Next once request has returned, and does nothing else before it
// waits, so that a waiting watcher's goroutine needs little stack: with
// thousands of watchers, each stays within the smallest stacks Go grows.
func (w *httpWatcher) await(ctx context.Context) (*Response, error) {
	body, err := readBody(w.poll.ctx, w.poll.resp, w.k.c.maxBody)
	return w.answer(ctx, body, err)
}

// answer ends the long poll in w.poll, which read body or failed with rerr.
func (w *httpWatcher) answer(ctx context.Context, body []byte, rerr error) (*Response, error) {
	p := w.poll
	// What the poll holds goes, but for its headers, read for the decoding
	// below (the next request replaces them).
	w.poll = longPoll{head: p.head}
	p.member.done(p.hw)
	p.idle.stop()
	p.cancel()
	if rerr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if p.hw.cut.Load() != cutNone {
			w.k.c.skipPin(p.endpoint)
			return nil, &errRepoll{reason: "the member stopped answering its health probes"}
		}
		var tl *ResponseTooLargeError
		if errors.As(rerr, &tl) {
			tl.Endpoint = p.endpoint
			return nil, tl
		}
		reason := "the member went away while the watch waited: " + rerr.Error()
		if p.idle.fired() {
			reason = "no event within the idle timeout"
			w.k.c.skipPin(p.endpoint)
		}
		return nil, &errRepoll{reason: reason}
	}
	if p.resp.StatusCode == http.StatusOK && len(body) == 0 {
		return nil, &errRepoll{reason: "the long poll ended without an event", pause: true}
	}
	res := &result{resp: p.resp, body: body, endpoint: p.endpoint, method: p.method, path: p.path}
	if p.headOK {
		res.head = &w.poll.head
	}
	return decodeKeysResult(res)
}

func (w *httpWatcher) closeStream() {
	if w.stream != nil {
		w.stream.close()
		w.stream = nil
	}
}

// WatchChannel delivers a watch's events on a channel. Range over C; once it
// is closed, Err says why.
type WatchChannel struct {
	// C delivers the events in order, each once. It is closed when the
	// watch ends.
	C <-chan *Response

	done chan struct{}
	err  error
}

// Err returns why the watch ended: the context's error when it was
// cancelled, or the error that ended it. It blocks until C is closed.
func (wc *WatchChannel) Err() error {
	<-wc.done
	return wc.err
}

// WatchChan runs a Watcher for key in a goroutine and delivers its events on
// a channel until ctx ends or the watch meets an error it cannot ride
// through. A cluster that cannot be reached for a while is not such an
// error: the watch waits (with a capped back-off) and resumes from the last
// delivered event. A cleared event history ends it, unless opts.Resync is
// set. The goroutine ends with the channel; nothing is left behind.
func WatchChan(ctx context.Context, kapi KeysAPI, key string, opts *WatcherOptions) *WatchChannel {
	ch := make(chan *Response)
	wc := &WatchChannel{C: ch, done: make(chan struct{})}
	w := kapi.Watcher(key, opts)
	go func() {
		defer close(wc.done)
		defer close(ch)
		wait := repollWaitMin
		for {
			resp, err := w.Next(ctx)
			if err != nil {
				if ctx.Err() != nil {
					wc.err = ctx.Err()
					return
				}
				var ce *ClusterError
				if !errors.As(err, &ce) {
					wc.err = err
					return
				}
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					wc.err = ctx.Err()
					return
				case <-t.C:
				}
				wait = min(2*wait, repollWaitMax)
				continue
			}
			wait = repollWaitMin
			select {
			case ch <- resp:
			case <-ctx.Done():
				wc.err = ctx.Err()
				return
			}
		}
	}()
	return wc
}
