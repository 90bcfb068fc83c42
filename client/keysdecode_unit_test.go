package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// The keys decoder must decode what encoding/json decodes into Response and
// refuse what it refuses, whether the body is in memory or arrives in
// pieces of any size.

var keysDecodeSeeds = []string{
	`{"action":"get","node":{"key":"/foo","value":"bar","modifiedIndex":4,"createdIndex":4}}` + "\n",
	`{"action":"set","node":{"key":"/foo","value":"b","modifiedIndex":5,"createdIndex":5},"prevNode":{"key":"/foo","value":"a","modifiedIndex":4,"createdIndex":4}}`,
	`{"action":"get","node":{"key":"/d","dir":true,"nodes":[{"key":"/d/a","dir":true,"nodes":[{"key":"/d/a/b","value":"1","modifiedIndex":4,"createdIndex":4}],"modifiedIndex":4,"createdIndex":4},null,{"key":"/d/c","value":""}],"modifiedIndex":3,"createdIndex":3}}`,
	`{"action":"create","node":{"key":"/d/8","value":"x","expiration":"2026-01-01T00:00:05.123456789Z","ttl":5,"modifiedIndex":8,"createdIndex":8}}`,
	`{"action":"expire","node":{"key":"/k","expiration":null,"ttl":-1}}`,
	`{"action":"get","node":{"key":"/d","dir":true,"nodes":[]}}`,
	`{"action":"get","node":{"nodes":[{"key":"a","nodes":[{"key":"a/1"},{"key":"a/2"}]},{"key":"b"},null,{"key":"c","nodes":[null,{"key":"c/1"}]},{"key":"d"}]}}`,
	`{"action":"get","node":{"key":"/d","dir":true,"nodes":null}}`,
	`{"action":"compareAndSwap","node":null,"prevNode":null}`,
	`{"action":"weird\u00e9\ud83d\ude00\ud800x\"\\\/\b\f\n\r\t","node":{"key":"\u006b","value":"caf\u00e9 \u2028"}}`,
	"{\"action\":\"get\",\"node\":{\"key\":\"/k\",\"value\":\"bad \xff\xfe utf8 \xe2\x82\"}}",
	`{"ACTION":"get","Node":{"KEY":"/k","Value":"v","modifiedindex":7,"CreatedIndex":1,"DIR":false}}`,
	`{"action":"get","node":{"key":"/k"},"node":{"value":"v"}}`,
	`{"action":"get","action":"set","node":{"key":"/k","key":""}}`,
	`{"action":"get","node":{"key":"/k","unknown":{"a":[1,2.5e-3,-0,true,false,null,"s",{}],"b":[]}},"x":1}`,
	`{"action":"get","node":{"modifiedIndex":18446744073709551615,"ttl":-9223372036854775808}}`,
	// Node members as etcd spells them (taken by nodeFast), and what makes
	// it stop: white space, escapes, non-ASCII, other spellings, numbers
	// that are not plain indexes, names it does not take, the end.
	`{"action":"get","node":{"key":"/a","dir":true,"nodes":[{"key":"/a/b","dir":false,"value":"","modifiedIndex":1,"createdIndex":1234567890123456789}]}}`,
	`{"action":"get","node":{"key" : "/a", "value":"b" ,"modifiedIndex": 1,"createdIndex":2 }}`,
	`{"action":"get","node":{ "key":"/a","value":"a\"b","dir":true,"value":"é","key":"k\u00e9y"}}`,
	`{"action":"get","node":{"key":"/a","Key":"/b","VALUE":"v","modifiedIndex":3,"unknown":[1],"createdIndex":4,"value":"w"}}`,
	`{"action":"get","node":{"key":"/a","ttl":5,"expiration":"2026-01-01T00:00:05Z","modifiedIndex":0,"createdIndex":0}}`,
	`{"action":"get","node":{"modifiedIndex":9999999999999999999,"createdIndex":10000000000000000000}}`,
	`{"action":"get","node":{"modifiedIndex":18446744073709551615,"createdIndex":1}}`,
	`{"action":"get","node":{"key":"/a","dir":null,"value":null,"modifiedIndex":null}}`,
	`{"action":"get","node":{"key":"/a","dir":truex}}`,
	`{"action":"get","node":{"key":"/a","dir":tru}}`,
	`{"action":"get","node":{"key":"/a","dir":falsey,"value":"v"}}`,
	`{"action":"get","node":{"key":"/a","modifiedIndex":1.5}}`,
	`{"action":"get","node":{"key":"/a","modifiedIndex":1e3}}`,
	`{"action":"get","node":{"key":"/a","modifiedIndex":01}}`,
	`{"action":"get","node":{"key":"/a","modifiedIndex":-1}}`,
	`{"action":"get","node":{"key":"/a","modifiedIndex":12345678901234567890123}}`,
	`{"action":"get","node":{"key":"/a","value":"b"x}}`,
	`{"action":"get","node":{"key":"/a","value":"b",}}`,
	`{"action":"get","node":{"key":"/a","value":"b"`,
	`{"action":"get","node":{"key":"/a","value":"b",`,
	`{"action":"get","node":{"key":"/a","value":"b`,
	`{"action":"get","node":{"key":"/a","modifiedIndex":12`,
	`{"action":"get","node":{"key":"/a","dir":true`,
	"{\"action\":\"get\",\"node\":{\"key\":\"/a\",\"value\":\"tab\there\"}}",
	`{"action":"get","node":{"key":"/a","value":5}}`,
	`{"action":"get","node":{"key":"/a","value":"v","expiration":"2026-12-04T23:00:00.5+01:00","ttl":30,"modifiedIndex":7,"createdIndex":7}}`,
	`{"action":"get","node":{"key":"/a","expiration":"soon","ttl":30}}`,
	`{"action":"get","node":{"key":"/a","expiration":"2026-12-04T23:00:00Z\n","ttl":30}}`,
	`{"action":"get","node":{"key":"/a","expiration":5}}`,
	`{"action":"get","node":{"key":"/a","ttl":1.5,"modifiedIndex":7}}`,
	`{"action":"get","node":{"key":"/a","ttl":-3,"expiration":null,"modifiedIndex":7}}`,
	`{"action":"get","node":{"key":"/a","ttl":99999999999999999999}}`,
	`{"action":"get","node":{"key":"/a","ttl":"5"}}`,
	`{"action":"get","node":{"key":"/a","value":"{\"x\":\"\u003c\"}","modifiedIndex":1,"createdIndex":2}}`,
	"{\"action\":\"get\",\"node\":{\"key\":\"/\u00e9\",\"value\":\"\xff\xfe\",\"dir\":false,\"modifiedIndex\":1}}",
	`{"action":"get","node":{"key":"/a","value":"a\qb","modifiedIndex":1}}`,
	`{"action":"get","node":{"key":"/a","value":"a\u12","modifiedIndex":1}}`,
	"{\"action\":\"get\",\"node\":{\"key\":\"/a\",\"value\":\"a\x01b\"}}",
	`{"action":"get","node":{"value":"a\"`,
	`{"action":"get","node":{"key":"/a","dir":"true"}}`,
	`{"action":"get","node":{"key":"/a","modifiedIndex":"1"}}`,
	`null`,
	`{}`,
	` {"action":"get"} `,
	// Refused:
	`{"action":"get","node":{"modifiedIndex":18446744073709551616}}`,
	`{"action":"get","node":{"modifiedIndex":-1}}`,
	`{"action":"get","node":{"modifiedIndex":1.0}}`,
	`{"action":"get","node":{"ttl":1e2}}`,
	`{"action":"get","node":{"modifiedIndex":01}}`,
	`{"action":"get","node":{"dir":"true"}}`,
	`{"action":"get","node":{"key":5}}`,
	`{"action":"get","node":[]}`,
	`{"action":"get","node":{"nodes":{}}}`,
	`{"action":"get","node":{"nodes":[5]}}`,
	`{"action":"get","node":{"expiration":"tomorrow"}}`,
	`{"action":"get","node":{"expiration":"2026-01-01T00:00:05\u005a"}}`,
	`{"action":"get"} x`,
	`{"action":"get",}`,
	`{"action":"get"`,
	`{"action":"get","node":`,
	`{"action":"g` + "\x01" + `"}`,
	`{"action":"\x"}`,
	`{"action":"\u12"}`,
	`[]`,
	`"get"`,
	`nul`,
	`{"a":tru}`,
	"",
	"   ",
}

// decodeWithEncodingJSON is how answers were decoded before keysDecoder.
func decodeWithEncodingJSON(body []byte) (*Response, error) {
	var r Response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func decodeFrom(r io.Reader, limit int64) (*Response, *keysDecoder, error) {
	d := getKeysDecoder()
	d.reset(r, nil, limit)
	resp, err := d.decode()
	return resp, d, err
}

func checkKeysDecode(t *testing.T, body []byte) {
	t.Helper()
	want, wantErr := decodeWithEncodingJSON(body)
	got, gotErr := decodeKeysBody(body)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("body %q: encoding/json error %v, keysDecoder error %v", body, wantErr, gotErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("body %q:\nencoding/json %s\nkeysDecoder   %s", body, dump(want), dump(got))
	}
	for _, r := range []io.Reader{
		iotest.OneByteReader(bytes.NewReader(body)),
		&pieceReader{r: bytes.NewReader(body), n: 7},
		iotest.DataErrReader(bytes.NewReader(body)),
	} {
		s, d, err := decodeFrom(r, 0)
		if (err == nil) != (gotErr == nil) || !reflect.DeepEqual(s, got) {
			t.Fatalf("body %q: streamed %s (%v), buffered %s (%v)", body, dump(s), err, dump(got), gotErr)
		}
		if d.ioErr != nil {
			t.Fatalf("body %q: read error %v", body, d.ioErr)
		}
		if err == nil && !d.eof {
			t.Fatalf("body %q: decoded without reading to the end", body)
		}
		d.release()
	}
}

// checkEventDecode decodes body as a watch stream, event after event, as
// encoding/json's Decoder does (read in one-byte pieces): the same events,
// then the same end: io.EOF after the last whole event, io.ErrUnexpectedEOF
// only where encoding/json sees the input end inside a value, and a
// decodeError wherever encoding/json finds a syntax error.
func checkEventDecode(t *testing.T, body []byte) {
	t.Helper()
	jd := json.NewDecoder(bytes.NewReader(body))
	d := newEventDecoder(iotest.OneByteReader(bytes.NewReader(body)))
	for i := 0; ; i++ {
		var want Response
		wantErr := jd.Decode(&want)
		got, gotErr := d.nextEvent()
		var se *json.SyntaxError
		var de *decodeError
		switch {
		case (wantErr == nil) != (gotErr == nil),
			(wantErr == io.EOF) != (gotErr == io.EOF),
			gotErr == io.ErrUnexpectedEOF && wantErr != io.ErrUnexpectedEOF,
			errors.As(wantErr, &se) && !errors.As(gotErr, &de):
			t.Fatalf("stream %q, event %d: encoding/json error %v, keysDecoder error %v", body, i, wantErr, gotErr)
		case wantErr != nil:
			return
		case !reflect.DeepEqual(*got, want):
			t.Fatalf("stream %q, event %d:\nencoding/json %s\nkeysDecoder   %s", body, i, dump(&want), dump(got))
		}
	}
}

func dump(r *Response) string {
	if r == nil {
		return "nil"
	}
	b, _ := json.Marshal(r)
	return string(b)
}

func TestKeysDecoderMatchesEncodingJSON(t *testing.T) {
	for _, s := range keysDecodeSeeds {
		checkKeysDecode(t, []byte(s))
		checkEventDecode(t, []byte(s))
	}
}

// The seeds one after another, as a stream sends its events.
func TestEventDecoderMatchesEncodingJSON(t *testing.T) {
	var stream []byte
	for _, s := range keysDecodeSeeds {
		if _, err := decodeWithEncodingJSON([]byte(s)); err == nil {
			stream = append(stream, s...)
			checkEventDecode(t, stream)
		}
	}
	for _, s := range []string{
		`{"action":"set"}{"action":"get"}` + "\n\t " + `null{}`,
		`{"action":"set"}` + "\n" + `{"action":"get","node":{"key":"/k","va`,
		`{"action":"set"} x`,
		`{"action":"set"}nulltrue`,
		`{"action":"set","node":{"nodes":[{"key":"a"},{"key":"b"}],"nodes":[{"value":"1"}],"nodes":[{"dir":true},{"ttl":3},{}]}}`,
		`{"action":"set","node":{"nodes":[{"key":"a"}],"nodes":[],"nodes":[{"ttl":3}]}}`,
		`{"action":"set","node":{"nodes":[{"key":"a"},null],"nodes":[null,{"key":"b"}]}}`,
	} {
		checkKeysDecode(t, []byte(s))
		checkEventDecode(t, []byte(s))
	}
}

func TestKeysDecoderLongValuesAndManyNodes(t *testing.T) {
	long := strings.Repeat("x", 3*decodeBufSize+17)
	esc := strings.Repeat(`\"\u00e9\ud83d\ude00`, decodeBufSize/8)
	var b strings.Builder
	b.WriteString(`{"action":"get","node":{"key":"/d","dir":true,"nodes":[`)
	for i := range 3000 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := fmt.Sprintf("v%d", i)
		switch i {
		case 5:
			v = long
		case 7:
			v = esc
		}
		fmt.Fprintf(&b, `{"key":"/d/k%d","value":"%s","modifiedIndex":%d,"createdIndex":%d}`, i, v, i+10, i+10)
	}
	b.WriteString(`],"modifiedIndex":4,"createdIndex":4}}` + "\n")
	body := []byte(b.String())
	checkKeysDecode(t, body)
	r, err := decodeKeysBody(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Node.Nodes) != 3000 || r.Node.Nodes[5].Value != long || r.Node.Nodes[2999].Key != "/d/k2999" {
		t.Fatalf("decoded %d nodes", len(r.Node.Nodes))
	}
}

// randomTree writes a directory of random shape: children lists of 0 to
// 120 entries (so that they span several slabs and share them with their
// cousins), nested up to depth levels, with now and then a null child, a
// repeated "nodes" member, an escaped or non-ASCII value, or white space.
func randomTree(b *strings.Builder, rng *rand.Rand, key string, depth int) {
	fmt.Fprintf(b, `{"key":%q,"dir":true`, key)
	lists := 1
	if rng.IntN(20) == 0 {
		lists = 2
	}
	for range lists {
		b.WriteString(`,"nodes":[`)
		n := rng.IntN(120)
		if depth == 0 || rng.IntN(3) == 0 {
			n = rng.IntN(6)
		}
		for i := range n {
			if i > 0 {
				b.WriteString([]string{",", ",", ",", " ,\n "}[rng.IntN(4)])
			}
			k := fmt.Sprintf("%s/k%d", key, i)
			switch r := rng.IntN(40); {
			case r == 0:
				b.WriteString("null")
			case r < 4 && depth > 0:
				randomTree(b, rng, k, depth-1)
			case r < 6:
				fmt.Fprintf(b, `{"key":%q,"value":"caf\u00e9 \"%d\" é\ud83d\ude00","ttl":%d,"modifiedIndex":%d}`, k, i, rng.IntN(100), i)
			default:
				fmt.Fprintf(b, `{"key":%q,"value":"v%d","modifiedIndex":%d,"createdIndex":%d}`, k, rng.IntN(1e6), i+5, i+5)
			}
		}
		b.WriteString("]")
	}
	b.WriteString(`,"modifiedIndex":3,"createdIndex":3}`)
}

// Trees of directories: the children of each list are the nodes decoded for
// it, whatever the lists around it, as encoding/json decodes them.
func TestKeysDecoderTrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		var b strings.Builder
		b.WriteString(`{"action":"get","node":`)
		randomTree(&b, rng, "/t", 1+i%4)
		b.WriteString("}\n")
		checkKeysDecode(t, []byte(b.String()))
	}
	// Deeply nested lists, each with siblings after the nested one.
	var b strings.Builder
	b.WriteString(`{"action":"get","node":`)
	const levels = 300
	for range levels {
		b.WriteString(`{"key":"/d","dir":true,"nodes":[{"key":"/a"},`)
	}
	b.WriteString(`{"key":"/leaf"}`)
	for range levels {
		b.WriteString(`,{"key":"/z","value":"1"}]}`)
	}
	b.WriteString("}")
	checkKeysDecode(t, []byte(b.String()))
}

// Values of every length up to past the chunk of strings, one after
// another, without escapes (taken by nodeFast) and with them.
func TestKeysDecoderStringLengths(t *testing.T) {
	for _, esc := range []string{"", `\u00e9`} {
		var b strings.Builder
		b.WriteString(`{"action":"get","node":{"key":"/d","dir":true,"nodes":[`)
		for i := range 2 * strChunk / 7 {
			if i > 0 {
				b.WriteByte(',')
			}
			v := strings.Repeat("v", i*7%(strChunk+100)) + esc
			fmt.Fprintf(&b, `{"key":"/d/%d","value":"%s","modifiedIndex":%d,"createdIndex":%d}`, i, v, i+1, i+1)
		}
		b.WriteString(`]}}`)
		checkKeysDecode(t, []byte(b.String()))
	}
}

// Nested lists up to and past the nesting limit: with 4999 lists the
// innermost node lies at the deepest level allowed (10000), with 5000 the
// last '[' is one level too deep; nodeFast takes the first innermost node.
func TestKeysDecoderNestedListsDepthLimit(t *testing.T) {
	for _, lists := range []int{4998, 4999, 5000} {
		for _, inner := range []string{`{"key":"/a","value":"b"}`, `{}`, `{"key":"/a",  "value":"b"}`} {
			body := `{"action":"get","node":` + strings.Repeat(`{"nodes":[`, lists) + inner + strings.Repeat(`]}`, lists) + `}`
			want, wantErr := decodeWithEncodingJSON([]byte(body))
			got, gotErr := decodeKeysBody([]byte(body))
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("%d lists, innermost %s: encoding/json error %v, keysDecoder error %v", lists, inner, wantErr, gotErr)
			}
			if wantErr == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("%d lists, innermost %s: decoded differently from encoding/json", lists, inner)
			}
		}
	}
}

func TestKeysDecoderDepthLimit(t *testing.T) {
	deep := strings.Repeat(`{"node":`, 10001) + "null" + strings.Repeat("}", 10001)
	if _, err := decodeKeysBody([]byte(deep)); err == nil {
		t.Fatal("10001 levels decoded")
	}
	deep = `{"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "}"
	if _, err := decodeKeysBody([]byte(deep)); err == nil {
		t.Fatal("10001 levels skipped")
	}
}

func TestKeysDecoderStreamLimitAndReadErrors(t *testing.T) {
	body := []byte(`{"action":"get","node":{"key":"/foo","value":"bar"}}`)
	_, d, err := decodeFrom(bytes.NewReader(body), int64(len(body)-1))
	var tl *ResponseTooLargeError
	if !errors.As(err, &tl) || !errors.As(d.ioErr, &tl) {
		t.Fatalf("err = %v, want ResponseTooLargeError", err)
	}
	d.release()
	_, d, err = decodeFrom(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	d.release()
	boom := errors.New("boom")
	_, d, err = decodeFrom(io.MultiReader(bytes.NewReader(body[:20]), iotest.ErrReader(boom)), 0)
	if !errors.Is(err, boom) || d.ioErr != boom {
		t.Fatalf("err = %v, want the read error", err)
	}
	d.release()
}

// A keys call decodes its answer from the connection: check the errors it
// gives are those of reading first and decoding afterwards.
func TestKeysStreamErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		limit int64
		check func(error) bool
	}{
		{"malformed", `{"action":"get","node":{"key":5}}`, 0, func(err error) bool { return errors.Is(err, ErrInvalidJSON) }},
		{"empty", ``, 0, func(err error) bool { return errors.Is(err, ErrEmptyBody) }},
		{"white space", "  \n", 0, func(err error) bool { return errors.Is(err, ErrInvalidJSON) }},
		{"no action", `{"node":{"key":"/k"}}`, 0, func(err error) bool { return errors.Is(err, ErrInvalidJSON) }},
		{"malformed and too large", `{"action":5,"node":{"key":"` + strings.Repeat("x", 5000) + `"}}`, 1000, func(err error) bool {
			var tl *ResponseTooLargeError
			return errors.As(err, &tl) && tl.Endpoint != ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := countingServer(t, http.StatusOK, tc.body)
			s := srv.URL
			c := pinnedClient(t, Config{MaxResponseBytes: tc.limit}, s)
			_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
			if !tc.check(err) {
				t.Fatalf("err = %v", err)
			}
			var re *ResponseError
			if errors.As(err, &re) && !strings.Contains(err.Error(), s) {
				t.Fatalf("err %q does not name the endpoint", err)
			}
		})
	}
}

func FuzzKeysDecoder(f *testing.F) {
	for _, s := range keysDecodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkKeysDecode(t, body)
		checkEventDecode(t, body)
	})
}

// plainString finds the first byte a string does not hold as it is,
// whatever bytes come before and after it in its word.
func TestPlainString(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'a', 'Z', '0', ' ', '!', '#', '[', ']', '~', 0x7f, '"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x80, 0xc3, 0xff}
	for range 20000 {
		buf := make([]byte, rng.IntN(24))
		for j := range buf {
			if rng.IntN(4) == 0 {
				buf[j] = alphabet[rng.IntN(len(alphabet))]
			} else {
				buf[j] = 'a' + byte(rng.IntN(26))
			}
		}
		i := 0
		if len(buf) > 0 {
			i = rng.IntN(len(buf) + 1)
		}
		want := i
		for want < len(buf) && strSafe[buf[want]] {
			want++
		}
		if got := plainString(buf, i); got != want {
			t.Fatalf("plainString(%q, %d) = %d, want %d", buf, i, got, want)
		}
	}
}
