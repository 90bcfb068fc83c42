package v3keys_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/meycoin/goetcd/client"
	"github.com/meycoin/goetcd/tests/clienttest"
	"github.com/meycoin/goetcd/v3keys"
)

// faultWire loses one exchange of the v3 backend on purpose, above the
// contract transport: the first transaction that deletes a key either
// reaches the server and loses its answer (applied), or is dropped before
// it is sent (not applied); the client sees a broken connection either way.
type faultWire struct {
	*clienttest.Transport
	applied bool // forward the request, then lose the answer

	mu   sync.Mutex
	hit  bool
	txns int // delete transactions sent, the faulty one included
}

var errInjected = errors.New("injected fault: the connection broke before the answer")

func (w *faultWire) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/v3/kv/txn") || req.GetBody == nil {
		return w.Transport.RoundTrip(req)
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(b)
	if !strings.Contains(string(body), "request_delete_range") {
		return w.Transport.RoundTrip(req)
	}
	w.mu.Lock()
	w.txns++
	first := !w.hit
	w.hit = true
	w.mu.Unlock()
	if !first {
		return w.Transport.RoundTrip(req)
	}
	if w.applied {
		resp, err := w.Transport.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return nil, errInjected
}

// TestDeleteRetry: a Delete without conditions follows the v2 client's
// retry table (an idempotent write), a compare-and-delete does not (a
// one-shot write). A plain delete whose first transaction broke before it
// was applied is resent and succeeds; one whose first transaction was
// applied and its answer lost is resent, finds no key, and reports an
// unknown outcome (the first attempt may have deleted it), as the v2
// client does; a compare-and-delete with the same fault is not resent.
func TestDeleteRetry(t *testing.T) {
	forEachV3(t, func(t *testing.T, e *env) {
		newFaulty := func(applied bool) (client.KeysAPI, *faultWire) {
			w := &faultWire{Transport: clienttest.NewTransport(t, nil), applied: applied}
			k, err := v3keys.New(v3keys.Config{Endpoints: e.cluster.Endpoints(), Transport: w})
			if err != nil {
				t.Fatal(err)
			}
			return k, w
		}
		// Dropped before it was sent: resent, and applied once.
		set := must(t)(e.kapi.Set(ctx(t), "/del/a", "1", nil))
		k, w := newFaulty(false)
		r, err := k.Delete(ctx(t), "/del/a", nil)
		if err != nil || r.Action != "delete" || r.PrevNode == nil || r.PrevNode.ModifiedIndex != set.Node.ModifiedIndex {
			t.Fatalf("delete resent after a lost request: %+v, %v; want the delete of the key set at %d", r, err, set.Node.ModifiedIndex)
		}
		if w.txns != 2 {
			t.Errorf("the delete sent %d transactions, want 2 (the lost one, then the resend)", w.txns)
		}

		// Applied, then the answer lost: the resend finds no key.
		must(t)(e.kapi.Set(ctx(t), "/del/b", "1", nil))
		k, w = newFaulty(true)
		_, err = k.Delete(ctx(t), "/del/b", nil)
		var ou *client.OutcomeUnknownError
		if !client.IsOutcomeUnknown(err) || !errors.As(err, &ou) || !client.IsKeyNotFound(err) || !strings.Contains(err.Error(), "resent") || !strings.Contains(err.Error(), errInjected.Error()) {
			t.Fatalf("delete resent after a lost answer: %v, want an unknown outcome wrapping key-not-found and the first failure", err)
		}
		if w.txns != 2 {
			t.Errorf("the delete sent %d transactions, want 2", w.txns)
		}
		if _, err := e.kapi.Get(ctx(t), "/del/b", nil); !client.IsKeyNotFound(err) {
			t.Errorf("the key after the delete whose answer was lost: %v, want it gone", err)
		}
		t.Logf("%s: %v", e.server, err)

		// A compare-and-delete is never resent.
		c := must(t)(e.kapi.Set(ctx(t), "/del/c", "1", nil))
		k, w = newFaulty(true)
		_, err = k.Delete(ctx(t), "/del/c", &client.DeleteOptions{PrevIndex: c.Node.ModifiedIndex})
		if !client.IsOutcomeUnknown(err) || client.IsKeyNotFound(err) {
			t.Fatalf("compare-and-delete after a lost answer: %v, want an unknown outcome", err)
		}
		if w.txns != 1 {
			t.Errorf("the compare-and-delete sent %d transactions, want 1 (never resent)", w.txns)
		}
	})
}
