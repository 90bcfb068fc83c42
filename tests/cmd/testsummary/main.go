// Command testsummary reads `go test -json` output on standard input, prints
// what a reader needs (failing tests' output, each package's result, skips),
// and ends with one summary line: "summary: N passed, N failed, N skipped",
// then which etcd versions the tests ran against and which they did not, and
// why (from the reports of etcdtest.Servers), e.g.
//
//	summary: 790 passed, 0 failed, 12 skipped; etcd 3.5.35 ran; etcd 3.4 did not: not installed: no /usr/bin/etcd (...)
//
// It exits 1 when anything failed or nothing ran.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	var passed, failed, skipped int
	var failures []string
	outputs := map[string][]string{} // package/test → output lines
	var versions versionTally
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	start := time.Now()
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Not an event (a build error or a message from a tool): show it.
			fmt.Println(string(line))
			continue
		}
		id := e.Package + " " + e.Test
		switch e.Action {
		case "output", "build-output":
			if versions.add(e.Output) {
				continue
			}
			outputs[id] = append(outputs[id], e.Output)
		case "pass":
			if e.Test != "" {
				passed++
			} else {
				fmt.Printf("ok   %s (%.1fs)\n", e.Package, e.Elapsed)
			}
			delete(outputs, id)
		case "skip":
			if e.Test != "" {
				skipped++
				fmt.Printf("skip %s %s: %s\n", e.Package, e.Test, lastLine(outputs[id]))
			} else {
				fmt.Printf("---  %s (no tests)\n", e.Package)
			}
			delete(outputs, id)
		case "fail", "build-fail":
			if e.Test != "" {
				failed++
				failures = append(failures, id)
			} else if e.Action == "build-fail" || !hasTestFailure(failures, e.Package) {
				// A package that failed without a failing test: build error,
				// panic in TestMain, timeout.
				failed++
				failures = append(failures, id+"(package)")
			}
			fmt.Printf("FAIL %s\n", id)
			for _, o := range outputs[id] {
				fmt.Print(o)
			}
			delete(outputs, id)
		}
	}
	sort.Strings(failures)
	if len(failures) > 0 {
		fmt.Println("\nfailed:")
		for _, f := range failures {
			fmt.Println("  " + f)
		}
	}
	fmt.Printf("(%s)\n", time.Since(start).Round(time.Second))
	fmt.Printf("summary: %d passed, %d failed, %d skipped; %s\n", passed, failed, skipped, versions)
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}

func hasTestFailure(failures []string, pkg string) bool {
	for _, f := range failures {
		if strings.HasPrefix(f, pkg+" ") {
			return true
		}
	}
	return false
}

func lastLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" && !strings.HasPrefix(s, "---") && !strings.HasPrefix(s, "=== ") {
			return s
		}
	}
	return ""
}

// versionTally gathers the etcd version reports of all test binaries: a
// version ran if it ran in any of them; one that never ran is listed with
// the reasons given for it.
type versionTally struct {
	ran     map[string]bool
	skipped map[string]map[string]bool // version → reasons
}

// add takes an output line; it reports whether it was a version report.
func (v *versionTally) add(line string) bool {
	js, ok := strings.CutPrefix(line, etcdtest.VersionsMarker)
	if !ok {
		return false
	}
	var r etcdtest.VersionReport
	if json.Unmarshal([]byte(js), &r) != nil {
		return false
	}
	if v.ran == nil {
		v.ran, v.skipped = map[string]bool{}, map[string]map[string]bool{}
	}
	for _, ver := range r.Ran {
		v.ran[ver] = true
	}
	for ver, why := range r.Skipped {
		if v.skipped[ver] == nil {
			v.skipped[ver] = map[string]bool{}
		}
		v.skipped[ver][why] = true
	}
	return true
}

func (v versionTally) String() string {
	if len(v.ran) == 0 && len(v.skipped) == 0 {
		return "no etcd server ran"
	}
	ran := sortedKeys(v.ran)
	s := "no etcd server ran"
	if len(ran) > 0 {
		s = "etcd " + ran[len(ran)-1] + " ran"
		if len(ran) > 1 {
			s = "etcd " + strings.Join(ran[:len(ran)-1], ", ") + " and " + ran[len(ran)-1] + " ran"
		}
	}
	for _, ver := range sortedKeys(v.skipped) {
		covered := false
		for _, r := range ran {
			covered = covered || r == ver || strings.HasPrefix(r, ver+".")
		}
		if !covered {
			s += "; etcd " + ver + " did not: " + strings.Join(sortedKeys(v.skipped[ver]), "; ")
		}
	}
	return s
}

// sortedKeys returns the keys of m in reverse order: the newest version first.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	return keys
}
