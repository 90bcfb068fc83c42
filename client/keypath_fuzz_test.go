package client

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

var keySeeds = []string{
	"", "/", "foo", "/foo/", "//a//b///c/", "/sp/a b", "/x/%2F?#+&=;✓", "/v2/keys",
	"/a.b/.hidden/..x", "/a/../b", "../version", "/a/./b", "/a/..", "bad\xffutf8",
	"/%2e%2e/x", "/_hidden", "/\x00/\n", "/a\\..\\b", "/../../v2/members", "/..%2F..%2Fversion",
	"/日本/語", "/ /", "/.../x", "/?x=1", "/#frag", "/a;b=c", "/%", "/\u202e",
}

// FuzzCanonicalKey checks key canonicalisation. Invariants: a key is refused
// exactly when it is not valid UTF-8 or has a "." or ".." segment, with an
// error that quotes it; an accepted key comes back without leading, trailing
// or doubled slashes, with the same non-empty segments in order, canonical
// again (idempotent), and placed under /v2/keys it stays there when the
// path is cleaned as a server does.
func FuzzCanonicalKey(f *testing.F) {
	for _, k := range keySeeds {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		ck, err := canonicalKey(key)
		var segs []string
		dot := false
		for _, s := range strings.Split(key, "/") {
			switch s {
			case "":
				continue
			case ".", "..":
				dot = true
			}
			segs = append(segs, s)
		}
		wantErr := !utf8.ValidString(key) || dot
		if (err != nil) != wantErr {
			t.Fatalf("canonicalKey(%q) = %q, %v; want refusal %v", key, ck, err, wantErr)
		}
		if err != nil {
			var ia *InvalidArgumentError
			if !strings.HasPrefix(err.Error(), "client: invalid key: ") || !errors.As(err, &ia) || ia.Field != "key" || !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("refusal is not an invalid argument naming the key: %v", err)
			}
			return
		}
		if ck != strings.Join(segs, "/") {
			t.Fatalf("canonicalKey(%q) = %q, want %q", key, ck, strings.Join(segs, "/"))
		}
		if strings.HasPrefix(ck, "/") || strings.HasSuffix(ck, "/") || strings.Contains(ck, "//") {
			t.Fatalf("canonicalKey(%q) = %q is not canonical", key, ck)
		}
		if again, err := canonicalKey(ck); err != nil || again != ck {
			t.Fatalf("canonicalKey is not idempotent: %q -> %q -> %q, %v", key, ck, again, err)
		}
		full := defaultV2KeysPrefix + "/" + ck
		if ck == "" {
			full = defaultV2KeysPrefix
		}
		if c := path.Clean(full); c != full || !(c == defaultV2KeysPrefix || strings.HasPrefix(c, defaultV2KeysPrefix+"/")) {
			t.Fatalf("key %q: path %q cleans to %q, outside or moved within /v2/keys", key, full, c)
		}
	})
}

// FuzzKeyRequestPath sends a key through every KeysAPI call (and a watcher)
// over a transport that records the request. Invariants: a key is refused
// before anything is sent, or the request's path as the server decodes it
// from the request line is the keys prefix (below the endpoint's base path)
// followed by "/" and the canonical key, exactly: the key is neither cut
// nor changed, never leaves /v2/keys, and needs no redirect (the path is
// clean); the query carries only the options.
func FuzzKeyRequestPath(f *testing.F) {
	for i, k := range keySeeds {
		f.Add(k, uint8(i))
	}
	f.Fuzz(func(t *testing.T, key string, sel uint8) {
		tr := &cannedTransport{answers: []cannedAnswer{{status: 200, body: []byte(`{"action":"get","node":{"key":"/k","value":"v","modifiedIndex":5,"createdIndex":5}}`)}}}
		base, prefix := "", defaultV2KeysPrefix
		eps := []string{fuzzEndpoint}
		if sel&0x80 != 0 {
			base = "/etcd-proxy/x"
			eps = []string{fuzzEndpoint + base + "/"}
		}
		c := cannedClient(t, tr, Config{Endpoints: eps})
		kapi := NewKeysAPI(c)
		if sel&0x40 != 0 {
			prefix = "/custom/keys"
			kapi = NewKeysAPIWithPrefix(c, "custom/keys/")
		}
		ctx := fuzzCtx(t)
		var err error
		op := sel & 0x3f % 9
		switch op {
		case 0:
			_, err = kapi.Get(ctx, key, &GetOptions{Recursive: true})
		case 1:
			_, err = kapi.Set(ctx, key, "v", nil)
		case 2:
			_, err = kapi.Create(ctx, key, "v")
		case 3:
			_, err = kapi.Update(ctx, key, "v")
		case 4:
			_, err = kapi.Delete(ctx, key, &DeleteOptions{Recursive: true})
		case 5:
			_, err = kapi.CreateInOrder(ctx, key, "v", nil)
		case 6:
			_, err = kapi.Set(ctx, key, "", &SetOptions{Dir: true})
		case 7:
			_, err = kapi.Delete(ctx, key, &DeleteOptions{PrevValue: "v"})
		case 8:
			_, err = kapi.Watcher(key, &WatcherOptions{IdleTimeout: -1}).Next(ctx)
		}
		ck, kerr := canonicalKey(key)
		if kerr != nil {
			// The same refusal; CreateInOrder calls its key parameter dir.
			field := "key"
			if op == 5 {
				field = "dir"
			}
			var ia, kia *InvalidArgumentError
			if !errors.As(err, &ia) || !errors.As(kerr, &kia) || ia.Field != field || ia.Reason != kia.Reason {
				t.Fatalf("invalid key %q: call error %v, want %v with field %s", key, err, kerr, field)
			}
			if len(tr.reqs) != 0 {
				t.Fatalf("invalid key %q was sent: %v", key, tr.reqs[0].URL)
			}
			return
		}
		if err != nil {
			t.Fatalf("op %d on key %q: %v", op, key, err)
		}
		if len(tr.reqs) != 1 {
			t.Fatalf("op %d sent %d requests", op, len(tr.reqs))
		}
		req := tr.reqs[0]
		if req.URL.Host != "127.0.0.1:2379" {
			t.Fatalf("request went to %q", req.URL.Host)
		}
		// What the server sees: the request line, decoded.
		seen, perr := url.ParseRequestURI(req.URL.RequestURI())
		if perr != nil {
			t.Fatalf("request line %q does not parse: %v", req.URL.RequestURI(), perr)
		}
		want := base + prefix
		if ck != "" {
			want += "/" + ck
		}
		if seen.Path != want {
			t.Fatalf("key %q: the server decodes the path %q, want %q (request line %q)", key, seen.Path, want, req.URL.RequestURI())
		}
		if path.Clean(seen.Path) != seen.Path {
			t.Fatalf("key %q: path %q is not clean; the server would redirect", key, seen.Path)
		}
		for name := range seen.Query() {
			switch name {
			case "recursive", "prevExist", "prevValue", "wait", "dir":
			default:
				t.Fatalf("key %q: unexpected query parameter %q in %q", key, name, seen.RawQuery)
			}
		}
	})
}
