package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

// output is a `go test -json` output event of pkg.
func output(t *testing.T, pkg, test, line string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"Action": "output", "Package": pkg, "Test": test, "Output": line + "\n"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func report(t *testing.T, r etcdtest.VersionReport) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return etcdtest.VersionsMarker + string(b)
}

// run runs this command (the test binary re-executed as main) on input.
func run(t *testing.T, input string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainAsCommand$")
	cmd.Env = append(os.Environ(), "TESTSUMMARY_AS_MAIN=1")
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestMainAsCommand(t *testing.T) {
	if os.Getenv("TESTSUMMARY_AS_MAIN") != "" {
		main()
		os.Exit(0)
	}
}

func finalLine(t *testing.T, out string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// The summary line says which etcd versions ran, and for each one that never
// ran in any package, why.
func TestSummarySaysWhichVersionsRan(t *testing.T) {
	pass := `{"Action":"pass","Package":"p","Test":"TestA"}` + "\n"
	missing := "not installed: no /usr/bin/etcd"
	for _, tc := range []struct {
		name, input, want string
	}{
		{"both", output(t, "p", "TestA", report(t, etcdtest.VersionReport{Ran: []string{"3.5.35", "3.4.23"}})) + pass,
			"summary: 1 passed, 0 failed, 0 skipped; etcd 3.5.35 and 3.4.23 ran"},
		{"3.4 missing", output(t, "p", "TestA", report(t, etcdtest.VersionReport{Ran: []string{"3.5.35"}, Skipped: map[string]string{"3.4": missing}})) + pass,
			"summary: 1 passed, 0 failed, 0 skipped; etcd 3.5.35 ran; etcd 3.4 did not: " + missing},
		{"filtered in one test only", output(t, "p", "TestA", report(t, etcdtest.VersionReport{Ran: []string{"3.5.35", "3.4.23"}})) +
			output(t, "q", "TestB", report(t, etcdtest.VersionReport{Ran: []string{"3.5.35"}, Skipped: map[string]string{"3.4.23": "left out"}})) + pass,
			"summary: 1 passed, 0 failed, 0 skipped; etcd 3.5.35 and 3.4.23 ran"},
		{"no etcd", pass, "summary: 1 passed, 0 failed, 0 skipped; no etcd server ran"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, tc.input)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := finalLine(t, out); got != tc.want {
				t.Errorf("last line %q, want %q", got, tc.want)
			}
			if strings.Contains(out, etcdtest.VersionsMarker) {
				t.Errorf("the version reports are shown as output:\n%s", out)
			}
		})
	}
}
