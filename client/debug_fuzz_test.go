package client

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/meycoin/goetcd/generated"
)

// FuzzCurlRedaction renders requests that carry a password (a user create or
// password change as the client builds it, a JSON body with a top-level
// password member of any case next to fuzzed members, basic auth, a URL
// with user info) as curl commands. Invariants: the output is the same
// whatever the password is (so it says nothing about it, not even its
// length), it never contains the password, and it is shell-safe: a POSIX
// shell splits it back into curl, -X, the method, the redacted URL and the
// header and body words, byte for byte.
func FuzzCurlRedaction(f *testing.F) {
	f.Add(uint8(0), "u", "hunter22", []byte(`r1`))
	f.Add(uint8(1), "u", "hunter22", []byte(`{"user":"u","roles":["a'b"]}`))
	f.Add(uint8(1), "u", "p'\"\\\n$(x)", []byte(`{"password":"again","x":1}`))
	f.Add(uint8(2), "root", "pw", []byte(`{not json password`))
	f.Add(uint8(3), "u", "\xff\xfe", []byte(`{}`))
	f.Add(uint8(4), "u", "hunter22", []byte("value=a&b"))
	f.Fuzz(func(t *testing.T, mode uint8, user, pw string, extra []byte) {
		if pw == "" {
			return
		}
		render := func(pw string) (string, *http.Request) {
			var req *http.Request
			var err error
			switch mode % 5 {
			case 0, 3:
				// As AddUser and ChangePassword build it.
				body := generated.UserRequest{User: user, Password: &pw}
				if mode%5 == 3 {
					roles := strings.Split(string(extra), ",")
					body.Grant = &roles
				}
				req, err = generated.NewSetUserRequest(placeholderServer, "u", body)
			case 1, 2:
				// A JSON object with the password among fuzzed members.
				key := []string{"password", "Password", "PASSWORD", "pAsSwOrD"}[int(mode/5)%4]
				pj, _ := json.Marshal(pw)
				kj, _ := json.Marshal(key)
				rest := bytes.TrimSpace(extra)
				var b []byte
				if mode%5 == 1 && len(rest) > 0 && rest[0] == '{' {
					b = append(append(append(append([]byte("{"), kj...), ':'), pj...), ',')
					b = append(b, rest[1:]...)
				} else {
					b = append(append(append(append(append([]byte(`{`), kj...), ':'), pj...), '}'), rest...)
				}
				req, err = http.NewRequest(http.MethodPut, placeholderServer+"/v2/auth/users/u", bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
			case 4:
				// A keys write: the form carries no password, only the URL's user info does.
				req, err = http.NewRequest(http.MethodPut, placeholderServer+"/v2/keys/k", strings.NewReader(string(extra)))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth(user, pw)
			req.URL.User = url.UserPassword(user, pw)
			return curlCommand(req), req
		}
		out, req := render(pw)
		other, _ := render(strings.Repeat("\x00", len(pw)+1))
		if out != other {
			t.Fatalf("the curl line depends on the password:\n%s\n%s", out, other)
		}
		if len(pw) >= 4 && strings.Contains(out, pw) && !strings.Contains(other, pw) {
			t.Fatalf("the curl line shows the password %q:\n%s", pw, out)
		}
		words, ok := shellWords(out)
		if !ok {
			t.Fatalf("not shell-safe: %s", out)
		}
		want := []string{"curl", "-X", req.Method, req.URL.Redacted(), "-H", "Authorization: REDACTED"}
		if ct := req.Header.Get("Content-Type"); ct != "" {
			want = append(want, "-H", "Content-Type: "+ct)
		}
		if len(words) < len(want) {
			t.Fatalf("shell words %q, want at least %q", words, want)
		}
		for i := range want {
			if words[i] != want[i] {
				t.Fatalf("shell word %d is %q, want %q (line %s)", i, words[i], want[i], out)
			}
		}
		if rest := words[len(want):]; len(rest) != 0 && (len(rest) != 2 || rest[0] != "-d") {
			t.Fatalf("trailing words %q", rest)
		}
	})
}

// shellWords splits s as a POSIX shell would for words made of unquoted
// characters without specials, single-quoted strings and \' escapes, which
// is all curlCommand writes. ok is false for anything else.
func shellWords(s string) (words []string, ok bool) {
	var cur strings.Builder
	in := false // inside a word
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, false
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '\\':
			if i+1 >= len(s) || s[i+1] != '\'' {
				return nil, false
			}
			cur.WriteByte('\'')
			i++
			in = true
		case strings.IndexByte("\"$`;&|<>()*?[]#~=%\n\t!{}", c) >= 0 && !(c == '=' || c == '%'):
			return nil, false
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, true
}
