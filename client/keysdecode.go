// The keys answer decoder, the one JSON parser of keys answers and watch
// events: its state, buffering, and the Response and Node objects (entry
// points decodeKeysBody, decodeKeysStream, and newEventDecoder for the
// events of a stream).

package client

import (
	"context"
	"encoding/binary"
	"io"
	"math/bits"
	"net/http"
	"slices"
	"sync"
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
// after the value). A repeated "node", "prevNode" or "nodes" member decodes
// into the nodes already there, as encoding/json does.
//
// The same decoder reads the events of a stream=true watch one at a time
// from the open body (newEventDecoder, nextEvent).
//
// Allocation is what makes it fast: nodes come from slabs, the strings of
// up to strChunk bytes of keys and values share one allocation (a small
// answer's share the allocation of its Response), children lists are made
// at their exact length from the runs of nodes their level's allocator
// handed out (childList), and action names are interned. Node objects
// spelt as etcd writes them are read straight from the buffer (nodeFast).
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
	// stream is set for a watch stream's decoder: input that ends inside
	// a value is a broken stream (io.ErrUnexpectedEOF), not bad JSON.
	stream bool

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
	stack []*Node // elements of arrays that hold more than new nodes
	// lists are the node allocators of the "nodes" arrays being decoded,
	// one per nesting level (see nodes).
	lists []*childList
	nlist int    // how many of lists are in use
	key   []byte // the member name being matched
	num   []byte // the number being parsed
	depth int
}

// childList allocates the children of the "nodes" arrays at one nesting
// level. Only one array per level is open at a time, and the new children
// of that array come from free one after another, so they lie in runs of
// consecutive nodes of a few slabs: the array's children are those runs,
// and no list of pointers is built while the array is decoded.
type childList struct {
	free  []Node   // the rest of the level's current slab
	runs  [][]Node // the open array's earlier runs, in order
	run   []Node   // the slab tail where its current run started
	nrun  int      // the length of that run
	count int      // children in runs and run
	slabs int      // slabs made for this level in this answer
}

// alloc returns a new child of the level's open array.
func (l *childList) alloc() *Node {
	if len(l.free) == 0 {
		if l.nrun > 0 {
			l.runs = append(l.runs, l.run[:l.nrun])
		}
		size := maxSlab
		if l.slabs == 0 {
			// A first slab of a level is small: most arrays are.
			size = 8
		}
		l.slabs++
		l.free = make([]Node, size)
		l.run, l.nrun = l.free, 0
	}
	n := &l.free[0]
	l.free = l.free[1:]
	l.nrun++
	l.count++
	return n
}

// start opens an array at the level.
func (l *childList) start() {
	l.run, l.nrun, l.count = l.free, 0, 0
	l.runs = l.runs[:0]
}

// fill sets kids to the children allocated since start, in order.
func (l *childList) fill(kids Nodes) {
	i := 0
	for _, r := range l.runs {
		for j := range r {
			kids[i] = &r[j]
			i++
		}
	}
	for j := range l.run[:l.nrun] {
		kids[i] = &l.run[j]
		i++
	}
}

// end closes the level's array.
func (l *childList) end() {
	clear(l.runs)
	l.runs = l.runs[:0]
	l.run, l.nrun, l.count = nil, 0, 0
}

// dropNodes forgets the slabs and chunks of the nodes and strings handed
// out, so that the next answer makes its own.
func (d *keysDecoder) dropNodes() {
	d.chunk, d.slab, d.spare = nil, nil, nil
	for _, l := range d.lists {
		clear(l.runs)
		*l = childList{runs: l.runs[:0]}
	}
	d.nlist = 0
}

const (
	decodeBufSize = 32 << 10
	// strChunk is how many bytes of strings share one allocation, and
	// maxSlab the largest number of nodes allocated at once (42 nodes of
	// 96 bytes fill a 4 KiB size class). A node kept after the rest of its
	// answer is dropped keeps its slab, the strings of the slab's nodes and
	// the chunks those lie in alive: small slabs and chunks bound that (to
	// about 12 KiB for keys and values of a few dozen bytes) at the cost of
	// a few thousand allocations for 100,000 nodes instead of a few hundred.
	strChunk = 4 << 10
	maxSlab  = 42
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
	// The chunk and the slabs belong to the strings and nodes handed out.
	d.dropNodes()
	if len(d.lists) > 64 {
		// Lists nested this deep are rare: their allocators go.
		d.lists = nil
	}
	if cap(d.stack) > 64<<10 {
		d.stack = nil
	}
	keysDecoderPool.Put(d)
}

func (d *keysDecoder) reset(r io.Reader, body []byte, limit int64) {
	d.r, d.limit, d.read = r, limit, 0
	d.ioErr, d.eof = nil, false
	d.pos, d.nh, d.nslab, d.depth = 0, 0, 0, 0
	d.stack = d.stack[:0]
	d.dropNodes()
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

// decodeResponse decodes one answer into r and checks that only white
// space follows it.
func (d *keysDecoder) decodeResponse(r *Response) error {
	if err := d.responseValue(r); err != nil {
		return err
	}
	if c, ok := d.peek(); ok {
		return d.badChar(c, "after top-level value")
	}
	return d.ioErr
}

// responseValue decodes one answer (an object or null) into r.
func (d *keysDecoder) responseValue(r *Response) error {
	c, ok := d.peek()
	if !ok {
		return d.errEnd()
	}
	switch c {
	case '{':
		return d.responseObject(r)
	case 'n':
		return d.literal("null")
	}
	if err := d.skipValue(); err != nil {
		return err
	}
	return d.errorf("cannot unmarshal %s into a keys answer", kindOf(c))
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
		// Slabs grow from small (most answers have few nodes) to maxSlab.
		size := maxSlab
		switch d.nslab {
		case 0:
			size = 1
		case 1:
			size = 8
		}
		d.nslab++
		d.slab = make([]Node, size)
	}
	n := &d.slab[0]
	d.slab = d.slab[1:]
	return n
}

func (d *keysDecoder) node(n *Node) error {
	first := true
	if d.depth < maxDepth {
		done, some, err := d.nodeFast(n)
		if err != nil || done {
			return err
		}
		if some {
			// The members taken leave the input after a value, as the
			// loop below does; the object's level is counted as member
			// counts it for the first.
			d.depth++
			first = false
		}
	}
	if first {
		d.pos++ // '{'
	}
	for ; ; first = false {
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

// nodeFast takes the members of the node object at the input that are
// buffered and spelt as etcd writes them: a known name in exact case
// without white space around it or its ':', then a string (of printable
// ASCII without escapes taken at once, any other by stringField), an index
// of 1 to 19 digits, a literal true or false, or an expiration or ttl
// (decoded as node's loop does). It stops before anything else, at a
// member boundary: it reports whether it took the whole object (done) or
// some members (the input is then after the last value taken), and leaves
// the rest, which may be a syntax error, to node's loop. Its only errors
// are those of stringField, expiration and intField, which node's loop
// would return for the same value.
func (d *keysDecoder) nodeFast(n *Node) (done, some bool, err error) {
	buf := d.buf[:d.end]
	at := d.pos // where node's loop goes on
	i := at + 1 // after '{'
	for {
		f, m := nodeMember(buf, i)
		if m == 0 {
			break
		}
		j := i + m
		switch f {
		case fKey, fValue:
			if j >= len(buf) || buf[j] != '"' {
				goto out
			}
			dst := &n.Key
			if f == fValue {
				dst = &n.Value
			}
			if k := plainString(buf, j+1); k < len(buf) && buf[k] == '"' {
				*dst = d.keep(buf[j+1 : k])
				i = k + 1
			} else {
				// Escapes, non-ASCII or the end of the buffer: the
				// string scanner reads on as needed.
				d.pos = j
				if err := d.stringField(dst, false); err != nil {
					return false, false, err
				}
				buf, i = d.buf[:d.end], d.pos
			}
		case fModifiedIndex, fCreatedIndex:
			v, k, ok := plainUint(buf, j)
			if !ok {
				goto out
			}
			if f == fModifiedIndex {
				n.ModifiedIndex = v
			} else {
				n.CreatedIndex = v
			}
			i = k
		case fDir:
			switch {
			case len(buf)-j >= 4 && string(buf[j:j+4]) == "true":
				n.Dir = true
				i = j + 4
			case len(buf)-j >= 5 && string(buf[j:j+5]) == "false":
				n.Dir = false
				i = j + 5
			default:
				goto out
			}
		case fExpiration, fTTL:
			// Time and TTL as node's loop decodes them.
			d.pos = j
			var err error
			if f == fTTL {
				err = d.intField(&n.TTL)
			} else {
				err = d.expiration(n)
			}
			if err != nil {
				return false, false, err
			}
			buf, i = d.buf[:d.end], d.pos
		default:
			goto out
		}
		at, some = i, true
		if i >= len(buf) {
			break
		}
		if buf[i] == '}' {
			d.pos = i + 1
			return true, true, nil
		}
		if buf[i] != ',' {
			break
		}
		i++
	}
out:
	d.pos = at
	return false, some, nil
}

// The member names nodeFast matches a word at a time, little-endian.
var (
	wKey      = leWord(`"key":`)
	wValue    = leWord(`"value":`)
	wDir      = leWord(`"dir":`)
	wModified = leWord(`"modifie`)
	wModTail  = leWord(`dIndex":`)
	wCreated  = leWord(`"created`)
	wCreTail  = leWord(`Index":`)
)

func leWord(s string) uint64 {
	var b [8]byte
	copy(b[:], s)
	return binary.LittleEndian.Uint64(b[:])
}

// nodeMember is knownMember for a node's members at buf[i:], comparing
// whole words for the names etcd sends with every node.
func nodeMember(buf []byte, i int) (int, int) {
	if i+16 > len(buf) {
		return knownMember(buf[i:], inNode)
	}
	w := binary.LittleEndian.Uint64(buf[i:])
	const mask6, mask7 = 1<<48 - 1, 1<<56 - 1
	switch {
	case w&mask6 == wKey:
		return fKey, 6
	case w == wValue:
		return fValue, 8
	case w == wModified && binary.LittleEndian.Uint64(buf[i+8:]) == wModTail:
		return fModifiedIndex, 16
	case w == wCreated && binary.LittleEndian.Uint64(buf[i+8:])&mask7 == wCreTail:
		return fCreatedIndex, 15
	case w&mask6 == wDir:
		return fDir, 6
	}
	return knownMember(buf[i:], inNode)
}

// plainString returns the index of the first byte from i on in buf that
// a string does not hold as it is.
func plainString(buf []byte, i int) int {
	for i+8 <= len(buf) {
		if m := specialBytes(binary.LittleEndian.Uint64(buf[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(buf) && strSafe[buf[i]] {
		i++
	}
	return i
}

// plainUint parses a number of 1 to 19 digits without a leading zero at
// buf[i:], followed within buf by a byte that cannot continue a number.
// It returns the value and the index after the digits.
func plainUint(buf []byte, i int) (uint64, int, bool) {
	var v uint64
	k := i
	for k < len(buf) && k-i < 19 {
		c := buf[k] - '0'
		if c > 9 {
			break
		}
		v = v*10 + uint64(c)
		k++
	}
	if k == i || k >= len(buf) || buf[i] == '0' {
		return 0, 0, false
	}
	switch buf[k] {
	case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '.', 'e', 'E', '+', '-':
		return 0, 0, false
	}
	return v, k, true
}

// keep returns b as a string in the current chunk of strings.
func (d *keysDecoder) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(d.chunk)-len(d.chunk) < len(b) {
		if len(b) > strChunk/4 {
			return string(b)
		}
		d.chunk = make([]byte, 0, min(max(4*cap(d.chunk), 256), strChunk))
	}
	off := len(d.chunk)
	d.chunk = append(d.chunk, b...)
	return unsafe.String(&d.chunk[off], len(b))
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
	if d.nlist == len(d.lists) {
		d.lists = append(d.lists, new(childList))
	}
	l := d.lists[d.nlist]
	d.nlist++
	l.start()
	// New children come from l; the array's list of pointers is made at
	// its end from l's runs. An element that is not a new node (null, or
	// a node of an earlier list decoded into again) turns the array to
	// d.stack, which then holds all of its elements.
	base, stacked := len(d.stack), false
	// A repeated "nodes" member decodes into the children already there, as
	// encoding/json does: element i into the i-th node of the earlier list
	// (up to its capacity), within its array when the new list fits.
	old := n.Nodes[:cap(n.Nodes)]
	c, ok := d.peek()
	if !ok {
		return d.errEnd()
	}
	count := 0
	if c != ']' {
		for ; ; count++ {
			if c == '{' && count >= len(old) {
				child := l.alloc()
				if stacked {
					d.stack = append(d.stack, child)
				}
				if err := d.node(child); err != nil {
					return err
				}
			} else {
				if !stacked {
					stacked = true
					d.stack = slices.Grow(d.stack, l.count)
					d.stack = d.stack[:base+l.count]
					l.fill(d.stack[base:])
				}
				var child *Node
				if count < len(old) {
					child = old[count]
				}
				if err := d.nodePtr(&child); err != nil {
					return err
				}
				d.stack = append(d.stack, child)
			}
			if d.pos+1 < d.end && d.buf[d.pos] == ',' && d.buf[d.pos+1] == '{' {
				// The next element follows at once.
				d.pos++
				c = '{'
				continue
			}
			if c, ok = d.peek(); !ok {
				return d.errEnd()
			}
			if c == ']' {
				count++
				break
			}
			if c != ',' {
				return d.badChar(c, "after array element")
			}
			d.pos++
			if c, ok = d.peek(); !ok {
				return d.errEnd()
			}
		}
	}
	d.pos++ // ']'
	d.depth--
	d.nlist--
	var kids Nodes
	if count > 0 && count <= len(old) {
		kids = old[:count]
	} else {
		kids = make(Nodes, count)
	}
	if stacked {
		copy(kids, d.stack[base:])
		clear(d.stack[base:])
		d.stack = d.stack[:base]
	} else {
		l.fill(kids)
	}
	l.end()
	n.Nodes = kids
	return nil
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
	rn := d.newResponse()
	if err := d.decodeResponse(&rn.r); err != nil {
		return nil, err
	}
	return &rn.r, nil
}

// newResponse starts the objects of one answer: its Response, first node
// and first strings in one allocation, then slabs and chunks of its own.
func (d *keysDecoder) newResponse() *respNode {
	rn := new(respNode)
	d.spare = &rn.n
	d.chunk = rn.strs[:0]
	d.slab, d.nslab = nil, 0
	return rn
}

// eventBufSize is the read buffer of a stream's decoder: events are small,
// and one that is not is decoded as it comes in, not buffered whole.
const eventBufSize = 1 << 10

// newEventDecoder returns a decoder of the events a stream=true watch
// sends on r, one JSON object after another, for the stream's life.
func newEventDecoder(r io.Reader) *keysDecoder {
	d := &keysDecoder{own: make([]byte, eventBufSize), stream: true}
	d.reset(r, nil, 0)
	return d
}

// nextEvent decodes the next event of a stream. It returns io.EOF when the
// stream ends between events, io.ErrUnexpectedEOF when it ends inside one,
// the read error when reading fails, and a *decodeError when the event is
// not JSON or not a keys answer. Nothing is checked after the event: the
// next call reads on from there.
func (d *keysDecoder) nextEvent() (*Response, error) {
	if _, ok := d.peek(); !ok {
		if d.ioErr != nil {
			return nil, d.ioErr
		}
		return nil, io.EOF
	}
	rn := d.newResponse()
	err := d.responseValue(&rn.r)
	// What the event's nodes and strings were made from stays with them.
	d.dropNodes()
	if err != nil {
		return nil, err
	}
	return &rn.r, nil
}

// decodeKeysStream decodes a 200 or 201 keys answer from its body as it
// is read. Its errors are those of reading the whole body first and then
// decoding it: a failed or too large read, an empty body, then malformed
// JSON or a missing action.
func decodeKeysStream(ctx context.Context, resp *http.Response, ep, op, key, method, path string, limit int64) (*Response, error) {
	defer resp.Body.Close()
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
		return nil, readError(ctx, ep, op+" /"+key, d.ioErr)
	}
	if err != nil || r.Action == "" {
		detail := "no action"
		if err != nil {
			detail = err.Error()
		}
		return nil, newResponseError(ep, resp, d.snippet(), ErrInvalidJSON, detail)
	}
	return keysHeaders(&result{resp: resp, body: d.snippet(), endpoint: ep, method: method, path: path}, r)
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
