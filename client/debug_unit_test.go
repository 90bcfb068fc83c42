package client

import (
	"bytes"
	"context"
	"io"
	"log/slog"
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

func TestSlogRecordsEachAttempt(t *testing.T) {
	sick, _ := countingServer(t, 500, `{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}`)
	healthy, _ := countingServer(t, 404, `{"errorCode":100,"message":"Key not found","cause":"/k","index":5}`)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := pinnedClient(t, Config{Logger: logger, Username: "root", Password: "hunter2"}, sick.URL, healthy.URL)
	_, err := NewKeysAPI(c).Get(context.Background(), "/k", nil)
	if !IsKeyNotFound(err) {
		t.Fatalf("err = %v", err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 attempt records, got:\n%s", buf.String())
	}
	for i, want := range []string{`"status":500`, `"status":404`} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], `"msg":"etcd attempt"`) || !strings.Contains(lines[i], `"latency"`) {
			t.Errorf("record %d = %s, want %s", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[0], `"etcd_code":300`) || !strings.Contains(lines[1], `"etcd_code":100`) || !strings.Contains(lines[1], `"attempt":2`) {
		t.Errorf("records lack codes or attempt numbers:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "hunter2") {
		t.Fatal("password in the log")
	}
}
