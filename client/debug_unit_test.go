package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestCurlDebugRedactsCredentials(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okSetBody)
	}))
	defer s.Close()

	var buf bytes.Buffer
	curlMu.Lock()
	old := curlOut
	curlOut = &buf
	curlMu.Unlock()
	EnablecURLDebug()
	defer func() {
		DisablecURLDebug()
		curlMu.Lock()
		curlOut = old
		curlMu.Unlock()
	}()

	c := pinnedClient(t, Config{Username: "root", Password: "hunter2"}, s.URL)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ { // concurrent use must be race-free
		wg.Add(1)
		go func() {
			defer wg.Done()
			NewKeysAPI(c).Set(context.Background(), "/k", "v", nil)
		}()
	}
	wg.Wait()
	req, _ := http.NewRequest("PUT", s.URL+"/v2/auth/users/u", strings.NewReader(`{"user":"u","password":"hunter2"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("root", "hunter2")
	debugRequest(req)

	out := buf.String()
	if strings.Count(out, "curl -X PUT") != 9 {
		t.Fatalf("want 9 curl lines, got:\n%s", out)
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, "cm9vdDpodW50ZXIy") {
		t.Fatalf("credentials leaked into curl output:\n%s", out)
	}
	if !strings.Contains(out, `"password":"REDACTED"`) || !strings.Contains(out, "Authorization: REDACTED") {
		t.Fatalf("redaction markers missing:\n%s", out)
	}
	if !strings.Contains(out, "'value=v'") {
		t.Fatalf("form body not shown:\n%s", out)
	}
}

func TestRedactBody(t *testing.T) {
	for _, in := range []string{
		`{"user":"u","password":"pw1"}`,
		`{"user":"u","Password":"pw1","roles":null}`,
		`{"user":"u","password":"pw1"`, // unparsable
	} {
		if out := redactBody([]byte(in)); strings.Contains(out, "pw1") {
			t.Errorf("redactBody(%s) = %s", in, out)
		}
	}
	if out := redactBody([]byte("value=a&ttl=5")); out != "value=a&ttl=5" {
		t.Errorf("form body changed: %s", out)
	}
}
