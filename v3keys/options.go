package v3keys

// Checks of keys and options before anything is sent: the same rules and
// the same wording as the v2 client (client/keys.go), so that a caller sees
// the same refusals on either backend, plus the limits of the v3 layout.

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meycoin/goetcd/client"
)

// canonicalKey checks a key and returns it without leading, trailing or
// doubled slashes ("" is the root); "." and ".." segments and invalid
// UTF-8 are refused, as the v2 client refuses them.
func canonicalKey(key string) (string, error) {
	if !utf8.ValidString(key) {
		return "", fmt.Errorf("client: key %q is not valid UTF-8", key)
	}
	k := strings.Trim(key, "/")
	if strings.Contains(k, "//") || strings.Contains(k, ".") {
		parts := strings.Split(k, "/")
		out := parts[:0]
		for _, p := range parts {
			switch p {
			case "":
				continue
			case ".", "..":
				return "", fmt.Errorf("client: key %q has a %q segment; dot segments are not allowed in keys (the server would resolve them to another key)", key, p)
			}
			out = append(out, p)
		}
		k = path.Join(out...)
	}
	if err := checkDepth(k); err != nil {
		return "", err
	}
	return k, nil
}

// ttlSeconds checks a TTL option and gives it in whole seconds; 0 means
// none.
func ttlSeconds(field string, ttl time.Duration) (int64, error) {
	switch {
	case ttl == 0:
		return 0, nil
	case ttl < 0:
		return 0, fmt.Errorf("client: %s is negative (%v); use 0 for no TTL", field, ttl)
	case ttl < time.Second:
		return 0, fmt.Errorf("client: %s %v is under one second; the server counts whole seconds and would take 0 as \"expire now\"", field, ttl)
	case ttl%time.Second != 0:
		return 0, fmt.Errorf("client: %s %v is not a whole number of seconds; the server counts whole seconds", field, ttl)
	}
	return int64(ttl / time.Second), nil
}

// checkUTF8 refuses text a v2 server could not give back as sent (it
// answers U+FFFD for each invalid byte); what names the text, which stays
// out of the error.
func checkUTF8(what, s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	return fmt.Errorf("client: %s is not valid UTF-8 (byte %#x at offset %d): etcd would answer it with U+FFFD in its place, so it could never be read back or compared as sent; encode binary data (e.g. base64) first", what, s[i], i)
}

// checkSet checks SetOptions the way the v2 client does and returns the TTL
// in seconds.
func checkSet(value string, o *client.SetOptions) (int64, error) {
	switch o.PrevExist {
	case client.PrevIgnore, client.PrevExist, client.PrevNoExist:
	default:
		return 0, fmt.Errorf("client: SetOptions.PrevExist is %q; use PrevIgnore, PrevExist or PrevNoExist", string(o.PrevExist))
	}
	if o.Dir && o.PrevValue != "" {
		return 0, errors.New("client: SetOptions.PrevValue cannot be used with Dir: a directory has no value to compare")
	}
	if o.Refresh && value != "" {
		return 0, errors.New("client: SetOptions.Refresh is set with a value; a refresh only resets the TTL, so the value must be empty")
	}
	if o.Refresh && o.TTL == 0 {
		return 0, errors.New("client: SetOptions.Refresh needs SetOptions.TTL")
	}
	if o.Refresh && o.Dir {
		return 0, errors.New("client: SetOptions.Refresh cannot be used with Dir")
	}
	if !o.Dir && !o.Refresh {
		if err := checkUTF8("the value", value); err != nil {
			return 0, err
		}
	}
	if err := checkUTF8("SetOptions.PrevValue", o.PrevValue); err != nil {
		return 0, err
	}
	return ttlSeconds("SetOptions.TTL", o.TTL)
}

// setClass is the retry class of a Set: the v2 client's table (creates,
// compare-and-swaps and directory creations are never resent).
func setClass(o *client.SetOptions) client.RequestClass {
	if o.PrevExist == client.PrevNoExist || o.PrevValue != "" || o.PrevIndex != 0 || (o.Dir && o.PrevExist != client.PrevExist) {
		return client.RequestOneShot
	}
	return client.RequestIdempotent
}

// setOpName names a Set in errors.
func setOpName(o *client.SetOptions) string {
	switch {
	case o.PrevExist == client.PrevNoExist:
		return "create"
	case o.PrevValue != "" || o.PrevIndex != 0:
		return "compare-and-swap"
	case o.Refresh:
		return "refresh"
	case o.PrevExist == client.PrevExist:
		return "update"
	}
	return "set"
}
