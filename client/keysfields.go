// The keys decoder's member names: the known fields of a Response and a Node,
// matched exactly or case-insensitively as encoding/json does.

package client

import (
	"unicode"
	"unicode/utf8"
)

// Which names member matches against.
const (
	inResponse = iota
	inNode
	inOther
)

// member steps to the next member of an object whose '{' was taken
// (first) or whose last member's value was: it returns the member's field
// (matched against the names of the struct in) with the input at its value,
// or done once the closing '}' is taken.
func (d *keysDecoder) member(first bool, in int) (field int, done bool, err error) {
	c, ok := d.peek()
	if !ok {
		return 0, false, d.errEnd()
	}
	if first {
		d.depth++
		if d.depth > maxDepth {
			return 0, false, d.errorf("exceeded max depth")
		}
	}
	if c == '}' {
		d.pos++
		d.depth--
		return 0, true, nil
	}
	if !first {
		if c != ',' {
			return 0, false, d.badChar(c, "after object key:value pair")
		}
		d.pos++
		if c, ok = d.peek(); !ok {
			return 0, false, d.errEnd()
		}
	}
	if c != '"' {
		return 0, false, d.badChar(c, "looking for beginning of object key string")
	}
	if in != inOther {
		// Fast path: a name etcd sends, spelt exactly, then ':' at once.
		if f, n := knownMember(d.buf[d.pos:d.end], in); n > 0 {
			d.pos += n
			return f, false, nil
		}
	}
	// The name is matched before anything more is read: it may lie in the
	// read buffer, which the next read moves.
	name, err := d.name()
	if err != nil {
		return 0, false, err
	}
	switch in {
	case inResponse:
		field = responseField(name)
	case inNode:
		field = nodeField(name)
	}
	if c, ok = d.peek(); !ok {
		return 0, false, d.errEnd()
	}
	if c != ':' {
		return 0, false, d.badChar(c, "after object key")
	}
	d.pos++
	return field, false, nil
}

// knownMember matches the start of b with one of the member names of in
// in quotes and followed by ':', returning the field and the length matched
// (0 for none).
func knownMember(b []byte, in int) (int, int) {
	if len(b) < 2 {
		return 0, 0
	}
	var f int
	var m string
	switch b[1] {
	case 'k':
		f, m = fKey, `"key":`
	case 'v':
		f, m = fValue, `"value":`
	case 'm':
		f, m = fModifiedIndex, `"modifiedIndex":`
	case 'c':
		f, m = fCreatedIndex, `"createdIndex":`
	case 'd':
		f, m = fDir, `"dir":`
	case 'n':
		f, m = fNodes, `"nodes":`
		if in == inResponse {
			f, m = fNode, `"node":`
		}
	case 'e':
		f, m = fExpiration, `"expiration":`
	case 't':
		f, m = fTTL, `"ttl":`
	case 'a':
		f, m = fAction, `"action":`
	case 'p':
		f, m = fPrevNode, `"prevNode":`
	default:
		return 0, 0
	}
	if (in == inResponse) != (f == fAction || f == fNode || f == fPrevNode) {
		return 0, 0
	}
	if len(b) < len(m) || string(b[:len(m)]) != m {
		return 0, 0
	}
	return f, len(m)
}

// name takes an object key string, returning its unescaped text (in the
// read buffer when it needs no unescaping, else in d.key).
func (d *keysDecoder) name() ([]byte, error) {
	buf := d.buf[:d.end]
	for i := d.pos + 1; i < len(buf); i++ {
		c := buf[i]
		if c == '"' {
			name := buf[d.pos+1 : i]
			d.pos = i + 1
			return name, nil
		}
		if !strSafe[c] {
			break
		}
	}
	d.key = d.key[:0]
	_, err := d.str(&d.key)
	return d.key, err
}

// The member names of Response and Node.
const (
	fUnknown = iota
	fAction
	fNode
	fPrevNode
	fKey
	fDir
	fValue
	fNodes
	fCreatedIndex
	fModifiedIndex
	fExpiration
	fTTL
)

var responseFields = []string{fAction: "action", fNode: "node", fPrevNode: "prevNode"}

var nodeFields = []string{fKey: "key", fDir: "dir", fValue: "value", fNodes: "nodes", fCreatedIndex: "createdIndex", fModifiedIndex: "modifiedIndex", fExpiration: "expiration", fTTL: "ttl"}

func responseField(name []byte) int {
	switch string(name) {
	case "action":
		return fAction
	case "node":
		return fNode
	case "prevNode":
		return fPrevNode
	}
	return foldField(name, responseFields)
}

func nodeField(name []byte) int {
	switch string(name) {
	case "key":
		return fKey
	case "value":
		return fValue
	case "modifiedIndex":
		return fModifiedIndex
	case "createdIndex":
		return fCreatedIndex
	case "dir":
		return fDir
	case "nodes":
		return fNodes
	case "expiration":
		return fExpiration
	case "ttl":
		return fTTL
	}
	return foldField(name, nodeFields)
}

// foldField matches a name the way encoding/json does when no name matches
// exactly: both upper-cased rune by rune.
func foldField(name []byte, fields []string) int {
	for i, f := range fields {
		if f != "" && foldEqual(name, f) {
			return i
		}
	}
	return fUnknown
}

func foldEqual(name []byte, field string) bool {
	j := 0
	for i := 0; i < len(name); {
		r, n := rune(name[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(name[i:])
		}
		i += n
		r = unicode.ToUpper(r)
		if j >= len(field) || r >= utf8.RuneSelf || byte(r) != upperASCII(field[j]) {
			return false
		}
		j++
	}
	return j == len(field)
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
