// Package etcdtest starts real etcd servers with the v2 API enabled, so the
// client can be tested against the wire behaviour of every server version it
// supports instead of against a fake.
//
// Three versions are available: etcd 3.5.35, built from the Go module proxy
// (./cmd/etcd) and cached outside the repository, Debian's etcd 3.4 at
// /usr/bin/etcd when it is installed, and etcd 3.6.17 (built from the proxy
// too, by the module in ../etcd36), which serves no v2 API: Servers lists
// the servers of the v2 API, V3Servers those the v3 backend runs on.
package etcdtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version35 is the etcd 3.5 release built from ./cmd/etcd; go.mod pins it.
const Version35 = "3.5.35"

// Version36 is the etcd 3.6 release built from ../etcd36; its go.mod pins
// it.
const Version36 = "3.6.17"

// DebianEtcdPath is where Debian's etcd-server package installs the binary.
const DebianEtcdPath = "/usr/bin/etcd"

// VersionsEnv restricts Servers to some versions: a comma- or space-separated
// list of version prefixes such as "3.5" or "3.4,3.5.35". Empty means all.
const VersionsEnv = "GOETCD_ETCD_VERSIONS"

// Server is one etcd binary that can be started by StartCluster.
type Server struct {
	// Version is the full server version reported by `etcd --version`,
	// e.g. "3.5.35"; it is what GET /version answers in "etcdserver".
	Version string
	// Path is the absolute path of the etcd executable.
	Path string
}

// String names the server in subtest names and failure messages.
func (s Server) String() string { return "etcd-" + s.Version }

// HasV2 reports whether the server serves the v2 API (--enable-v2): 3.5
// and older do, 3.6 and later do not.
func (s Server) HasV2() bool {
	var major, minor int
	if _, err := fmt.Sscanf(s.Version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major < 3 || (major == 3 && minor < 6)
}

// Servers returns every etcd server the tests should run against, 3.5 first,
// filtered by GOETCD_ETCD_VERSIONS. It builds 3.5 on first use (about 40 s
// with an empty build cache; `go run ./cmd/buildetcd` does that up front) and
// skips the test when the filter leaves nothing. It reports which versions
// the tests run against and why the others do not (see VersionsMarker).
func Servers(t testing.TB) []Server {
	t.Helper()
	filter := versionFilter()
	report := VersionReport{Skipped: map[string]string{}}
	leftOut := fmt.Sprintf("left out by %s=%q", VersionsEnv, os.Getenv(VersionsEnv))
	var servers []Server
	if filter.allows(Version35) {
		path, err := build35.build(t.Context())
		if err != nil {
			t.Fatalf("etcdtest: %v", err)
		}
		servers = append(servers, Server{Version: Version35, Path: path})
	} else {
		report.Skipped[Version35] = leftOut
	}
	switch s, why := debianServer(); {
	case why != "":
		report.Skipped["3.4"] = why
	case filter.allows(s.Version):
		servers = append(servers, s)
	default:
		report.Skipped[s.Version] = leftOut
	}
	return reportRan(t, servers, report, "etcd server")
}

// VersionsMarker starts the line Servers prints on standard output (once
// per different report in a test binary): "etcdtest-versions: " and a
// VersionReport in JSON. cmd/testsummary gathers them from `go test -json`
// into its summary line, so that a run that could not test a version says
// so.
const VersionsMarker = "etcdtest-versions: "

// VersionReport says which etcd versions tests ran against and, for each
// version (or version prefix) they did not, why.
type VersionReport struct {
	Ran     []string          `json:"ran"`
	Skipped map[string]string `json:"skipped,omitempty"`
}

var printedReports sync.Map // JSON of a VersionReport -> true

func (r VersionReport) print() {
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	if _, dup := printedReports.LoadOrStore(string(b), true); !dup {
		fmt.Printf("%s%s\n", VersionsMarker, b)
	}
}

// V3Servers returns the servers the v3 backend is tested on: etcd 3.5.35
// and 3.6.17, building each on first use, filtered by GOETCD_ETCD_VERSIONS;
// it skips the test when the filter leaves nothing.
func V3Servers(t testing.TB) []Server {
	t.Helper()
	filter := versionFilter()
	var servers []Server
	for _, b := range []*builder{&build35, &build36} {
		if !filter.allows(b.version) {
			continue
		}
		path, err := b.build(t.Context())
		if err != nil {
			t.Fatalf("etcdtest: %v", err)
		}
		servers = append(servers, Server{Version: b.version, Path: path})
	}
	return reportRan(t, servers, VersionReport{}, "v3 server")
}

// reportRan prints report with the versions of servers as those that ran,
// and skips t when there are none (what names the servers looked for).
func reportRan(t testing.TB, servers []Server, report VersionReport, what string) []Server {
	t.Helper()
	for _, s := range servers {
		report.Ran = append(report.Ran, s.Version)
	}
	report.print()
	if len(servers) == 0 {
		t.Skipf("etcdtest: no %s matches %s=%q", what, VersionsEnv, os.Getenv(VersionsEnv))
	}
	return servers
}

// ServerFor returns the first server from Servers whose version starts with
// prefix (e.g. "3.5"), for tests that need one particular version. It skips
// the test when that version is unavailable or filtered out.
func ServerFor(t testing.TB, prefix string) Server {
	t.Helper()
	for _, s := range Servers(t) {
		if versionHasPrefix(s.Version, prefix) {
			return s
		}
	}
	t.Skipf("etcdtest: no etcd %s available (filter %s=%q)", prefix, VersionsEnv, os.Getenv(VersionsEnv))
	return Server{}
}

type versionList []string

func versionFilter() versionList {
	return strings.FieldsFunc(os.Getenv(VersionsEnv), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t'
	})
}

func (l versionList) allows(version string) bool {
	if len(l) == 0 {
		return true
	}
	for _, p := range l {
		if versionHasPrefix(version, p) {
			return true
		}
	}
	return false
}

// versionHasPrefix matches whole components so that "3.4" does not select a
// hypothetical "3.40.0".
func versionHasPrefix(version, prefix string) bool {
	prefix = strings.TrimPrefix(strings.TrimSuffix(prefix, "."), "v")
	return version == prefix || strings.HasPrefix(version, prefix+".")
}

var debian struct {
	once   sync.Once
	server Server
	why    string
}

// debianServer returns Debian's etcd only when it really is 3.4 (a later
// Debian release may ship 3.6, which has no v2 API); otherwise it says why
// there is none.
func debianServer() (Server, string) {
	debian.once.Do(func() {
		if _, err := os.Stat(DebianEtcdPath); err != nil {
			debian.why = "not installed: no " + DebianEtcdPath + " (Debian's etcd-server package; .ci/run installs it)"
			return
		}
		v, err := binaryVersion(context.Background(), DebianEtcdPath)
		switch {
		case err != nil:
			debian.why = err.Error()
		case !versionHasPrefix(v, "3.4"):
			debian.why = fmt.Sprintf("%s is etcd %s, not 3.4 (3.6 and later have no v2 API)", DebianEtcdPath, v)
		default:
			debian.server = Server{Version: v, Path: DebianEtcdPath}
		}
	})
	return debian.server, debian.why
}

// binaryVersion runs `etcd --version` and extracts "etcd Version: X".
func binaryVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", path, err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "etcd Version:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s --version: no version line in %q", path, out)
}

// builder builds and caches one etcd release from a module of the tests
// (a main package calling etcdmain.Main).
type builder struct {
	version string
	// dir is the module's directory relative to the tests module, and pkg
	// the main package inside it.
	dir, pkg string

	mu   sync.Mutex
	path string
}

var (
	build35 = builder{version: Version35, dir: ".", pkg: "./cmd/etcd"}
	build36 = builder{version: Version36, dir: "etcd36", pkg: "."}
)

// Build35 returns the path of the cached etcd 3.5.35 binary, building it
// first if needed. The binary lives in os.UserCacheDir()/goetcd under a name
// that includes a hash of tests/go.sum and the Go version, because both the
// dependency set and the toolchain change server behaviour (the Go 1.22
// ServeMux answers 307 where older ones answer 301). Concurrent test binaries
// serialise on a lock file and the result is renamed into place atomically,
// so a half-written binary is never visible.
func Build35(ctx context.Context) (string, error) { return build35.build(ctx) }

// Build36 is Build35 for etcd 3.6.17, built from the module in ../etcd36
// (cached under a hash of its go.sum).
func Build36(ctx context.Context) (string, error) { return build36.build(ctx) }

func (b *builder) build(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.path != "" {
		return b.path, nil
	}
	path, err := b.buildLocked(ctx)
	if err != nil {
		return "", fmt.Errorf("building etcd %s: %w", b.version, err)
	}
	b.path = path
	return path, nil
}

func (b *builder) buildLocked(ctx context.Context) (string, error) {
	testsDir, err := testsModuleDir()
	if err != nil {
		return "", err
	}
	modDir := filepath.Join(testsDir, b.dir)
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	goSum, err := os.ReadFile(filepath.Join(modDir, "go.sum"))
	if err != nil {
		return "", err
	}
	goVersion, err := exec.CommandContext(ctx, goTool, "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	sum := sha256.Sum256(append(append(goSum, 0), bytes.TrimSpace(goVersion)...))

	cacheRoot, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheRoot, "goetcd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	final := filepath.Join(dir, fmt.Sprintf("etcd-%s-%x", b.version, sum[:6]))
	if cachedBinaryOK(ctx, final, b.version) {
		return final, nil
	}

	// Without the lock, parallel test packages on a 2-core machine would
	// each spend a minute building the same binary.
	unlock, err := lockFile(ctx, filepath.Join(dir, ".build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if cachedBinaryOK(ctx, final, b.version) {
		return final, nil
	}

	tmpDir, err := os.MkdirTemp(dir, ".build-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "etcd")
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", tmp, b.pkg)
	cmd.Dir = modDir
	// The caller's GOFLAGS (say -race) must not change a binary that is
	// cached under a name that does not mention them.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s in %s: %w\n%s", b.pkg, modDir, err, out)
	}
	if v, err := binaryVersion(ctx, tmp); err != nil {
		return "", err
	} else if v != b.version {
		return "", fmt.Errorf("%s in %s built version %q, want %q (check its go.mod)", b.pkg, modDir, v, b.version)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	return final, nil
}

// cachedBinaryOK also runs the binary, so that a truncated file left by a
// crashed machine is rebuilt rather than trusted forever.
func cachedBinaryOK(ctx context.Context, path, version string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return false
	}
	v, err := binaryVersion(ctx, path)
	return err == nil && v == version
}

// testsModuleDir finds tests/ from this source file, which works under
// `go test` and `go run`; with -trimpath the file name is not a real path, so
// it falls back to the module containing the working directory.
func testsModuleDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Dir(filepath.Dir(file))
		if isTestsModule(dir) {
			return dir, nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		dir := filepath.Dir(strings.TrimSpace(string(out)))
		if isTestsModule(dir) {
			return dir, nil
		}
	}
	return "", errors.New("cannot locate the github.com/meycoin/goetcd/tests module; run from inside tests/")
}

func isTestsModule(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.TrimSpace(line) == "module github.com/meycoin/goetcd/tests" {
			return true
		}
	}
	return false
}

var helpText sync.Map // etcd path -> `etcd --help` output

// supportsFlag asks the binary itself rather than keying off the version,
// because Debian and upstream backport flags differently.
func supportsFlag(path, flag string) bool {
	v, ok := helpText.Load(path)
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// etcd exits non-zero after --help on some versions; the text is all we need.
		out, _ := exec.CommandContext(ctx, path, "--help").CombinedOutput()
		v, _ = helpText.LoadOrStore(path, string(out))
	}
	return regexp.MustCompile(`(?m)^\s*--` + regexp.QuoteMeta(flag) + `(\s|=|$)`).MatchString(v.(string))
}
