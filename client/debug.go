// EnablecURLDebug: each request printed as a curl command with credentials
// redacted, and the error code peeked from an answer for logs.

package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// curlDebug is on while EnablecURLDebug is in force.
var curlDebug atomic.Bool

// curlOut is where the curl lines go; tests may swap it.
var (
	curlMu  sync.Mutex
	curlOut io.Writer = os.Stderr
)

// EnablecURLDebug makes every client print, to standard error, a curl
// command equivalent to each request it sends (each attempt and each
// redirect hop). Credentials are never printed: the Authorization header
// shows as REDACTED and password fields of request bodies are masked. It is
// safe to call at any time from any goroutine.
func EnablecURLDebug() { curlDebug.Store(true) }

// DisablecURLDebug stops what EnablecURLDebug started.
func DisablecURLDebug() { curlDebug.Store(false) }

// debugRequest prints req as a curl command if curl debugging is on.
func debugRequest(req *http.Request) {
	if !curlDebug.Load() {
		return
	}
	line := curlCommand(req)
	curlMu.Lock()
	fmt.Fprintln(curlOut, line)
	curlMu.Unlock()
}

// curlCommand renders req as a shell-safe curl command line with credentials
// redacted.
func curlCommand(req *http.Request) string {
	var b strings.Builder
	b.WriteString("curl -X ")
	b.WriteString(req.Method)
	b.WriteByte(' ')
	b.WriteString(shellQuote(req.URL.Redacted()))
	if req.Header.Get("Authorization") != "" {
		b.WriteString(" -H " + shellQuote("Authorization: REDACTED"))
	}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		b.WriteString(" -H " + shellQuote("Content-Type: "+ct))
	}
	if req.GetBody != nil && req.ContentLength != 0 {
		if body, err := req.GetBody(); err == nil {
			data, _ := io.ReadAll(body)
			body.Close()
			b.WriteString(" -d " + shellQuote(redactBody(data)))
		}
	}
	return b.String()
}

// redactBody masks every "password" member of a JSON body (user create and
// password change carry one); other bodies are printed as they are.
func redactBody(data []byte) string {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return string(data)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		if bytes.Contains(bytes.ToLower(data), []byte("password")) {
			return "REDACTED (unparsable body mentioning a password)"
		}
		return string(data)
	}
	masked := false
	for k := range m {
		if strings.EqualFold(k, "password") {
			m[k] = json.RawMessage(`"REDACTED"`)
			masked = true
		}
	}
	if !masked {
		return string(data)
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// peekErrorCode reads an error answer's etcd code for the log and puts the
// body back for the caller.
func peekErrorCode(resp *http.Response) int {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if e, ok := decodeKeysError(body); ok {
		return e.Code
	}
	return 0
}
