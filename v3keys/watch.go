package v3keys

// The Watcher: one v3 watch stream over the whole prefix (a v2 subtree is
// not one v3 range in the depth layout), read event by event. The events of
// one revision are one v2 write; the action key written with it names the
// action and the node, and a revision without it is a lease expiring (or a
// writer that does not follow the layout). Each event is matched against
// the watched key as v2 matches it, and the stream is opened again, through
// the cluster pipeline, from the revision after the last one read when it
// breaks, ends, stays quiet for too long, or its member stops answering
// the client's health probes (client.Do ends the stream then and moves the
// pin off the member).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// Broken or empty streams are opened again after a short, growing, jittered
// pause.
const (
	reopenWaitMin = 10 * time.Millisecond
	reopenWaitMax = time.Second
)

// Watcher returns a Watcher for key. A key that is not valid gives a
// Watcher whose Next returns that error.
func (k *keysAPI) Watcher(key string, opts *client.WatcherOptions) client.Watcher {
	w := &watcher{k: k}
	w.key, w.keyErr = canonicalKey(key)
	if opts != nil {
		w.opts = *opts
		if opts.AfterIndex > 0 {
			w.next = int64(opts.AfterIndex) + 1
		}
	}
	if w.opts.IdleTimeout == 0 {
		w.opts.IdleTimeout = client.DefaultWatchIdleTimeout
	}
	return w
}

// watcher is not safe for concurrent Next calls.
type watcher struct {
	k      *keysAPI
	key    string
	keyErr error
	opts   client.WatcherOptions
	// next is the first revision not read yet; 0 means "from now" until
	// the first stream says what now is.
	next int64
	// start is the header of the current stream's created message: its
	// revision is the Index of the events the stream brings, as v2 reports
	// its watch's start index.
	start  header
	stream *stream
	queue  []*client.Response
	// authRefused counts the watches refused for the token in a row: a
	// second refusal after a fresh token is an error, not a reopen.
	authRefused int
}

// stream is an open watch answer.
type stream struct {
	resp     *http.Response
	dec      *json.Decoder
	limit    *eventLimit // nil without Config.MaxResponseBytes
	cancel   context.CancelFunc
	endpoint string // the member that answered
}

// errReopen marks a stream that ended without an error the caller should
// see: it is opened again.
type errReopen struct{ reason string }

func (e *errReopen) Error() string { return "v3keys: watch reopened: " + e.reason }

// Next returns the next event after the last one it returned.
func (w *watcher) Next(ctx context.Context) (*client.Response, error) {
	if w.keyErr != nil {
		return nil, w.keyErr
	}
	if ctx == nil {
		return nil, errNilContext
	}
	wait := reopenWaitMin
	for {
		if len(w.queue) > 0 {
			r := w.queue[0]
			w.queue = w.queue[1:]
			return r, nil
		}
		if err := ctx.Err(); err != nil {
			w.close()
			return nil, err
		}
		err := w.step(ctx)
		var re *errReopen
		switch {
		case err == nil:
			wait = reopenWaitMin
		case ctx.Err() != nil:
			w.close()
			return nil, ctx.Err()
		case errors.As(err, &re):
			t := time.NewTimer(wait/2 + rand.N(wait/2+1))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			wait = min(2*wait, reopenWaitMax)
		case w.opts.Resync && client.IsEventIndexCleared(err):
			return w.resync(ctx)
		default:
			return nil, err
		}
	}
}

// step opens a stream if none is open, or reads its next message and
// queues the events it brings.
func (w *watcher) step(ctx context.Context) error {
	if w.stream == nil {
		return w.open(ctx)
	}
	msg, idle, err := w.stream.read(ctx, w.opts.IdleTimeout)
	if err != nil {
		endpoint := w.stream.endpoint
		w.close()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case idle:
			w.leave(endpoint)
			return &errReopen{"no event within the idle timeout"}
		case errors.Is(err, io.EOF):
			return &errReopen{"the stream ended"}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("v3keys: watch /%s: %w: %v", w.key, ErrNotGateway, err)
		}
		return &errReopen{"the stream broke: " + err.Error()}
	}
	if msg.Result == nil {
		w.close()
		return &errReopen{"the stream ended with an error: " + msg.Error.Message}
	}
	res := msg.Result
	if res.Canceled {
		w.close()
		return w.canceled(res)
	}
	return w.queueEvents(res.Events)
}

// open starts a stream from w.next and reads its created message.
func (w *watcher) open(ctx context.Context) error {
	key, end := w.k.l.spaceRange()
	body := v3gen.WatchRequest{CreateRequest: v3gen.WatchCreateRequest{Key: key, RangeEnd: end, PrevKv: true}}
	if w.next > 0 {
		body.CreateRequest.StartRevision = str(w.next)
	}
	// The stream lives across Next calls until it ends or the context of
	// the Next that opened it ends. Opening it is bounded by the idle
	// timeout too: a member that hangs does not answer at all.
	sctx, cancel := context.WithCancel(ctx)
	name := "watch /" + w.key
	pinned := client.PinnedEndpoint(w.k.g.c)
	var idle *time.Timer
	var hung atomic.Bool
	if w.opts.IdleTimeout > 0 {
		idle = time.AfterFunc(w.opts.IdleTimeout, func() { hung.Store(true); cancel() })
	}
	resp, err := w.k.g.open(sctx, client.RequestWatch, name, func(ctx context.Context, edit v3gen.RequestEditorFn) (*http.Response, error) {
		return w.k.g.api.Watch(ctx, body, edit)
	})
	if idle != nil && !idle.Stop() && err == nil {
		resp.Body.Close()
		err = context.Canceled
	}
	if err != nil {
		cancel()
		if hung.Load() && ctx.Err() == nil {
			w.leave(pinned)
			return &errReopen{"no answer within the idle timeout"}
		}
		return err
	}
	w.stream = &stream{resp: resp, cancel: cancel, endpoint: endpointOf(resp)}
	var r io.Reader = resp.Body
	if max := w.k.g.maxBody; max > 0 {
		w.stream.limit = &eventLimit{r: resp.Body, max: max}
		r = w.stream.limit
	}
	w.stream.dec = json.NewDecoder(r)
	msg, _, err := w.stream.read(ctx, w.opts.IdleTimeout)
	if err != nil {
		w.close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &errReopen{"the stream ended before the watch was created: " + err.Error()}
	}
	if msg.Result == nil || !msg.Result.Created {
		w.close()
		return &errReopen{"the stream did not start with its created message"}
	}
	if msg.Result.Canceled {
		w.close()
		return w.canceled(msg.Result)
	}
	h, err := decodeHeader(msg.Result.Header)
	if err != nil {
		w.close()
		return fmt.Errorf("v3keys: %s: %w", name, err)
	}
	w.start, w.authRefused = h, 0
	if w.next == 0 {
		w.next = h.rev + 1
	}
	return nil
}

// leave moves the client's pin off endpoint, a member that took a watch
// and then answered nothing for the idle timeout, so that the watch opens
// again elsewhere: the client's exported API can only draw the pinned
// member again at random (SetEndpoints), which it does until it leaves
// endpoint, a few times at most.
func (w *watcher) leave(endpoint string) {
	c := w.k.g.c
	eps := c.Endpoints()
	if len(eps) < 2 {
		return
	}
	for range 8 {
		if client.PinnedEndpoint(c) != endpoint {
			return
		}
		if c.SetEndpoints(eps) != nil {
			return
		}
	}
}

// canceled turns a watch the server cancelled into the error v2 gives, or
// a reopen after a token refresh.
func (w *watcher) canceled(res *v3gen.WatchResponse) error {
	compact, err := num(res.CompactRevision)
	if err != nil {
		return fmt.Errorf("v3keys: watch /%s: %w", w.key, err)
	}
	if compact > 0 {
		return client.Error{
			Code:    client.ErrorCodeEventIndexCleared,
			Message: "The event in requested index is outdated and cleared",
			Cause:   fmt.Sprintf("the requested history has been cleared [%d/%d]", compact, w.next),
			Index:   uint64(w.start.rev),
		}
	}
	op := "watch /" + w.key
	switch {
	case strings.Contains(res.CancelReason, "PermissionDenied"):
		return &authError{&GatewayError{Op: op, StatusCode: http.StatusForbidden, Code: codePermissionDenied, Message: res.CancelReason}}
	case strings.Contains(res.CancelReason, "Unauthenticated"):
		ge := &GatewayError{Op: op, StatusCode: http.StatusUnauthorized, Code: codeUnauthenticated, Message: res.CancelReason}
		w.authRefused++
		if w.k.g.username == "" || w.authRefused > 1 {
			return &authError{ge}
		}
		// The token expired: fetch another one and open the watch again.
		w.k.g.dropToken(w.k.g.generation())
		return &errReopen{"the token was refused: " + res.CancelReason}
	}
	return &errReopen{"the server cancelled the watch: " + res.CancelReason}
}

// resync reads the watched key afresh after its history was compacted.
func (w *watcher) resync(ctx context.Context) (*client.Response, error) {
	r, err := w.k.getNode(ctx, w.key, w.opts.Recursive, false)
	var e client.Error
	switch {
	case err == nil:
		w.next = int64(r.Index) + 1
		return &client.Response{Action: client.ActionResync, Node: r.Node, Index: r.Index, ClusterID: r.ClusterID, RaftTerm: r.RaftTerm}, nil
	case errors.As(err, &e) && e.Code == client.ErrorCodeKeyNotFound:
		w.next = int64(e.Index) + 1
		return &client.Response{Action: client.ActionResync, Index: e.Index}, nil
	}
	return nil, fmt.Errorf("v3keys: watch /%s: reading the key after its history was compacted: %w", w.key, err)
}

func (w *watcher) close() {
	if w.stream != nil {
		w.stream.close()
		w.stream = nil
	}
}

// read decodes the stream's next message. The context of the Next calling
// it and the idle timeout both end the stream; idle says the timeout did.
func (s *stream) read(ctx context.Context, idle time.Duration) (*v3gen.WatchStreamMessage, bool, error) {
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	var fired atomic.Bool
	if idle > 0 {
		t := time.AfterFunc(idle, func() {
			fired.Store(true)
			s.cancel()
		})
		defer t.Stop()
	}
	if s.limit != nil {
		// Each message gets the whole allowance (the decoder may hold the
		// start of the next one already).
		s.limit.reset()
	}
	var msg v3gen.WatchStreamMessage
	if err := s.dec.Decode(&msg); err != nil {
		return nil, fired.Load(), err
	}
	if msg.Result == nil && msg.Error.Message == "" && msg.Error.Code == 0 && msg.Error.GrpcCode == 0 {
		return nil, false, fmt.Errorf("%w: a watch message with neither result nor error", ErrNotGateway)
	}
	return &msg, false, nil
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// eventLimit bounds how much of a stream one message may take
// (Config.MaxResponseBytes).
type eventLimit struct {
	r    io.Reader
	max  int64
	read int64
}

func (l *eventLimit) Read(p []byte) (int, error) {
	if l.read >= l.max {
		return 0, &client.ResponseTooLargeError{Limit: l.max}
	}
	if int64(len(p)) > l.max-l.read {
		p = p[:l.max-l.read]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

func (l *eventLimit) reset() { l.read = 0 }

// queueEvents turns the events of whole revisions into v2 events for the
// watched key, in order, and moves w.next past them.
func (w *watcher) queueEvents(evs []v3gen.Event) error {
	for i := range evs {
		if evs[i].Kv == nil {
			return fmt.Errorf("v3keys: watch /%s: %w: an event without a key", w.key, ErrNotGateway)
		}
	}
	for i := 0; i < len(evs); {
		rev, err := num(evs[i].Kv.ModRevision)
		if err != nil {
			return fmt.Errorf("v3keys: watch /%s: %w", w.key, err)
		}
		j := i + 1
		for j < len(evs) && evs[j].Kv.ModRevision == evs[i].Kv.ModRevision {
			j++
		}
		if rev >= w.next {
			rs, err := w.revision(rev, evs[i:j])
			if err != nil {
				return err
			}
			w.queue = append(w.queue, rs...)
			w.next = rev + 1
		}
		i = j
	}
	return nil
}

// change is what one revision did to one node.
type change struct {
	put  *kv // the key after a put
	prev *kv // the key before (a put's previous value or a deleted key)
	del  bool
}

// revision makes the v2 events of one revision that the watcher matches.
func (w *watcher) revision(rev int64, evs []v3gen.Event) ([]*client.Response, error) {
	var act string
	changes := map[string]*change{}
	var order []string
	for i := range evs {
		ev := &evs[i]
		if ev.Kv == nil {
			return nil, fmt.Errorf("v3keys: watch /%s: %w: an event without a key", w.key, ErrNotGateway)
		}
		if string(ev.Kv.Key) == string(w.k.l.act) {
			if ev.Type != v3gen.DELETE {
				act = string(ev.Kv.Value)
			}
			continue
		}
		pk, ok := w.k.l.parse(ev.Kv.Key)
		if !ok {
			continue
		}
		c := changes[pk.path]
		if c == nil {
			c = &change{}
			changes[pk.path] = c
			order = append(order, pk.path)
		}
		var prev *kv
		if ev.PrevKv != nil && len(ev.PrevKv.Key) > 0 {
			p, err := decodeKV(ev.PrevKv)
			if err != nil {
				return nil, fmt.Errorf("v3keys: watch /%s: %w", w.key, err)
			}
			prev = p
		}
		if ev.Type == v3gen.DELETE {
			c.del = true
			if prev != nil {
				c.prev = prev
			}
			continue
		}
		cur, err := decodeKV(ev.Kv)
		if err != nil {
			return nil, fmt.Errorf("v3keys: watch /%s: %w", w.key, err)
		}
		c.put = cur
		if prev != nil && c.prev == nil {
			c.prev = prev
		}
	}
	deleted := func(p string) bool { c := changes[p]; return c != nil && c.del && c.put == nil }
	var out []*client.Response
	emit := func(action, p string, c *change, exp int64) {
		r := w.start.response(action)
		if c.put != nil {
			r.Node = node(p, c.put)
			if exp > 0 {
				if ttl := time.Until(time.Unix(0, exp)); ttl > 0 {
					t := time.Unix(0, exp).UTC()
					r.Node.TTL, r.Node.Expiration = int64((ttl+time.Second-1)/time.Second), &t
				}
			}
		} else if c.prev != nil {
			r.Node = &client.Node{Key: "/" + p, Dir: c.prev.dir(), CreatedIndex: uint64(c.prev.create), ModifiedIndex: uint64(rev)}
		} else {
			r.Node = &client.Node{Key: "/" + p, ModifiedIndex: uint64(rev)}
		}
		if c.prev != nil {
			r.PrevNode = node(p, c.prev)
		}
		if w.matches(p, r.Node.Dir && c.put == nil, deleted) {
			out = append(out, r)
		}
	}
	if act != "" {
		action, rest, _ := strings.Cut(act, " ")
		expText, p, _ := strings.Cut(rest, " ")
		if action == actRefresh {
			return nil, nil
		}
		exp, _ := strconv.ParseInt(expText, 10, 64)
		p = strings.TrimPrefix(p, "/")
		if c := changes[p]; c != nil {
			emit(action, p, c, exp)
		}
		return out, nil
	}
	// No action key: a lease expired (its keys were deleted), or a writer
	// that does not follow the layout. One event per node whose directory
	// is not part of the same change, as v2 reports a directory's expiry
	// once.
	for _, p := range order {
		c := changes[p]
		parent := ""
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			parent = p[:i]
		}
		if parent != "" && changes[parent] != nil {
			continue
		}
		switch {
		case c.put != nil:
			emit("set", p, c, 0)
		case c.prev != nil && c.prev.lease != 0:
			emit("expire", p, c, 0)
		default:
			emit("delete", p, c, 0)
		}
	}
	return out, nil
}

// matches is v2's rule for whether a watcher sees an event on node p: its
// own key; with Recursive, any key below it unless hidden below it (a name
// starting with "_"); and the deletion of a directory above it when its key
// went with it.
func (w *watcher) matches(p string, dirDeleted bool, deleted func(string) bool) bool {
	if p == w.key {
		return true
	}
	if w.opts.Recursive && (w.key == "" || strings.HasPrefix(p, w.key+"/")) {
		rest := p
		if w.key != "" {
			rest = p[len(w.key)+1:]
		}
		return !strings.HasPrefix(rest, "_") && !strings.Contains(rest, "/_")
	}
	return dirDeleted && strings.HasPrefix(w.key, p+"/") && deleted(w.key)
}
