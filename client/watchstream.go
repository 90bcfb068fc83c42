// The open stream of a stream=true watch, the per-event size limit, and the
// idle timer of a waiting watch.

package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// watchStream is an open stream=true answer.
type watchStream struct {
	resp     *http.Response
	dec      *keysDecoder // newEventDecoder of the body
	cancel   context.CancelFunc
	idle     *idleTimer
	endpoint string
	events   int
	limit    *eventLimiter // nil without Config.MaxResponseBytes
	// member and hw are the stream's registration with member health.
	member *memberHealth
	hw     *waiter
}

// eventLimiter bounds how much of a stream one event may take.
type eventLimiter struct {
	r         io.Reader
	max, left int64
}

func (l *eventLimiter) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, &ResponseTooLargeError{Limit: l.max}
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// next reads the stream's next event. A Next whose context ends while it
// waits closes the stream (the next call opens a new one from the same
// index).
func (s *watchStream) next(ctx context.Context, w *httpWatcher) (*Response, error) {
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	s.idle.reset()
	if s.limit != nil {
		// The decoder may have buffered part of the next event already;
		// each event gets the whole allowance again.
		s.limit.left = s.limit.max
	}
	r, err := s.dec.nextEvent()
	s.idle.pause()
	if err != nil {
		w.closeStream()
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case s.idle.fired():
			w.k.c.skipPin(s.endpoint)
			return nil, &errRepoll{reason: "no event within the idle timeout"}
		case s.hw.cut.Load() != cutNone:
			w.k.c.skipPin(s.endpoint)
			return nil, &errRepoll{reason: "the member stopped answering its health probes"}
		case errors.Is(err, context.Canceled):
			// The context of the Next that opened the stream has ended
			// since; open a new one for this call.
			return nil, &errRepoll{reason: "the stream's context ended"}
		}
		var de *decodeError
		if errors.As(err, &de) {
			return nil, newResponseError(s.endpoint, s.resp, nil, ErrInvalidJSON, "stream: "+err.Error())
		}
		var tl *ResponseTooLargeError
		if errors.As(err, &tl) {
			tl.Endpoint = s.endpoint
			return nil, tl
		}
		// The stream ended or broke. One that brought at most one event is a
		// sign that something in between does not stream.
		if s.events <= 1 {
			w.shortStreams++
		} else {
			w.shortStreams = 0
		}
		if errors.Is(err, io.EOF) {
			return nil, &errRepoll{reason: "the stream ended", pause: true}
		}
		return nil, &errRepoll{reason: "the stream broke: " + err.Error()}
	}
	s.events++
	if s.events > 1 {
		w.shortStreams = 0
	}
	if r.Action == "" {
		w.closeStream()
		return nil, newResponseError(s.endpoint, s.resp, nil, ErrInvalidJSON, "stream event without an action")
	}
	resp, err := keysHeaders(&result{resp: s.resp, endpoint: s.endpoint}, r)
	if err == nil && r.Node != nil && r.Node.ModifiedIndex <= resp.Index {
		// The event is older than the watch (X-Etcd-Index): etcd found it in
		// its history and answers such a stream with that event alone,
		// without registering the watch, so nothing else would ever come.
		// The next Next opens a new stream after it.
		w.closeStream()
	}
	return resp, err
}

func (s *watchStream) close() {
	s.member.done(s.hw)
	s.idle.stop()
	s.cancel()
	s.resp.Body.Close()
}

// idleTimer cancels a watch request that has been quiet for too long.
type idleTimer struct {
	d      time.Duration
	mu     sync.Mutex
	t      *time.Timer
	cancel context.CancelFunc
	hit    bool
}

func newIdleTimer(d time.Duration, cancel context.CancelFunc) *idleTimer {
	it := &idleTimer{d: d, cancel: cancel}
	if d > 0 {
		it.t = time.AfterFunc(d, it.fire)
	}
	return it
}

func (it *idleTimer) fire() {
	it.mu.Lock()
	it.hit = true
	it.mu.Unlock()
	it.cancel()
}

func (it *idleTimer) fired() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.hit
}

// reset restarts the countdown while a read waits.
func (it *idleTimer) reset() {
	if it.t != nil {
		it.t.Reset(it.d)
	}
}

// pause stops the countdown between reads (the caller is not waiting).
func (it *idleTimer) pause() {
	if it.t != nil {
		it.t.Stop()
	}
}

func (it *idleTimer) stop() { it.pause() }
