// The keys decoder's scalars: literals, strings with escapes, numbers,
// expirations, skipping unknown values, and syntax errors.

package client

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

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
// non-ASCII byte.
func hasSpecial(x uint64) bool { return specialBytes(x) != 0 }

// specialBytes sets the high bit of the bytes of x (little-endian) that
// hasSpecial looks for. The lowest bit set is exact; bits above it may
// also be set for bytes that are not special.
func specialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	ctl := (x - ones*0x20) & ^x
	return ((quote-ones)&^quote | (slash-ones)&^slash | ctl | x) & highs
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
	if d.stream {
		return io.ErrUnexpectedEOF
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

func (d *keysDecoder) typeError(c byte, field string) error {
	off := d.offset()
	if err := d.skipValue(); err != nil {
		return err
	}
	return &decodeError{msg: fmt.Sprintf("cannot unmarshal %s into %s", kindOf(c), field), off: off}
}
