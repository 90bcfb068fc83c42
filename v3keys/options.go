package v3keys

// Checks of keys and options before anything is sent: the v2 client's own
// (client.CanonicalKey, CheckSetOptions, TTLSeconds, CheckText), so that a
// caller meets the same refusals on either backend, plus the limits of the
// v3 layout.

import (
	"github.com/meycoin/goetcd/client"
)

// canonicalKey is client.CanonicalKey within the depth the layout holds.
func canonicalKey(key string) (string, error) {
	k, err := client.CanonicalKey(key)
	if err != nil {
		return "", err
	}
	if err := checkDepth(k); err != nil {
		return "", err
	}
	return k, nil
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
