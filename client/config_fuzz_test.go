package client

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fuzzSecret is a password put into endpoint user info; no error may show it.
const fuzzSecret = "Pw9xSECRETq7"

// FuzzEndpoints checks endpoint validation (Config.Endpoints, SetEndpoints).
// Invariants: an accepted endpoint is http or https with a host, no user
// info, query or fragment, and no trailing slash; it is accepted again as
// itself (idempotent); New with it succeeds. When user info with a password
// is written into an endpoint, it is refused and the error never shows the
// password, whatever the rest of the endpoint looks like.
func FuzzEndpoints(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1:2379", "https://h:2379/base/", "localhost:2379", "127.0.0.1:2379", "ftp://h:1", "http://",
		"http://h:2379?x=1", "h", "http://h:", "http://[::1]:2379", "http://h:2379#f", "http://h:2379/a/b/",
		"http://%41:80", "http://h:99999", "http://h:2379/%2F/", "HTTP://H:1", "http://h:2379/a b",
	} {
		f.Add(s, uint8(0), "")
	}
	f.Add("h:2379", uint8(1), "")
	f.Add("h:2379/a/b@c", uint8(2), "")
	f.Add("h/x@y", uint8(3), "")
	f.Add("h:2379", uint8(4), "")
	f.Add("h:2379", uint8(1), "pa/ss#wo?rd")
	f.Add("h:2379", uint8(2), "p%zzassword")
	f.Fuzz(func(t *testing.T, ep string, mode uint8, pw string) {
		if m := mode % 5; m != 0 {
			if len(pw) < 8 || strings.Contains(pw, "@") {
				pw = fuzzSecret
			}
			prefix := []string{"", "http://", "https://", "//", ""}[m]
			mk := func(pw string) string {
				if m == 4 {
					return "root:" + pw + "@" + ep // no scheme at all
				}
				return prefix + "root:" + pw + "@" + ep
			}
			withPw := mk(pw)
			_, err := parseEndpoints([]string{withPw})
			if err == nil || !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("endpoint with user info %q: %v, want an invalid argument", withPw, err)
			}
			_, other := parseEndpoints([]string{mk(strings.Repeat("Z", len(pw)))})
			leaks := func(msg string) bool {
				q := strconv.Quote(pw)
				return strings.Contains(msg, pw) || strings.Contains(msg, q[1:len(q)-1])
			}
			if strings.Contains(ep, pw) || (other != nil && leaks(other.Error())) {
				return // the password is also part of the rest, or of the message's own words
			}
			if leaks(err.Error()) {
				t.Fatalf("the error shows the password %q: %v", pw, err)
			}
			if _, err := New(Config{Endpoints: []string{"http://ok:1", withPw}}); err == nil || leaks(err.Error()) {
				t.Fatalf("New: %v", err)
			}
			return
		}
		urls, err := parseEndpoints([]string{ep})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "client: invalid endpoint: ") || !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("error is not an invalid argument naming the endpoint: %v", err)
			}
			return
		}
		if len(urls) != 1 {
			t.Fatalf("%d URLs from one endpoint", len(urls))
		}
		u := urls[0]
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(u.Path, "/") {
			t.Fatalf("endpoint %q accepted as %#v", ep, u)
		}
		again, err := parseEndpoint(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("accepted endpoint %q -> %q is not accepted as itself: %v, %v", ep, u, again, err)
		}
		c, err := New(Config{Endpoints: []string{ep}})
		if err != nil {
			t.Fatalf("New refused what parseEndpoints accepted: %v", err)
		}
		if got := c.Endpoints(); len(got) != 1 || got[0] != u.String() {
			t.Fatalf("Endpoints() = %q, want [%q]", got, u)
		}
	})
}

// FuzzPeerURLs checks the peer URLs that MembersAPI.Add and Update check
// before sending. Invariants: accepted URLs are trimmed, sorted, of scheme
// http, https, unix or unixs, of the form host:port without user info,
// path, query or fragment; checking them again gives them back unchanged;
// refusals say which URL and why.
func FuzzPeerURLs(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1:2380", " https://[::1]:2380/ ", "unix://sock:1", "http://h", "http://h:2380/p",
		"http://u:p@h:1", "http://h:1?x", "ftp://h:1", "http://h:1,http://a:2", "", "%zz", "http://h:1#f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		in := strings.Split(list, ",")
		out, err := checkPeerURLs("peerURLs", in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "client: invalid peerURLs: ") || !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("error is not an invalid argument naming peerURLs: %v", err)
			}
			return
		}
		if len(out) != len(in) || !slices.IsSorted(out) {
			t.Fatalf("checkPeerURLs(%q) = %q", in, out)
		}
		for _, s := range out {
			if s != strings.TrimSpace(s) {
				t.Fatalf("untrimmed %q", s)
			}
			u, err := url.Parse(s)
			if err != nil {
				t.Fatalf("accepted %q does not parse: %v", s, err)
			}
			switch u.Scheme {
			case "http", "https", "unix", "unixs":
			default:
				t.Fatalf("accepted %q has scheme %q", s, u.Scheme)
			}
			if _, _, err := net.SplitHostPort(u.Host); err != nil {
				t.Fatalf("accepted %q has no host:port: %v", s, err)
			}
			if (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
				t.Fatalf("accepted %q is more than scheme://host:port", s)
			}
		}
		again, err := checkPeerURLs("peerURLs", out)
		if err != nil || !slices.Equal(again, out) {
			t.Fatalf("checking %q again gave %q, %v", out, again, err)
		}
	})
}
