package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTree writes files (slash-separated path → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeLibrary is a library module made of local modules only (no network):
// its package imports example.com/used and example.com/yamlish, its go.mod
// also requires golang.org/x/tools (a stand-in of the real module) through a
// tool directive, the way a pinned generator does.
func fakeLibrary(t *testing.T) (lib string, replaces map[string]string) {
	t.Helper()
	dir := t.TempDir()
	replaces = map[string]string{
		"example.com/used":    filepath.Join(dir, "used"),
		"example.com/yamlish": filepath.Join(dir, "yamlish"),
		"golang.org/x/tools":  filepath.Join(dir, "tools"),
	}
	files := map[string]string{}
	for path, d := range replaces {
		name := filepath.Base(d)
		files[name+"/go.mod"] = "module " + path + "\n\ngo 1.26.0\n"
		files[name+"/"+name+".go"] = "package " + name + "\n\n// X is used.\nconst X = 1\n"
	}
	files["tools/cmd/gen/main.go"] = "package main\n\nfunc main() {}\n"
	files["lib/go.mod"] = `module example.com/lib

go 1.26.0

tool golang.org/x/tools/cmd/gen

require (
	example.com/used v0.0.0
	example.com/yamlish v0.0.0
	golang.org/x/tools v0.0.0
)

replace example.com/used => ../used

replace example.com/yamlish => ../yamlish

replace golang.org/x/tools => ../tools
`
	files["lib/client/client.go"] = `// Package client uses two modules.
package client

import (
	"example.com/used"
	"example.com/yamlish"
)

// Sum is used.
const Sum = used.X + yamlish.X
`
	writeTree(t, dir, files)
	return filepath.Join(dir, "lib"), replaces
}

// TestUnusedRequires: a module required only for a tool directive is
// flagged, the ones the package imports are not; and the repository's own
// go.mod passes.
func TestUnusedRequires(t *testing.T) {
	lib, _ := fakeLibrary(t)
	got, err := unusedRequires(lib)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"golang.org/x/tools"}) {
		t.Errorf("unused requires of the fake library = %q, want only golang.org/x/tools", got)
	}
	got, err = unusedRequires(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("the root go.mod requires modules nothing imports: %q", got)
	}
}

// TestImporterGraph: the fake library's importer has the generator's
// toolchain and a built YAML module in its graph, and both are reported;
// the repository's importer has neither.
func TestImporterGraph(t *testing.T) {
	lib, replaces := fakeLibrary(t)
	g, err := importerGraph(lib, "example.com/lib/client", replaces)
	if err != nil {
		t.Fatal(err)
	}
	probs := strings.Join(g.problems(), "\n")
	for _, want := range []string{"golang.org/x/tools (of the code generator's toolchain)", "YAML module example.com/yamlish is built into the program"} {
		if !strings.Contains(probs, want) {
			t.Errorf("problems of the fake library's importer lack %q:\n%s", want, probs)
		}
	}
	if g.requires != 3 {
		t.Errorf("the importer's graph shows %d requirements of the library, want 3", g.requires)
	}

	g, err = importerGraph(filepath.Join("..", "..", ".."), importedPackage, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := g.problems(); len(p) != 0 {
		t.Errorf("a program importing only %s:\n%s", importedPackage, strings.Join(p, "\n"))
	}
	if !slices.Contains(g.nodes, "github.com/hashicorp/go-retryablehttp") {
		t.Errorf("the importer's graph lacks go-retryablehttp, which the client imports: %q", g.nodes)
	}
}
