package client

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// keysDecoder decodes the keys API's answer ({"action", "node", "prevNode"})
// into a Response, either from a buffered body or straight from the
// connection, so that a recursive Get of a large tree never holds the whole
// body in memory next to the tree made from it.
//
// It decodes what encoding/json would decode into Response (member names
// matched exactly, else case-insensitively as encoding/json does; unknown
// members skipped; null leaves a field as it is, but sets a *Node or Nodes
// to nil; the last of duplicate members wins; invalid UTF-8 in strings
// becomes U+FFFD) and refuses what encoding/json refuses (any syntax error,
// a value of the wrong type, a number that does not fit its field, text
// after the value). A repeated "node" or "prevNode" member decodes into the
// node already there, as encoding/json does; a repeated "nodes" member
// replaces the children rather than decoding into the earlier ones.
//
// Allocation is what makes it fast: nodes come from slabs, the strings of
// up to strChunk bytes of keys and values share one allocation (a small
// answer's share the allocation of its Response), children lists are made
// at their exact length, and action names are interned.
type keysDecoder struct {
	r     io.Reader // nil when buf holds the whole body
	buf   []byte
	own   []byte // the read buffer kept with the decoder
	pos   int
	end   int
	read  int64 // bytes read from r
	limit int64 // Config.MaxResponseBytes; 0 means none
	// ioErr is what ended the input early: a read error, or a
	// *ResponseTooLargeError.
	ioErr error
	eof   bool

	// head keeps the first bytes of the body for error snippets.
	head [120]byte
	nh   int

	// chunk holds the bytes of decoded strings: the strings point into
	// chunk[:len(chunk)], which is never written again; only the bytes after
	// len(chunk) are (see stringField).
	chunk []byte
	slab  []Node
	nslab int
	spare *Node   // a node allocated with the Response, used first
	stack []*Node // children of the arrays being decoded
	key   []byte  // the member name being matched
	num   []byte  // the number being parsed
	depth int
}

const (
	decodeBufSize = 32 << 10
	// strChunk is how many bytes of strings share one allocation.
	strChunk = 32 << 10
	// maxSlab is the largest number of nodes allocated at once.
	maxSlab = 1024
	// maxDepth is encoding/json's nesting limit.
	maxDepth = 10000
)

var keysDecoderPool = sync.Pool{New: func() any { return &keysDecoder{} }}

func getKeysDecoder() *keysDecoder {
	return keysDecoderPool.Get().(*keysDecoder)
}

// release returns d to the pool without keeping anything the caller got.
func (d *keysDecoder) release() {
	d.buf, d.r, d.ioErr = nil, nil, nil
	clear(d.stack[:cap(d.stack)])
	// The chunk and the slab belong to the strings and nodes handed out.
	d.chunk, d.slab, d.spare = nil, nil, nil
	if cap(d.stack) > 64<<10 {
		d.stack = nil
	}
	keysDecoderPool.Put(d)
}

func (d *keysDecoder) reset(r io.Reader, body []byte, limit int64) {
	d.r, d.limit, d.read = r, limit, 0
	d.ioErr, d.eof = nil, false
	d.pos, d.nh, d.nslab, d.depth = 0, 0, 0, 0
	d.chunk, d.stack = nil, d.stack[:0]
	if r == nil {
		d.buf, d.end, d.eof = body, len(body), true
		d.nh = copy(d.head[:], body)
		return
	}
	if d.own == nil {
		d.own = make([]byte, decodeBufSize)
	}
	d.buf, d.end = d.own, 0
}

// snippet is the start of the body, for errors.
func (d *keysDecoder) snippet() []byte { return d.head[:d.nh] }

// fill reads more input, keeping buf[pos:end]. It reports false when no
// more input will come (end of body, read error or size limit).
func (d *keysDecoder) fill() bool {
	if d.eof || d.ioErr != nil {
		return false
	}
	if d.pos > 0 {
		d.end = copy(d.buf, d.buf[d.pos:d.end])
		d.pos = 0
	}
	if d.end == len(d.buf) {
		// A token longer than the buffer (a long value): grow it.
		nb := make([]byte, 2*len(d.buf))
		copy(nb, d.buf[:d.end])
		d.buf = nb
	}
	for {
		n, err := d.r.Read(d.buf[d.end:])
		if n > 0 {
			if d.nh < len(d.head) {
				d.nh += copy(d.head[d.nh:], d.buf[d.end:d.end+n])
			}
			d.read += int64(n)
			d.end += n
			if d.limit > 0 && d.read > d.limit {
				d.ioErr = &ResponseTooLargeError{Limit: d.limit}
				return false
			}
		}
		if err == io.EOF {
			d.eof = true
			return n > 0
		}
		if err != nil {
			d.ioErr = err
			return false
		}
		if n > 0 {
			return true
		}
	}
}

// want reads until n bytes are buffered or no more input comes.
func (d *keysDecoder) want(n int) {
	for d.end-d.pos < n && d.fill() {
	}
}

// drain reads the rest of the body (for connection reuse, and so that a
// read error or the size limit is reported as readBody would).
func (d *keysDecoder) drain() {
	for d.r != nil && !d.eof && d.ioErr == nil {
		d.pos = d.end
		d.fill()
	}
}

// decodeError is a syntax or type error in the answer.
type decodeError struct {
	msg string
	off int64
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("%s (at byte %d)", e.msg, e.off)
}

func (d *keysDecoder) offset() int64 {
	if d.r == nil {
		return int64(d.pos)
	}
	return d.read - int64(d.end-d.pos)
}

func (d *keysDecoder) errorf(format string, args ...any) error {
	return &decodeError{msg: fmt.Sprintf(format, args...), off: d.offset()}
}

// errEnd is returned when the input ends inside the value.
func (d *keysDecoder) errEnd() error {
	if d.ioErr != nil {
		return d.ioErr
	}
	return &decodeError{msg: "unexpected end of JSON input", off: d.offset()}
}

func (d *keysDecoder) badChar(c byte, context string) error {
	return d.errorf("invalid character %s %s", quoteChar(c), context)
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	if c >= utf8.RuneSelf {
		s = strconv.Quote(string([]byte{c}))
	}
	return "'" + s[1:len(s)-1] + "'"
}

// peek skips white space and returns the next byte without taking it.
func (d *keysDecoder) peek() (byte, bool) {
	if d.pos < d.end && d.buf[d.pos] > ' ' {
		return d.buf[d.pos], true
	}
	return d.peekSlow()
}

func (d *keysDecoder) peekSlow() (byte, bool) {
	for {
		for d.pos < d.end {
			c := d.buf[d.pos]
			if c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				return c, true
			}
			d.pos++
		}
		if !d.fill() {
			return 0, false
		}
	}
}

// decodeResponse decodes one answer into r and checks that only white
// space follows it.
func (d *keysDecoder) decodeResponse(r *Response) error {
	c, ok := d.peek()
	if !ok {
		return d.errEnd()
	}
	switch c {
	case '{':
		if err := d.responseObject(r); err != nil {
			return err
		}
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
	default:
		if err := d.skipValue(); err != nil {
			return err
		}
		return d.errorf("cannot unmarshal %s into a keys answer", kindOf(c))
	}
	if c, ok := d.peek(); ok {
		return d.badChar(c, "after top-level value")
	}
	return d.ioErr
}

func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

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

func (d *keysDecoder) responseObject(r *Response) error {
	d.pos++ // '{'
	for first := true; ; first = false {
		f, done, err := d.member(first, inResponse)
		if err != nil || done {
			return err
		}
		switch f {
		case fAction:
			err = d.stringField(&r.Action, true)
		case fNode:
			err = d.nodePtr(&r.Node)
		case fPrevNode:
			err = d.nodePtr(&r.PrevNode)
		default:
			err = d.skipValue()
		}
		if err != nil {
			return err
		}
	}
}

// nodePtr decodes a node or null into *p, reusing a node already there.
func (d *keysDecoder) nodePtr(p **Node) error {
	c, _ := d.peek()
	switch c {
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
		*p = nil
		return nil
	case '{':
		n := *p
		if n == nil {
			n = d.newNode()
			*p = n
		}
		return d.node(n)
	}
	return d.typeError(c, "node")
}

func (d *keysDecoder) typeError(c byte, field string) error {
	off := d.offset()
	if err := d.skipValue(); err != nil {
		return err
	}
	return &decodeError{msg: fmt.Sprintf("cannot unmarshal %s into %s", kindOf(c), field), off: off}
}

func (d *keysDecoder) newNode() *Node {
	if len(d.slab) == 0 || d.spare != nil {
		return d.newNodeSlow()
	}
	n := &d.slab[0]
	d.slab = d.slab[1:]
	return n
}

func (d *keysDecoder) newNodeSlow() *Node {
	if n := d.spare; n != nil {
		d.spare = nil
		return n
	}
	if len(d.slab) == 0 {
		size := 8
		switch {
		case d.nslab == 0:
			size = 1
		case d.nslab < 4:
			size = 8 << (2 * (d.nslab - 1)) // 8, 32, 128
		default:
			size = maxSlab
		}
		d.nslab++
		d.slab = make([]Node, size)
	}
	n := &d.slab[0]
	d.slab = d.slab[1:]
	return n
}

func (d *keysDecoder) node(n *Node) error {
	d.pos++ // '{'
	for first := true; ; first = false {
		f, done, err := d.member(first, inNode)
		if err != nil || done {
			return err
		}
		switch f {
		case fKey:
			err = d.stringField(&n.Key, false)
		case fValue:
			err = d.stringField(&n.Value, false)
		case fModifiedIndex:
			err = d.uintField(&n.ModifiedIndex, "modifiedIndex")
		case fCreatedIndex:
			err = d.uintField(&n.CreatedIndex, "createdIndex")
		case fDir:
			err = d.boolField(&n.Dir)
		case fNodes:
			err = d.nodes(n)
		case fExpiration:
			err = d.expiration(n)
		case fTTL:
			err = d.intField(&n.TTL)
		default:
			err = d.skipValue()
		}
		if err != nil {
			return err
		}
	}
}

func (d *keysDecoder) nodes(n *Node) error {
	c, _ := d.peek()
	switch c {
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
		n.Nodes = nil
		return nil
	case '[':
	default:
		return d.typeError(c, "nodes")
	}
	d.depth++
	if d.depth > maxDepth {
		return d.errorf("exceeded max depth")
	}
	d.pos++
	base := len(d.stack)
	c, ok := d.peek()
	if !ok {
		return d.errEnd()
	}
	if c != ']' {
		for {
			var child *Node
			if err := d.nodePtr(&child); err != nil {
				return err
			}
			d.stack = append(d.stack, child)
			if c, ok = d.peek(); !ok {
				return d.errEnd()
			}
			if c == ']' {
				break
			}
			if c != ',' {
				return d.badChar(c, "after array element")
			}
			d.pos++
			if _, ok = d.peek(); !ok {
				return d.errEnd()
			}
		}
	}
	d.pos++ // ']'
	d.depth--
	kids := make(Nodes, len(d.stack)-base)
	copy(kids, d.stack[base:])
	clear(d.stack[base:])
	d.stack = d.stack[:base]
	n.Nodes = kids
	return nil
}

// literal takes the literal lit (true, false or null).
func (d *keysDecoder) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos == d.end && !d.fill() {
			return d.errEnd()
		}
		if c := d.buf[d.pos]; c != lit[i] {
			return d.badChar(c, "in literal "+lit+" (expecting "+quoteChar(lit[i])+")")
		}
		d.pos++
	}
	return nil
}

func (d *keysDecoder) boolField(dst *bool) error {
	c, _ := d.peek()
	switch c {
	case 't':
		if err := d.literal("true"); err != nil {
			return err
		}
		*dst = true
		return nil
	case 'f':
		if err := d.literal("false"); err != nil {
			return err
		}
		*dst = false
		return nil
	case 'n':
		return d.literal("null")
	}
	return d.typeError(c, "dir")
}

// actions are the Action values etcd sends, kept as constants so that
// decoding them allocates nothing.
var actions = [...]string{"get", "set", "update", "create", "delete", "expire", "compareAndSwap", "compareAndDelete"}

// stringField decodes a string or null into *dst.
func (d *keysDecoder) stringField(dst *string, intern bool) error {
	c, _ := d.peek()
	switch c {
	case '"':
	case 'n':
		return d.literal("null")
	default:
		return d.typeError(c, "string")
	}
	if cap(d.chunk)-len(d.chunk) < 32 {
		// Chunks grow from small (most answers are) to strChunk.
		d.chunk = make([]byte, 0, min(max(4*cap(d.chunk), 256), strChunk))
	}
	off := len(d.chunk)
	// Appending writes only past len(chunk), where no string points; if
	// the string outgrows the chunk, append moves it (and the bytes before
	// it) to a new array and the old one stays as it is.
	if _, err := d.str(&d.chunk); err != nil {
		return err
	}
	s := d.chunk[off:]
	if intern {
		for _, a := range actions {
			if string(s) == a {
				d.chunk = d.chunk[:off]
				*dst = a
				return nil
			}
		}
	}
	if len(s) == 0 {
		*dst = ""
		return nil
	}
	*dst = unsafe.String(&s[0], len(s))
	return nil
}

// strSafe marks the bytes that a string holds as they are.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// hasSpecial reports whether one of the 8 bytes in x ends a run of string
// bytes that are kept as they are: a control character, '"', '\\' or a
// non-ASCII byte. (It may also report true for a byte after such a one.)
func hasSpecial(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	ctl := (x - ones*0x20) & ^x
	return ((quote-ones)&^quote|(slash-ones)&^slash|ctl|x)&highs != 0
}

// str takes a string at the input and appends its unescaped text to *out;
// it reports whether the string had escapes.
func (d *keysDecoder) str(out *[]byte) (bool, error) {
	d.pos++ // '"'
	escaped := false
	for {
		start := d.pos
		i := d.pos
		buf := d.buf[:d.end]
		for i+8 <= len(buf) && !hasSpecial(binary.LittleEndian.Uint64(buf[i:])) {
			i += 8
		}
		for i < len(buf) && strSafe[buf[i]] {
			i++
		}
		*out = append(*out, buf[start:i]...)
		d.pos = i
		if i == len(buf) {
			if !d.fill() {
				return escaped, d.errEnd()
			}
			continue
		}
		switch c := buf[i]; {
		case c == '"':
			d.pos++
			return escaped, nil
		case c == '\\':
			escaped = true
			if err := d.escape(out); err != nil {
				return escaped, err
			}
		case c < 0x20:
			return escaped, d.badChar(c, "in string literal")
		default:
			// Non-ASCII: valid UTF-8 is kept, anything else becomes U+FFFD.
			d.want(utf8.UTFMax)
			r, n := utf8.DecodeRune(d.buf[d.pos:d.end])
			if r == utf8.RuneError && n == 1 {
				*out = utf8.AppendRune(*out, utf8.RuneError)
			} else {
				*out = append(*out, d.buf[d.pos:d.pos+n]...)
			}
			d.pos += n
		}
	}
}

// escape decodes the escape sequence at the input.
func (d *keysDecoder) escape(out *[]byte) error {
	d.want(12) // room for \uXXXX\uXXXX
	if d.end-d.pos < 2 {
		return d.errEnd()
	}
	c := d.buf[d.pos+1]
	switch c {
	case '"', '\\', '/':
		*out = append(*out, c)
	case 'b':
		*out = append(*out, '\b')
	case 'f':
		*out = append(*out, '\f')
	case 'n':
		*out = append(*out, '\n')
	case 'r':
		*out = append(*out, '\r')
	case 't':
		*out = append(*out, '\t')
	case 'u':
		r, err := d.hex4(d.pos + 2)
		if err != nil {
			return err
		}
		d.pos += 6
		if utf16.IsSurrogate(r) {
			// A pair makes one rune; anything else is U+FFFD, as in
			// encoding/json.
			if d.end-d.pos >= 6 && d.buf[d.pos] == '\\' && d.buf[d.pos+1] == 'u' {
				r2, err := d.hex4(d.pos + 2)
				if err != nil {
					return err
				}
				if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
					d.pos += 6
					*out = utf8.AppendRune(*out, dec)
					return nil
				}
			}
			r = unicode.ReplacementChar
		}
		*out = utf8.AppendRune(*out, r)
		return nil
	default:
		d.pos++
		return d.badChar(c, "in string escape code")
	}
	d.pos += 2
	return nil
}

func (d *keysDecoder) hex4(at int) (rune, error) {
	var r rune
	for i := range 4 {
		if at+i >= d.end {
			d.pos = d.end
			return 0, d.errEnd()
		}
		c := d.buf[at+i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			d.pos = at + i
			return 0, d.badChar(d.buf[at+i], "in \\u hexadecimal character escape")
		}
		r = r<<4 | rune(c)
	}
	return r, nil
}

// number takes a JSON number at the input into d.num, checking its syntax.
func (d *keysDecoder) number() error {
	d.num = d.num[:0]
	for {
		for d.pos < d.end {
			c := d.buf[d.pos]
			if ('0' <= c && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				d.num = append(d.num, c)
				d.pos++
				continue
			}
			return d.checkNumber()
		}
		if !d.fill() {
			if d.ioErr != nil {
				return d.ioErr
			}
			return d.checkNumber()
		}
	}
}

// checkNumber validates d.num against JSON's number grammar.
func (d *keysDecoder) checkNumber() error {
	s := d.num
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return d.numberError(i)
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return d.numberError(i)
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return d.numberError(i)
		}
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i != len(s) {
		return d.numberError(i)
	}
	return nil
}

func (d *keysDecoder) numberError(i int) error {
	if i >= len(d.num) {
		if d.pos == d.end {
			return d.errEnd()
		}
		return d.badChar(d.buf[d.pos], "in numeric literal")
	}
	return d.errorf("invalid character %s in numeric literal", quoteChar(d.num[i]))
}

func (d *keysDecoder) uintField(dst *uint64, field string) error {
	c, _ := d.peek()
	switch {
	case c == 'n':
		return d.literal("null")
	case c != '-' && (c < '0' || c > '9'):
		return d.typeError(c, field)
	}
	// Fast path: up to 19 digits, no leading zero, ended within the buffer.
	if buf, i := d.buf[:d.end], d.pos; c != '0' && c != '-' {
		var v uint64
		for i < len(buf) && i-d.pos < 19 {
			c := buf[i]
			if c < '0' || c > '9' {
				break
			}
			v = v*10 + uint64(c-'0')
			i++
		}
		if i < len(buf) {
			switch buf[i] {
			case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '.', 'e', 'E', '+', '-':
			default:
				d.pos = i
				*dst = v
				return nil
			}
		}
	}
	if err := d.number(); err != nil {
		return err
	}
	var v uint64
	for _, c := range d.num {
		digit := uint64(c - '0')
		if c < '0' || c > '9' || v > (math.MaxUint64-digit)/10 {
			return d.errorf("cannot unmarshal number %s into %s (uint64)", d.num, field)
		}
		v = v*10 + digit
	}
	*dst = v
	return nil
}

func (d *keysDecoder) intField(dst *int64) error {
	c, _ := d.peek()
	switch {
	case c == 'n':
		return d.literal("null")
	case c != '-' && (c < '0' || c > '9'):
		return d.typeError(c, "ttl")
	}
	if err := d.number(); err != nil {
		return err
	}
	v, err := strconv.ParseInt(string(d.num), 10, 64)
	if err != nil {
		return d.errorf("cannot unmarshal number %s into ttl (int64)", d.num)
	}
	*dst = v
	return nil
}

func (d *keysDecoder) expiration(n *Node) error {
	c, _ := d.peek()
	switch c {
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
		n.Expiration = nil
		return nil
	case '"':
	default:
		return d.typeError(c, "expiration")
	}
	d.num = append(d.num[:0], '"')
	escaped, err := d.str(&d.num)
	if err != nil {
		return err
	}
	d.num = append(d.num, '"')
	if escaped {
		// time.Time's UnmarshalJSON sees the raw text, and no RFC 3339
		// time has a backslash in it.
		return d.errorf("expiration: escapes are not valid in a time")
	}
	if n.Expiration == nil {
		n.Expiration = new(time.Time)
	}
	if err := n.Expiration.UnmarshalJSON(d.num); err != nil {
		return d.errorf("expiration: %v", err)
	}
	return nil
}

// skipValue takes any JSON value, checking its syntax.
func (d *keysDecoder) skipValue() error {
	c, ok := d.peek()
	if !ok {
		return d.errEnd()
	}
	switch c {
	case '{':
		d.pos++
		for first := true; ; first = false {
			_, done, err := d.member(first, inOther)
			if err != nil || done {
				return err
			}
			if err := d.skipValue(); err != nil {
				return err
			}
		}
	case '[':
		d.depth++
		if d.depth > maxDepth {
			return d.errorf("exceeded max depth")
		}
		d.pos++
		c, ok := d.peek()
		if !ok {
			return d.errEnd()
		}
		if c == ']' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			if err := d.skipValue(); err != nil {
				return err
			}
			if c, ok = d.peek(); !ok {
				return d.errEnd()
			}
			d.pos++
			switch c {
			case ',':
			case ']':
				d.depth--
				return nil
			default:
				return d.badChar(c, "after array element")
			}
		}
	case '"':
		d.key = d.key[:0]
		_, err := d.str(&d.key)
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	if c == '-' || ('0' <= c && c <= '9') {
		return d.number()
	}
	return d.badChar(c, "looking for beginning of value")
}

// decodeKeysBody decodes a whole keys answer held in memory.
func decodeKeysBody(body []byte) (*Response, error) {
	d := getKeysDecoder()
	defer d.release()
	d.reset(nil, body, 0)
	return d.decode()
}

// respNode is a Response with room for its node and the strings of a small
// answer: one allocation for all.
type respNode struct {
	r    Response
	n    Node
	strs [64]byte
}

func (d *keysDecoder) decode() (*Response, error) {
	rn := new(respNode)
	d.spare = &rn.n
	d.chunk = rn.strs[:0]
	err := d.decodeResponse(&rn.r)
	if err != nil {
		return nil, err
	}
	return &rn.r, nil
}

// decodeKeysStream decodes a 200 or 201 keys answer from its body as it
// is read. Its errors are those of reading the whole body first and then
// decoding it: a failed or too large read, an empty body, then malformed
// JSON or a missing action.
func decodeKeysStream(ctx context.Context, resp *http.Response, st *call, method string, limit int64) (*Response, error) {
	defer resp.Body.Close()
	ep := st.endpoint()
	d := getKeysDecoder()
	defer d.release()
	d.reset(resp.Body, nil, limit)
	r, err := d.decode()
	if err != nil && d.ioErr == nil {
		if d.read == 0 && d.eof {
			return nil, newResponseError(ep, resp, nil, ErrEmptyBody, "")
		}
		d.drain()
	}
	if d.ioErr != nil {
		return nil, readError(ctx, ep, st.opName(), d.ioErr)
	}
	if err != nil || r.Action == "" {
		detail := "no action"
		if err != nil {
			detail = err.Error()
		}
		return nil, newResponseError(ep, resp, d.snippet(), ErrInvalidJSON, detail)
	}
	return keysHeaders(&result{resp: resp, body: d.snippet(), endpoint: ep, method: method, path: st.path}, r)
}
