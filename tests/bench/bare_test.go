package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// nameBare is the watch latency's yardstick: the least a Go program does to
// long-poll etcd (see bareWatcher). It is no client: it shows how much of
// the write-to-event time is etcd's, the writer's and the machine's.
const nameBare = "bare"

// bareWatcher long-polls key from afterIndex on one TCP connection of its
// own: it writes the request line by hand, reads the answer through one
// buffered reader and takes the event's index from its bytes — no HTTP
// library, no JSON decoder, no goroutine of its own, nothing allocated but
// the request and the body. Any client adds to what it measures.
func bareWatcher(endpoint, key string, afterIndex uint64) watchNext {
	host := strings.TrimPrefix(endpoint, "http://")
	var br *bufio.Reader
	var nc net.Conn
	next := afterIndex + 1
	return func(ctx context.Context) (uint64, error) {
		if nc == nil {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", host)
			if err != nil {
				return 0, fmt.Errorf("bare: %w", err)
			}
			nc, br = c, bufio.NewReaderSize(c, 4<<10)
			context.AfterFunc(ctx, func() { c.Close() })
		}
		for {
			req := "GET /v2/keys" + key + "?wait=true&waitIndex=" + strconv.FormatUint(next, 10) +
				" HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
			if _, err := io.WriteString(nc, req); err != nil {
				return 0, fmt.Errorf("bare: %w", err)
			}
			body, err := bareAnswer(br)
			if err != nil {
				return 0, err
			}
			idx, ok, err := bareIndex(body)
			if err != nil {
				return 0, err
			}
			if !ok {
				continue // the long poll ended without an event
			}
			next = idx + 1
			return idx, nil
		}
	}
}

// bareAnswer reads etcd's answer to a long poll, a 200 whose body is
// chunked (etcd sends the headers before the event), and returns the body.
func bareAnswer(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("bare: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return nil, fmt.Errorf("bare: answer %q", line)
	}
	chunked := false
	for {
		if line, err = br.ReadSlice('\n'); err != nil {
			return nil, fmt.Errorf("bare: %w", err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		if bytes.EqualFold(bytes.TrimSpace(line), []byte("Transfer-Encoding: chunked")) {
			chunked = true
		}
	}
	if !chunked {
		return nil, errors.New("bare: the answer's body is not chunked")
	}
	var body []byte
	for {
		if line, err = br.ReadSlice('\n'); err != nil {
			return nil, fmt.Errorf("bare: %w", err)
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 31)
		if err != nil {
			return nil, fmt.Errorf("bare: chunk size %q", line)
		}
		chunk := make([]byte, n+2) // and its CRLF
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, fmt.Errorf("bare: %w", err)
		}
		if n == 0 {
			return body, nil
		}
		body = append(body, chunk[:n]...)
	}
}

// bareIndex is the first modifiedIndex in an event's JSON, the node's
// (etcd writes "node" before "prevNode"); ok is false for an empty body.
func bareIndex(body []byte) (idx uint64, ok bool, err error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return 0, false, nil
	}
	const field = `"modifiedIndex":`
	i := bytes.Index(body, []byte(field))
	if i < 0 {
		return 0, false, fmt.Errorf("bare: no modifiedIndex in %q", body)
	}
	j := i + len(field)
	k := j
	for k < len(body) && body[k] >= '0' && body[k] <= '9' {
		k++
	}
	idx, err = strconv.ParseUint(string(body[j:k]), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("bare: modifiedIndex in %q: %v", body, err)
	}
	return idx, true, nil
}

// TestBareWatcher checks the yardstick against a real etcd: it sees every
// write, in order, as goetcd's watcher does; and it reads chunked answers
// split anywhere, empty ones as no event, and refuses what it cannot read.
func TestBareWatcher(t *testing.T) {
	ep := startEtcd(t)
	writer := newKV(t, nameRaw, ep)
	defer writer.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	key := "/bench/bare/" + runID()
	first, err := writer.set(ctx, key, "start")
	if err != nil {
		t.Fatal(err)
	}
	next := bareWatcher(ep, key, first)
	for i := range 3 {
		idx, err := writer.set(ctx, key, strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		got, err := next(ctx)
		if err != nil || got != idx {
			t.Fatalf("write %d: event %d, %v; want %d", i, got, err, idx)
		}
	}
	for _, tc := range []struct {
		answer string
		body   string
		err    bool
	}{
		{answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\"}\r\n0\r\n\r\n", body: `{"a"}`},
		{answer: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", body: ""},
		{answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", err: true},
		{answer: "HTTP/1.1 400 Bad Request\r\n\r\n", err: true},
		{answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: true},
	} {
		body, err := bareAnswer(bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tc.answer)), 64))
		if tc.err != (err != nil) || string(body) != tc.body {
			t.Errorf("%q: body %q, error %v", tc.answer, body, err)
		}
	}
	if idx, ok, err := bareIndex([]byte(`{"action":"set","node":{"key":"/k","modifiedIndex":12,"createdIndex":3},"prevNode":{"modifiedIndex":9}}` + "\n")); idx != 12 || !ok || err != nil {
		t.Errorf("bareIndex: %d %v %v, want 12", idx, ok, err)
	}
	if _, ok, err := bareIndex([]byte("\n")); ok || err != nil {
		t.Errorf("bareIndex of an empty answer: %v %v", ok, err)
	}
}
