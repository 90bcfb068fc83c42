package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/meycoin/goetcd/generated"
)

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
}

// Watcher returns a Watcher for key. A key that is not valid (see Get) gives
// a Watcher whose Next returns that error.
func (k *httpKeysAPI) Watcher(key string, opts *WatcherOptions) Watcher {
	w := &httpWatcher{k: k}
	w.key, w.keyErr = canonicalKey(key)
	if opts != nil {
		w.recursive = opts.Recursive
		if opts.AfterIndex > 0 {
			w.nextIndex = opts.AfterIndex + 1
		}
	}
	return w
}

// httpWatcher long-polls one key. It is not safe for concurrent Next calls.
type httpWatcher struct {
	k         *httpKeysAPI
	key       string
	keyErr    error
	recursive bool
	// nextIndex is the first index the next poll asks for; 0 means "from
	// now" and is replaced by the index after the first event.
	nextIndex uint64
}

// Empty answers (the server or a proxy closed the long poll before an event)
// are asked again after a short, growing, jittered pause, never in a busy
// loop.
const (
	emptyPollWaitMin = 10 * time.Millisecond
	emptyPollWaitMax = 1 * time.Second
)

// Next waits for the next event after the last one it returned.
func (w *httpWatcher) Next(ctx context.Context) (*Response, error) {
	if w.keyErr != nil {
		return nil, w.keyErr
	}
	wait := emptyPollWaitMin
	for {
		resp, err := w.poll(ctx)
		if err == nil {
			if resp.Node != nil {
				w.nextIndex = resp.Node.ModifiedIndex + 1
			}
			return resp, nil
		}
		if !errors.Is(err, ErrEmptyBody) {
			return nil, err
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, emptyPollWaitMax)
	}
}

// poll makes one long-poll request.
func (w *httpWatcher) poll(ctx context.Context) (*Response, error) {
	params := generated.GetKeyParams{Wait: &trueValue, Recursive: boolPtr(w.recursive)}
	if w.nextIndex > 0 {
		params.WaitIndex = &w.nextIndex
	}
	var req *http.Request
	var err error
	if w.key == "" {
		req, err = generated.NewGetKeysRootRequest(placeholderServer, (*generated.GetKeysRootParams)(&params))
	} else {
		req, err = generated.NewGetKeyRequest(placeholderServer, w.key, &params)
	}
	if err != nil {
		return nil, err
	}
	w.k.fixPath(req)
	res, err := w.k.c.do(ctx, req, classWatch, "watch /"+w.key)
	if err != nil {
		return nil, err
	}
	return decodeKeysResult(res)
}
