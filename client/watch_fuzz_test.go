package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
)

// FuzzWatchStream feeds a streamed watch answer (stream=true: events one
// after another on one body) to a Watcher, then ends the watch with an
// "event index cleared" error. Invariants: Next never panics or hangs and
// the watch ends within a bounded number of calls; it delivers, in order, a
// subsequence of the JSON values the body holds, each an event with an
// action and never one at or below an index delivered before; an event over
// Config.MaxResponseBytes ends the watch with a *ResponseTooLargeError; and
// every error is typed (etcd Error, ResponseError, ResponseTooLargeError).
func FuzzWatchStream(f *testing.F) {
	ev := `{"action":"set","node":{"key":"/w","value":"1","modifiedIndex":9,"createdIndex":9}}` + "\n"
	ev2 := `{"action":"delete","node":{"key":"/w","modifiedIndex":10,"createdIndex":9},"prevNode":{"key":"/w","value":"1","modifiedIndex":9,"createdIndex":9}}` + "\n"
	f.Add([]byte(ev+ev2+ev2), uint16(0))
	f.Add([]byte(ev+ev2), uint16(100))
	f.Add([]byte(ev+`{"action":""}`), uint16(0))
	f.Add([]byte(`{"action":"set","node":`), uint16(0))
	f.Add([]byte(`<html>502</html>`), uint16(0))
	f.Add([]byte(ev+`{"action":"expire","node":{"key":"/w","modifiedIndex":4}}`), uint16(0))
	f.Fuzz(func(t *testing.T, body []byte, limit uint16) {
		cleared := []byte(`{"errorCode":401,"message":"The event in requested index is outdated and cleared","cause":"the requested history has been cleared [9/1]","index":20}` + "\n")
		h := http.Header{"X-Etcd-Index": {"8"}}
		tr := &cannedTransport{answers: []cannedAnswer{
			{status: 200, header: h, body: body},
			{status: 400, header: h, body: cleared},
		}}
		c := cannedClient(t, tr, Config{MaxResponseBytes: int64(limit)})
		w := NewKeysAPI(c).Watcher("/w", &WatcherOptions{Stream: true, IdleTimeout: -1, AfterIndex: 0})
		ctx := fuzzCtx(t)

		var values []*Response // what the body holds, in order
		dec := json.NewDecoder(bytes.NewReader(body))
		for {
			var r Response
			if dec.Decode(&r) != nil {
				break
			}
			values = append(values, &r)
		}
		var last uint64
		next := 0
		for calls := 0; ; calls++ {
			if calls > len(values)+3 {
				t.Fatalf("the watch did not end after %d calls on a body of %d values", calls, len(values))
			}
			resp, err := w.Next(ctx)
			if ctx.Err() != nil {
				t.Fatalf("Next hung: %v", err)
			}
			if err != nil {
				var tl *ResponseTooLargeError
				if errors.As(err, &tl) {
					if limit == 0 || tl.Limit != int64(limit) || tl.Endpoint == "" {
						t.Fatalf("ResponseTooLargeError %+v with limit %d", tl, limit)
					}
					return
				}
				checkAnswerError(t, err, map[bool]int{true: 400, false: 200}[IsEventIndexCleared(err)])
				return
			}
			if resp.Action == "" {
				t.Fatalf("event without an action: %+v", resp)
			}
			if resp.Node != nil {
				if resp.Node.ModifiedIndex < last || (last != 0 && resp.Node.ModifiedIndex == last) {
					t.Fatalf("event at index %d after one at %d", resp.Node.ModifiedIndex, last)
				}
				last = resp.Node.ModifiedIndex
			}
			for next < len(values) && !sameEvent(values[next], resp) {
				next++
			}
			if next == len(values) {
				t.Fatalf("delivered %+v, which is not next in the body %q", resp, body)
			}
			next++
		}
	})
}

func sameEvent(a, b *Response) bool {
	return a.Action == b.Action && reflect.DeepEqual(a.Node, b.Node) && reflect.DeepEqual(a.PrevNode, b.PrevNode)
}
