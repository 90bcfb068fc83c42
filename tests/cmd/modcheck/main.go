// Command modcheck checks what the library module costs the programs that
// import it. It fails (exit 1) when
//
//   - the root go.mod requires a module that no package of the root module
//     (nor any of their tests) imports, e.g. a code generator pinned with a
//     `tool` directive, or a version left behind by one; or
//   - a fresh program that imports only github.com/meycoin/goetcd/client, or
//     only github.com/meycoin/goetcd/v3keys (a temporary module with a
//     replace to the repository, tidied), has in its module graph a module
//     of the code generator (any github.com/oapi-codegen module, its
//     run-time library included), of its toolchain (kin-openapi,
//     speakeasy-api, golang.org/x/tools, golang.org/x/mod), testify, or any
//     YAML module. A module in the graph takes part in minimal version
//     selection, so it can raise the importer's own version of it even when
//     no package of it is built.
//
// `make mod-check` (a step of `make test`) runs it from tests/ with -root ..
// It needs the go command and the Go module proxy (or a warm module cache).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// importedPackages are the packages a fresh importer imports, one importer
// each.
var importedPackages = []string{
	"github.com/meycoin/goetcd/client",
	"github.com/meycoin/goetcd/v3keys",
}

// forbiddenModules are module path prefixes that may not appear in an
// importer's module graph, with what they are.
var forbiddenModules = []struct{ prefix, what string }{
	{"github.com/oapi-codegen/", "the code generator or its run-time library"},
	{"github.com/getkin/kin-openapi", "the code generator's OpenAPI library"},
	{"github.com/speakeasy-api/", "the code generator's OpenAPI library"},
	{"golang.org/x/tools", "the code generator's toolchain"},
	{"golang.org/x/mod", "the code generator's toolchain"},
	{"github.com/stretchr/testify", "a test library"},
}

func main() {
	root := flag.String("root", "..", "the repository root (the library module)")
	flag.Parse()
	failed := false
	unused, err := unusedRequires(*root)
	if err != nil {
		fatal(err)
	}
	for _, p := range unused {
		fmt.Fprintf(os.Stderr, "modcheck: go.mod requires %s, which no package of the module (or its tests) imports\n", p)
		failed = true
	}
	var summary []string
	for _, pkg := range importedPackages {
		g, err := importerGraph(*root, pkg, nil)
		if err != nil {
			fatal(err)
		}
		for _, p := range g.problems() {
			fmt.Fprintf(os.Stderr, "modcheck: a program importing only %s: %s\n", pkg, p)
			failed = true
		}
		summary = append(summary, fmt.Sprintf("%s: %d modules", pkg, len(g.nodes)))
	}
	if failed {
		os.Exit(1)
	}
	fmt.Printf("modcheck: go.mod requires only imported modules; the module graph of a program importing only %s, none of the generator's, testify or YAML\n",
		strings.Join(summary, "; "))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "modcheck:", err)
	os.Exit(2)
}

// goCmd runs the go command in dir with workspaces off and returns its
// standard output.
func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s in %s: %v: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// unusedRequires returns the modules the go.mod in dir requires (directly
// or // indirect, tool directives included) that provide no package to the
// module's packages and their tests.
func unusedRequires(dir string) ([]string, error) {
	out, err := goCmd(dir, "mod", "edit", "-json")
	if err != nil {
		return nil, err
	}
	var mod struct {
		Require []struct{ Path string }
	}
	if err := json.Unmarshal(out, &mod); err != nil {
		return nil, fmt.Errorf("go mod edit -json: %w", err)
	}
	out, err = goCmd(dir, "list", "-deps", "-test", "-f", "{{with .Module}}{{.Path}}{{end}}", "./...")
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		used[p] = true
	}
	var unused []string
	for _, r := range mod.Require {
		if !used[r.Path] {
			unused = append(unused, r.Path)
		}
	}
	return unused, nil
}

// graph is the module graph of a fresh importer.
type graph struct {
	// requires is the number of requirements in the library's go.mod
	// that the importer's tidied go.mod lists.
	requires int
	// nodes are the module paths of the graph (not the importer's own).
	nodes []string
	// requiredBy maps each module path to the paths of the modules whose
	// go.mod requires it.
	requiredBy map[string][]string
}

// importerGraph makes a temporary module that imports pkg (of the module at
// root) and nothing else, tidies it with a replace to root (plus replaces,
// module path → directory, for modules that exist only locally) and
// returns its module graph.
func importerGraph(root, pkg string, replaces map[string]string) (*graph, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	out, err := goCmd(root, "list", "-m")
	if err != nil {
		return nil, err
	}
	lib := strings.TrimSpace(string(out))
	tmp, err := os.MkdirTemp("", "modcheck-importer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var gomod strings.Builder
	fmt.Fprintf(&gomod, "module example.com/importer\n\ngo 1.26.0\n\nreplace %s => %s\n", lib, root)
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range replaces {
			if !yield(p) {
				return
			}
		}
	}) {
		fmt.Fprintf(&gomod, "replace %s => %s\n", p, replaces[p])
	}
	src := fmt.Sprintf("package main\n\nimport _ %q\n\nfunc main() {}\n", pkg)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte(gomod.String()), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "main.go"), []byte(src), 0o644); err != nil {
		return nil, err
	}
	if _, err := goCmd(tmp, "mod", "tidy"); err != nil {
		return nil, err
	}
	out, err = goCmd(tmp, "mod", "graph")
	if err != nil {
		return nil, err
	}
	g := &graph{requiredBy: map[string][]string{}}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		from, to := modPath(f[0]), modPath(f[1])
		if to == "go" || to == "toolchain" {
			continue
		}
		if from == lib {
			g.requires++
		}
		g.requiredBy[to] = append(g.requiredBy[to], from)
		if !seen[to] && to != "example.com/importer" {
			seen[to] = true
			g.nodes = append(g.nodes, to)
		}
	}
	return g, nil
}

// modPath strips the @version of a `go mod graph` node.
func modPath(node string) string {
	p, _, _ := strings.Cut(node, "@")
	return p
}

// problems lists the modules of the graph that may not be there: those of
// forbiddenModules and every YAML module.
func (g *graph) problems() []string {
	var out []string
	for _, m := range g.nodes {
		by := strings.Join(g.requiredBy[m], ", ")
		for _, f := range forbiddenModules {
			if strings.HasPrefix(m, f.prefix) {
				out = append(out, fmt.Sprintf("%s (%s) is in the module graph, required by %s", m, f.what, by))
			}
		}
		if strings.Contains(strings.ToLower(m), "yaml") {
			out = append(out, fmt.Sprintf("YAML module %s is in the module graph, required by %s", m, by))
		}
	}
	return out
}
