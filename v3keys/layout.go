package v3keys

// The layout of the v2 tree in the v3 key space (see the package doc):
//
//	<prefix>/<depth:3 digits><escaped path><kind>
//
// e.g. the file /jobs/42 is "/v2/002/jobs/42\x01" and the directory /jobs
// is "/v2/001/jobs\x00". The kind byte is kindDir for a directory and one of
// the two file slots otherwise; escaping keeps bytes 0x00-0x03 out of the
// path, so the three keys a node may have are the only keys in
// [nodeKey, nodeKey+"\x03"), and sibling keys sort the way v2 sorts names.

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/meycoin/goetcd/client"
)

// Kind bytes, the last byte of every node key.
const (
	kindDir   byte = 0x00
	kindFile1 byte = 0x01
	kindFile2 byte = 0x02
	// kindEnd ends the range of a node's keys; it is also the escape byte.
	kindEnd byte = 0x03
)

// escShift is added to an escaped byte after the escape byte kindEnd.
const escShift = 0x10

// maxDepth is the deepest key the three depth digits can name.
const maxDepth = 999

// actName is the key, below the prefix, that every write also puts: its value
// names the action and the node, so that a watcher can tell v2's actions
// apart. seqName starts the keys that order in-order creations per directory.
// metaName is the key a migration from v2 (Migrate) keeps its marker in;
// like the other two it is no node key (no depth digits), so no listing
// or watch of the tree ever shows it.
const (
	actName  = "/act"
	seqName  = "/seq"
	metaName = "/migrate"
)

// layout makes and reads the v3 keys of one prefix.
type layout struct {
	prefix string // as configured, without a trailing slash
	act    []byte
}

func newLayout(prefix string) layout {
	return layout{prefix: prefix, act: []byte(prefix + actName)}
}

// depthOf counts the segments of a canonical path ("" is the root, 0).
func depthOf(p string) int {
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

// appendEscaped appends s with the bytes 0x00-0x03 escaped, keeping byte
// order: such a byte b becomes kindEnd, b+escShift.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= kindEnd {
			b = append(b, kindEnd, c+escShift)
		} else {
			b = append(b, c)
		}
	}
	return b
}

// appendDepth appends "/ddd".
func (l layout) appendDepth(b []byte, depth int) []byte {
	b = append(b, l.prefix...)
	b = append(b, '/')
	if depth < 100 {
		b = append(b, '0')
	}
	if depth < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(depth), 10)
}

// nodeBase is the key of node p (canonical, not the root) without its kind
// byte.
func (l layout) nodeBase(p string) []byte {
	b := make([]byte, 0, len(l.prefix)+6+len(p)+1)
	b = l.appendDepth(b, depthOf(p))
	b = append(b, '/')
	return appendEscaped(b, p)
}

// nodeKey is the key of node p of the given kind.
func (l layout) nodeKey(p string, kind byte) []byte {
	return append(l.nodeBase(p), kind)
}

// nodeRange is the range holding every key node p may have.
func (l layout) nodeRange(p string) (key, end []byte) {
	key = l.nodeBase(p)
	end = append(key[:len(key):len(key)], kindEnd)
	return key, end
}

// levelRange is the range of the children of directory p ("" for the root)
// at depth+extra below it: extra 1 are the children, 2 the grandchildren...
func (l layout) levelRange(p string, extra int) (key, end []byte) {
	key = make([]byte, 0, len(l.prefix)+6+len(p)+1)
	key = l.appendDepth(key, depthOf(p)+extra)
	key = append(key, '/')
	if p != "" {
		key = appendEscaped(key, p)
		key = append(key, '/')
	}
	end = append(key[:len(key)-1:len(key)-1], '/'+1)
	return key, end
}

// spaceRange holds every key of the prefix: nodes, the action key and the
// in-order sequences.
func (l layout) spaceRange() (key, end []byte) {
	return []byte(l.prefix + "/"), []byte(l.prefix + "0")
}

// metaKey is the key of a migration's marker.
func (l layout) metaKey() []byte { return []byte(l.prefix + metaName) }

// nodeSpace is the range of every node key (all depths) of the prefix.
func (l layout) nodeSpace() (key, end []byte) {
	return []byte(l.prefix + "/0"), []byte(l.prefix + "/:")
}

// seqKey orders the in-order creations in directory p.
func (l layout) seqKey(p string) []byte {
	b := append([]byte(l.prefix+seqName), '/')
	return appendEscaped(b, p)
}

// seqSpace is the range of every in-order sequence key of the prefix.
func (l layout) seqSpace() (key, end []byte) {
	return []byte(l.prefix + seqName + "/"), []byte(l.prefix + seqName + "0")
}

// isSeqKey reports whether key is an in-order sequence key of the prefix.
func (l layout) isSeqKey(key []byte) bool {
	return bytes.HasPrefix(key, []byte(l.prefix+seqName+"/"))
}

// parsedKey is a node key read back.
type parsedKey struct {
	path  string // canonical path, with no leading slash
	depth int
	kind  byte
}

// parse reads a node key of this layout; ok is false for any other key
// (the action and sequence keys, keys written by others).
func (l layout) parse(key []byte) (pk parsedKey, ok bool) {
	path, d, kind, ok := l.parsePath(key)
	if !ok {
		return pk, false
	}
	return parsedKey{path: string(path), depth: d, kind: kind}, true
}

// parsePath is parse without making strings: path is the node's path, a
// part of key unless it had escaped bytes.
func (l layout) parsePath(key []byte) (path []byte, depth int, kind byte, ok bool) {
	if !bytes.HasPrefix(key, []byte(l.prefix)) {
		return nil, 0, 0, false
	}
	rest := key[len(l.prefix):]
	// "/ddd/" + at least one path byte + kind.
	if len(rest) < 7 || rest[0] != '/' || rest[4] != '/' {
		return nil, 0, 0, false
	}
	d := 0
	for _, c := range rest[1:4] {
		if c < '0' || c > '9' {
			return nil, 0, 0, false
		}
		d = d*10 + int(c-'0')
	}
	kind = rest[len(rest)-1]
	if kind >= kindEnd {
		return nil, 0, 0, false
	}
	esc := rest[5 : len(rest)-1]
	b := esc
	if bytes.IndexByte(esc, kindEnd) >= 0 {
		b = make([]byte, 0, len(esc))
		for i := 0; i < len(esc); i++ {
			c := esc[i]
			if c == kindEnd {
				if i+1 >= len(esc) || esc[i+1] < escShift || esc[i+1] > escShift+kindEnd {
					return nil, 0, 0, false
				}
				c = esc[i+1] - escShift
				i++
			}
			b = append(b, c)
		}
	}
	if d == 0 || bytes.Count(b, []byte{'/'})+1 != d || b[0] == '/' || b[len(b)-1] == '/' || bytes.Contains(b, []byte("//")) {
		return nil, 0, 0, false
	}
	return b, d, kind, true
}

// checkDepth refuses a path deeper than the layout can hold.
func checkDepth(p string) error {
	if d := depthOf(p); d > maxDepth {
		return &client.InvalidArgumentError{Field: "key", Reason: fmt.Sprintf("/%s has %d segments; the v3 layout holds at most %d", p, d, maxDepth)}
	}
	return nil
}

// otherSlot is the file slot a plain set moves a file to, so that the new
// node gets a new create revision (v2 resets createdIndex on a plain set).
func otherSlot(kind byte) byte {
	if kind == kindFile1 {
		return kindFile2
	}
	return kindFile1
}
