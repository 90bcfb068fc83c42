package migrate_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/meycoin/goetcd/client"
)

// runCLI runs goetcdctl against the env's cluster to its end and returns
// its output (standard output and error together) and exit code.
func (e *env) runCLI(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	full := append([]string{"--no-sync", "--endpoints", strings.Join(e.cluster.Endpoints(), ","), "migrate", "--prefix", prefix}, args...)
	p := startProcess(t, bin, full...)
	<-p.done
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return p.out.String(), 0
	case errors.As(p.err, &ee):
		return p.out.String(), ee.ExitCode()
	}
	t.Fatalf("goetcdctl %q: %v", full, p.err)
	return "", 0
}

// TestMigrateCommand: goetcdctl migrate's dry run writes nothing and says
// what a copy would write; a prefix with other data is refused (exit 1);
// after a copy, --verify lists a planted difference by key (exit 6).
func TestMigrateCommand(t *testing.T) {
	e := newEnv(t)
	bin := buildGoetcdctl(t)
	seed(t, e.v2)

	out, code := e.runCLI(t, bin, "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run: the snapshot at index") || !strings.Contains(out, "holds 14 nodes; the copy would write 14 and delete 0") {
		t.Fatalf("--dry-run: exit %d\n%s", code, out)
	}
	if n := e.v3count(t, prefix+"/"); n != 0 {
		t.Fatalf("the dry run wrote %d keys", n)
	}

	out, code = e.runCLI(t, bin, "--verify")
	if code != 0 || !strings.Contains(out, "migrate: copied 14 nodes") || !strings.Contains(out, "verify: 0 differences") {
		t.Fatalf("migrate --verify: exit %d\n%s", code, out)
	}
	must(t)(e.v3.Set(ctx(t), "/app/a", "planted", nil))
	out, code = e.runCLI(t, bin, "--until-lag", "0", "--follow", "--verify")
	if code != 6 || !strings.Contains(out, "/app/a: value (source file of 1 bytes, target file of 7 bytes)") || !strings.Contains(out, "verify: 1 differences") {
		t.Fatalf("migrate --verify with a planted difference: exit %d\n%s", code, out)
	}

	other, _ := e.newV3(t, e.cluster.Endpoints(), "/foreign")
	must(t)(other.Set(ctx(t), "/x", "y", nil))
	full := []string{"--no-sync", "--endpoints", strings.Join(e.cluster.Endpoints(), ","), "migrate", "--prefix", "/foreign"}
	p := startProcess(t, bin, full...)
	<-p.done
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.ExitCode() != 1 || !strings.Contains(p.out.String(), "refusing to write there") {
		t.Fatalf("migrate into a prefix with other data: %v\n%s", p.err, p.out.String())
	}
	if _, err := other.Get(ctx(t), "/app", nil); !client.IsKeyNotFound(err) {
		t.Fatalf("Get /app under the refused prefix: %v, want 100", err)
	}
}
