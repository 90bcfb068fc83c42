// Command testsummary reads `go test -json` output on standard input, prints
// what a reader needs (failing tests' output, each package's result, skips),
// and ends with one summary line: "summary: N passed, N failed, N skipped".
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
	fmt.Printf("summary: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
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
