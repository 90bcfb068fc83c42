package client

// The context an attempt is sent with is kept with the pooled call object
// and reused by the next calls: each call's transport must still see that
// call's own deadline and values, and its own cancellation.

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

type ctxKey struct{}

// ctxTransport records what each request's context says, then answers as
// its cannedTransport does (or, when block is set, waits for the context).
type ctxTransport struct {
	cannedTransport
	block    bool
	values   []any
	deadline []time.Time
	errs     []error
}

func (t *ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	t.values = append(t.values, ctx.Value(ctxKey{}))
	d, _ := ctx.Deadline()
	t.deadline = append(t.deadline, d)
	if t.block {
		<-ctx.Done()
		t.errs = append(t.errs, ctx.Err())
		return nil, ctx.Err()
	}
	return t.cannedTransport.RoundTrip(req)
}

func TestEachCallSeesItsOwnContext(t *testing.T) {
	tr := &ctxTransport{cannedTransport: cannedTransport{answers: []cannedAnswer{{status: 200, header: http.Header{"X-Etcd-Index": {"5"}},
		body: []byte(`{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}`)}}}}
	c := cannedClient(t, &tr.cannedTransport, Config{})
	c.transport = tr
	kapi := NewKeysAPI(c)
	for i := range 20 {
		ctx := context.WithValue(context.Background(), ctxKey{}, i)
		var want time.Time
		if i%2 == 1 {
			// Every other call has a deadline (and so an AfterFunc on it).
			want = time.Now().Add(time.Hour).Round(0)
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, want)
			defer cancel()
		}
		if _, err := kapi.Get(ctx, "/k", nil); err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		if got := tr.values[i]; got != i {
			t.Errorf("call %d: the transport saw the value %v of another call's context", i, got)
		}
		if !tr.deadline[i].Equal(want) {
			t.Errorf("call %d: the transport saw the deadline %v, want %v", i, tr.deadline[i], want)
		}
	}
}

func TestCancellingTheCallerEndsTheAttempt(t *testing.T) {
	tr := &ctxTransport{block: true}
	c := cannedClient(t, &tr.cannedTransport, Config{})
	c.transport = tr
	kapi := NewKeysAPI(c)
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		var ctx context.Context
		var cancel context.CancelFunc
		if cause == context.Canceled {
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
		} else {
			ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
		}
		_, err := kapi.Get(ctx, "/k", nil)
		cancel()
		if !errors.Is(err, cause) {
			t.Errorf("get whose context ended with %v: %v", cause, err)
		}
		if got := tr.errs[len(tr.errs)-1]; !errors.Is(got, cause) {
			t.Errorf("the transport's context ended with %v, want %v", got, cause)
		}
	}
	// The calls after them start with a context that has not ended.
	tr.block = false
	tr.answers = []cannedAnswer{{status: 200, header: http.Header{"X-Etcd-Index": {"5"}},
		body: []byte(`{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}`)}}
	for i := range 3 {
		if _, err := kapi.Get(context.Background(), "/k", nil); err != nil {
			t.Fatalf("get %d after the cancelled ones: %v", i, err)
		}
	}
}
