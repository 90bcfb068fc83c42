package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

// repoRoot is the repository's top directory, seen from tests/cli.
const repoRoot = "../.."

// buildProgram builds cmd/goetcdctl against the library in libDir, through
// a throwaway go.work that replaces the library module (the way the
// Makefile builds it), and returns the binary's path; with link false it
// only compiles the packages.
func buildProgram(t *testing.T, libDir, cmdDir string, link bool) string {
	t.Helper()
	dir := t.TempDir()
	work := filepath.Join(dir, "go.work")
	bin := filepath.Join(dir, "goetcdctl")
	build := []string{"build", "./..."}
	if link {
		build = []string{"build", "-o", bin, "."}
	}
	for _, args := range [][]string{
		{"work", "init", cmdDir},
		{"work", "edit", "-replace=github.com/meycoin/goetcd=" + libDir},
		build,
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = cmdDir
		cmd.Env = append(os.Environ(), "GOWORK="+work, "GOFLAGS=-mod=readonly")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin
}

func absPath(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runProgram runs the binary and returns what it printed and its exit code.
func runProgram(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// TestProgram builds the real goetcdctl and checks what only a process
// shows: exit codes, --debug that never prints a password, Ctrl-C ending a
// watch with exit 0, and the completion scripts.
func TestProgram(t *testing.T) {
	root := absPath(t, repoRoot)
	bin := buildProgram(t, root, filepath.Join(root, "cmd", "goetcdctl"), true)
	cl := etcdtest.StartCluster(t, etcdtest.ServerFor(t, "3.5"), 1)
	env := []string{"ETCDCTL_ENDPOINTS=" + cl.Endpoints()[0]}

	if r := runProgram(t, bin, env, "set", "/p/a", "1"); r.code != 0 || r.stdout != "1\n" {
		t.Errorf("set: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runProgram(t, bin, env, "get", "/p/missing"); r.code != 4 || !strings.HasPrefix(r.stderr, "Error:  100: Key not found (/p/missing)") {
		t.Errorf("get of a missing key: exit %d, stderr %q; want 4 and etcd's error", r.code, r.stderr)
	}
	r := runProgram(t, bin, env, "--debug", "--username", "root:s3cret-pw", "get", "/p/a")
	if r.code != 0 || !strings.Contains(r.stderr, "curl") || strings.Contains(r.stderr, "s3cret-pw") {
		t.Errorf("--debug: exit %d; stderr must show curl commands and never the password:\n%s", r.code, r.stderr)
	}
	// etcd hashes the password with bcrypt: give a loaded machine time.
	r = runProgram(t, bin, env, "--debug", "--timeout", "20s", "--total-timeout", "30s", "user", "add", "dave:p4ss-word")
	if r.code != 0 || strings.Contains(r.stderr+r.stdout, "p4ss-word") {
		t.Errorf("--debug user add: exit %d; the password must not be printed:\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}

	// Ctrl-C ends watch --forever with exit 0 once it waits.
	cmd := exec.Command(bin, "watch", "--forever", "/p/a")
	cmd.Env = append(os.Environ(), env...)
	var out syncBuffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, "the watch to print an event", func() bool {
		if strings.Contains(out.String(), "2\n") {
			return true
		}
		_ = runProgram(t, bin, env, "set", "/p/a", "2")
		return false
	})
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("watch after Ctrl-C: exit %d, want 0", code)
		}
	case <-time.After(waitTimeout):
		_ = cmd.Process.Kill()
		t.Fatal("watch did not end on Ctrl-C")
	}

	// TLS from the flags and from the ETCDCTL_* variables; without the CA
	// the server's certificate is refused.
	tlsCluster, ca, _ := etcdtest.StartTLSCluster(t, etcdtest.ServerFor(t, "3.5"))
	cert, key := ca.IssueClientCert(t, "app")
	tlsEnv := []string{"ETCDCTL_ENDPOINTS=" + tlsCluster.Endpoints()[0]}
	if r := runProgram(t, bin, tlsEnv, "--ca-file", ca.CertFile, "--cert-file", cert, "--key-file", key, "set", "/tls/a", "1"); r.code != 0 || r.stdout != "1\n" {
		t.Errorf("set over TLS with the flags: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runProgram(t, bin, append(tlsEnv, "ETCDCTL_CA_FILE="+ca.CertFile, "ETCDCTL_CERT_FILE="+cert, "ETCDCTL_KEY_FILE="+key), "get", "/tls/a"); r.code != 0 || r.stdout != "1\n" {
		t.Errorf("get over TLS with ETCDCTL_*_FILE: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runProgram(t, bin, tlsEnv, "--cert-file", cert, "--key-file", key, "get", "/tls/a"); r.code == 0 || !strings.Contains(r.stderr, "certificate") || !strings.Contains(r.stderr, tlsCluster.Endpoints()[0]) {
		t.Errorf("get over TLS without the CA: exit %d, stderr %q; want a failure naming the certificate and the endpoint", r.code, r.stderr)
	}

	for shell, want := range map[string]string{"bash": "complete -o bashdefault", "zsh": "#compdef goetcdctl", "fish": "complete -c goetcdctl"} {
		r := runProgram(t, bin, nil, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("completion %s: exit %d, output lacks %q:\n%.300s", shell, r.code, want, r.stdout)
		}
	}
	if _, err := exec.LookPath("bash"); err == nil {
		script := runProgram(t, bin, nil, "completion", "bash").stdout
		c := exec.Command("bash", "-n")
		c.Stdin = strings.NewReader(script)
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("the bash completion script does not parse: %v\n%s", err, out)
		}
	}
	if r := runProgram(t, bin, nil, "ls", "--generate-bash-completion"); r.code != 0 {
		t.Errorf("completion words: exit %d: %s", r.code, r.stderr)
	}
	if r := runProgram(t, bin, nil, "--generate-bash-completion"); !strings.Contains(r.stdout, "exec-watch") {
		t.Errorf("completion words lack the commands: %q", r.stdout)
	}
}

// pseudoVersion matches the library requirement of cmd/goetcdctl/go.mod.
var pseudoVersion = regexp.MustCompile(`(?m)^\s*github\.com/meycoin/goetcd v0\.0\.0-(\d{14})-([0-9a-f]{12})$`)

// TestInstallablePin checks what `go install .../cmd/goetcdctl@latest`
// relies on: cmd/goetcdctl/go.mod has no replace and requires the library
// by the pseudo-version of a commit of this repository's history (right
// hash prefix and commit time), and the program builds against the library
// as it was at that commit.
func TestInstallablePin(t *testing.T) {
	root := absPath(t, repoRoot)
	mod, err := os.ReadFile(filepath.Join(root, "cmd", "goetcdctl", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*replace\b`).Match(mod) {
		t.Fatal("cmd/goetcdctl/go.mod has a replace directive: go install ...@latest refuses such a module")
	}
	m := pseudoVersion.FindSubmatch(mod)
	if m == nil {
		t.Fatal("cmd/goetcdctl/go.mod does not require github.com/meycoin/goetcd by a pseudo-version of a commit")
	}
	stamp, short := string(m[1]), string(m[2])
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil && stderr.Len() > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(out)), err
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("NOT RUN: git is not installed, so the pinned library commit cannot be checked")
	}
	if shallow, _ := git("rev-parse", "--is-shallow-repository"); shallow == "true" {
		t.Skip("NOT RUN: the clone is shallow, so the pinned library commit " + short + " may be missing from it")
	}
	full, err := git("rev-parse", "--verify", "--quiet", short+"^{commit}")
	if err != nil {
		t.Fatalf("the library commit %s that cmd/goetcdctl/go.mod requires is not in this repository's history (git: %v)", short, err)
	}
	// The pseudo-version's time is the commit time in UTC.
	cmd := exec.Command("git", "show", "-s", "--format=%cd", "--date=format-local:%Y%m%d%H%M%S", full)
	cmd.Dir, cmd.Env = root, append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if when := strings.TrimSpace(string(out)); when != stamp {
		t.Fatalf("the pseudo-version's time %s is not the commit time %s (UTC) of %s", stamp, when, short)
	}
	lib := filepath.Join(t.TempDir(), "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("sh", "-c", fmt.Sprintf("git archive %s | tar -x -C %s", full, lib))
	archive.Dir = root
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", short, err, out)
	}
	buildProgram(t, lib, filepath.Join(root, "cmd", "goetcdctl"), false)
}
