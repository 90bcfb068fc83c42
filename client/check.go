// The input checks of KeysAPI, exported for other backends of KeysAPI (such
// as v3keys) so that a caller meets the same refusals, with the same
// *InvalidArgumentError, whichever backend serves it.

package client

import "time"

// CanonicalKey checks key as every KeysAPI call does and returns it without
// leading, trailing or doubled slashes ("" is the root). A key with a "."
// or ".." segment or with invalid UTF-8 is refused with an
// *InvalidArgumentError (errors.Is(err, ErrInvalidArgument)).
func CanonicalKey(key string) (string, error) { return canonicalKey(key) }

// CheckSetOptions checks value and opts as KeysAPI.Set does (a nil opts is
// the zero value) and returns the TTL Set sends, in whole seconds (0: none;
// see TTLSeconds). Refusals are *InvalidArgumentError.
func CheckSetOptions(value string, opts *SetOptions) (ttl uint64, err error) {
	var o SetOptions
	if opts != nil {
		o = *opts
	}
	f, _, err := setForm(value, &o)
	if err != nil {
		return 0, err
	}
	if f.Ttl != nil {
		ttl = *f.Ttl
	}
	return ttl, nil
}

// TTLSeconds is the TTL in whole seconds that Set, Update and
// CreateInOrder send for ttl: 0 (no TTL) when ttl <= 0, else ttl rounded up
// to the next whole second, so that a key never lives shorter than asked.
func TTLSeconds(ttl time.Duration) uint64 {
	if s := ttlSeconds(ttl); s != nil {
		return *s
	}
	return 0
}

// CheckText refuses text that is not valid UTF-8 (etcd would answer it with
// U+FFFD in its place, so it could never be read back or compared as
// sent) with an *InvalidArgumentError naming field.
func CheckText(field, s string) error { return checkUTF8(field, s) }
