package v3keys

// A decoder for the gateway's transaction answers made of ranges (every
// read, and the other branch of a write whose guard failed): a recursive
// Get of a large tree is one such answer of many megabytes, which
// encoding/json decodes slowly (reflection, one allocation per string and
// per base64 field). This one scans the bytes once, takes the numeric
// strings as substrings of the answer itself and decodes the base64
// keys and values into shared blocks. It accepts only the plain form the
// gateway sends (known fields, once each; ASCII strings without escapes;
// no nulls); anything else is decoded by encoding/json instead, so the
// result is always what encoding/json gives.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"unsafe"

	"github.com/meycoin/goetcd/v3keys/internal/v3gen"
)

// decodeTxn decodes a transaction answer into out, as
// json.NewDecoder(bytes.NewReader(data)).Decode(out) does. The strings of
// out share data's memory: data must not change afterwards (the answers
// are read into buffers of their own, and the strings are parsed into
// numbers and dropped with out).
func decodeTxn(data []byte, out *v3gen.TxnResponse) error {
	if len(data) == 0 {
		return json.NewDecoder(bytes.NewReader(data)).Decode(out)
	}
	s := &txnScanner{d: data, s: unsafe.String(&data[0], len(data))}
	if err := s.txn(out); err == nil {
		return nil
	}
	*out = v3gen.TxnResponse{}
	return json.NewDecoder(bytes.NewReader(data)).Decode(out)
}

// errPlain stops the plain scan: encoding/json decodes the answer instead.
var errPlain = errors.New("v3keys: not the plain form")

// arenaBlock is the size of the blocks decoded keys and values share.
const arenaBlock = 64 << 10

type txnScanner struct {
	d     []byte
	s     string // d as a string, for substrings
	i     int
	arena []byte
}

func (s *txnScanner) ws() {
	for s.i < len(s.d) {
		switch s.d[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space (0 at the end).
func (s *txnScanner) peek() byte {
	s.ws()
	if s.i < len(s.d) {
		return s.d[s.i]
	}
	return 0
}

func (s *txnScanner) expect(c byte) error {
	if s.peek() != c {
		return errPlain
	}
	s.i++
	return nil
}

// str scans a string and returns its content's bounds: printable ASCII
// without escapes only.
func (s *txnScanner) str() (int, int, error) {
	if err := s.expect('"'); err != nil {
		return 0, 0, err
	}
	start := s.i
	for s.i < len(s.d) {
		c := s.d[s.i]
		switch {
		case c == '"':
			s.i++
			return start, s.i - 1, nil
		case c == '\\' || c < 0x20 || c >= 0x80:
			return 0, 0, errPlain
		}
		s.i++
	}
	return 0, 0, errPlain
}

// text scans a string field.
func (s *txnScanner) text() (string, error) {
	a, b, err := s.str()
	if err != nil {
		return "", err
	}
	return s.s[a:b], nil
}

// bytes scans a base64 field, as encoding/json decodes []byte.
func (s *txnScanner) bytes() ([]byte, error) {
	a, b, err := s.str()
	if err != nil {
		return nil, err
	}
	n := base64.StdEncoding.DecodedLen(b - a)
	if n > len(s.arena) {
		s.arena = make([]byte, max(arenaBlock, n))
	}
	m, err := base64.StdEncoding.Decode(s.arena[:n], s.d[a:b])
	if err != nil {
		return nil, errPlain
	}
	if m == 0 {
		return []byte{}, nil
	}
	out := s.arena[:m:m]
	s.arena = s.arena[m:]
	return out, nil
}

// boolean scans true or false.
func (s *txnScanner) boolean() (bool, error) {
	s.ws()
	switch {
	case bytes.HasPrefix(s.d[s.i:], []byte("true")):
		s.i += 4
		return true, nil
	case bytes.HasPrefix(s.d[s.i:], []byte("false")):
		s.i += 5
		return false, nil
	}
	return false, errPlain
}

// object scans an object. field decodes the value of each key and returns
// a bit of its own for the key (0 for a key it does not know); an unknown
// or repeated key stops the scan.
func (s *txnScanner) object(field func(key string) (uint32, error)) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	var seen uint32
	for {
		a, b, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		bit, err := field(s.s[a:b])
		if err != nil || bit == 0 || seen&bit != 0 {
			return errPlain
		}
		seen |= bit
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errPlain
		}
	}
}

// array scans an array, calling elem for each element.
func (s *txnScanner) array(elem func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errPlain
		}
	}
}

// count estimates how many keys the array of keys that starts at the next
// byte holds: the objects up to its first ']' (a key object has no nested
// object or array, and base64 has neither brace nor bracket), at most one
// per 16 bytes (the shortest plain key object with a key). It is only a
// capacity: a string holding a brace or bracket makes it wrong, not the
// scan.
func (s *txnScanner) count() int {
	s.ws()
	rest := s.d[s.i:]
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return 0
	}
	return min(bytes.Count(rest[:end], []byte{'{'}), end/16)
}

func (s *txnScanner) txn(out *v3gen.TxnResponse) error {
	return s.object(func(key string) (uint32, error) {
		var err error
		switch key {
		case "header":
			out.Header, err = s.header()
			return 1, err
		case "responses":
			out.Responses = []v3gen.ResponseOp{}
			return 2, s.array(func() error {
				var op v3gen.ResponseOp
				err := s.object(func(key string) (uint32, error) {
					if key != "response_range" {
						return 0, nil
					}
					var err error
					op.ResponseRange, err = s.rangeResponse()
					return 1, err
				})
				out.Responses = append(out.Responses, op)
				return err
			})
		case "succeeded":
			out.Succeeded, err = s.boolean()
			return 4, err
		}
		return 0, nil
	})
}

func (s *txnScanner) header() (*v3gen.ResponseHeader, error) {
	h := &v3gen.ResponseHeader{}
	err := s.object(func(key string) (uint32, error) {
		var err error
		switch key {
		case "cluster_id":
			h.ClusterId, err = s.text()
			return 1, err
		case "member_id":
			h.MemberId, err = s.text()
			return 2, err
		case "raft_term":
			h.RaftTerm, err = s.text()
			return 4, err
		case "revision":
			h.Revision, err = s.text()
			return 8, err
		}
		return 0, nil
	})
	return h, err
}

func (s *txnScanner) rangeResponse() (*v3gen.RangeResponse, error) {
	r := &v3gen.RangeResponse{}
	err := s.object(func(key string) (uint32, error) {
		var err error
		switch key {
		case "count":
			r.Count, err = s.text()
			return 1, err
		case "header":
			r.Header, err = s.header()
			return 2, err
		case "kvs":
			// Sized first: growing a slice of 100,000 keys by appending
			// costs more than the scan.
			r.Kvs = make([]v3gen.KeyValue, 0, s.count())
			return 4, s.array(func() error {
				r.Kvs = append(r.Kvs, v3gen.KeyValue{})
				return s.keyValue(&r.Kvs[len(r.Kvs)-1])
			})
		case "more":
			r.More, err = s.boolean()
			return 8, err
		}
		return 0, nil
	})
	return r, err
}

func (s *txnScanner) keyValue(kv *v3gen.KeyValue) error {
	return s.object(func(key string) (uint32, error) {
		var err error
		switch key {
		case "key":
			kv.Key, err = s.bytes()
			return 1, err
		case "value":
			kv.Value, err = s.bytes()
			return 2, err
		case "create_revision":
			kv.CreateRevision, err = s.text()
			return 4, err
		case "mod_revision":
			kv.ModRevision, err = s.text()
			return 8, err
		case "version":
			kv.Version, err = s.text()
			return 16, err
		case "lease":
			kv.Lease, err = s.text()
			return 32, err
		}
		return 0, nil
	})
}
