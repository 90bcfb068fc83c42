package main

import (
	"fmt"
	"maps"
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

// fakeLibrary is a library module made of local modules only (no network,
// stand-ins named like the real modules): its package imports
// example.com/used, example.com/yamlish and github.com/oapi-codegen/runtime,
// its test imports github.com/stretchr/testify, and its go.mod also
// requires golang.org/x/tools through a tool directive, the way a pinned
// generator does.
func fakeLibrary(t *testing.T) (lib string, replaces map[string]string) {
	t.Helper()
	dir := t.TempDir()
	replaces = map[string]string{
		"example.com/used":                filepath.Join(dir, "used"),
		"example.com/yamlish":             filepath.Join(dir, "yamlish"),
		"golang.org/x/tools":              filepath.Join(dir, "tools"),
		"github.com/oapi-codegen/runtime": filepath.Join(dir, "runtime"),
		"github.com/stretchr/testify":     filepath.Join(dir, "testify"),
	}
	files := map[string]string{}
	var require, replace strings.Builder
	for _, path := range slices.Sorted(maps.Keys(replaces)) {
		name := filepath.Base(replaces[path])
		files[name+"/go.mod"] = "module " + path + "\n\ngo 1.26.0\n"
		files[name+"/"+name+".go"] = "package " + name + "\n\n// X is used.\nconst X = 1\n"
		fmt.Fprintf(&require, "\t%s v0.0.0\n", path)
		fmt.Fprintf(&replace, "replace %s => ../%s\n\n", path, name)
	}
	files["tools/cmd/gen/main.go"] = "package main\n\nfunc main() {}\n"
	files["lib/go.mod"] = "module example.com/lib\n\ngo 1.26.0\n\ntool golang.org/x/tools/cmd/gen\n\nrequire (\n" +
		require.String() + ")\n\n" + replace.String()
	files["lib/client/client.go"] = `// Package client uses three modules.
package client

import (
	"example.com/used"
	"example.com/yamlish"
	"github.com/oapi-codegen/runtime"
)

// Sum is used.
const Sum = used.X + yamlish.X + runtime.X
`
	files["lib/client/client_test.go"] = `package client

import (
	"testing"

	"github.com/stretchr/testify"
)

func TestSum(t *testing.T) {
	if Sum != 3*testify.X {
		t.Fatal(Sum)
	}
}
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
// toolchain and run-time library, a YAML module and a test library in its
// graph, and each is reported; the repository's importers (client, v3keys)
// have none of them.
func TestImporterGraph(t *testing.T) {
	lib, replaces := fakeLibrary(t)
	g, err := importerGraph(lib, "example.com/lib/client", replaces)
	if err != nil {
		t.Fatal(err)
	}
	probs := strings.Join(g.problems(), "\n")
	for _, want := range []string{
		"golang.org/x/tools (the code generator's toolchain) is in the module graph, required by example.com/lib",
		"github.com/oapi-codegen/runtime (the code generator or its run-time library) is in the module graph",
		"github.com/stretchr/testify (a test library) is in the module graph",
		"YAML module example.com/yamlish is in the module graph",
	} {
		if !strings.Contains(probs, want) {
			t.Errorf("problems of the fake library's importer lack %q:\n%s", want, probs)
		}
	}
	if g.requires != len(replaces) {
		t.Errorf("the importer's graph shows %d requirements of the library, want %d", g.requires, len(replaces))
	}

	for _, pkg := range importedPackages {
		g, err = importerGraph(filepath.Join("..", "..", ".."), pkg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p := g.problems(); len(p) != 0 {
			t.Errorf("a program importing only %s:\n%s", pkg, strings.Join(p, "\n"))
		}
		if !slices.Contains(g.nodes, "github.com/hashicorp/go-retryablehttp") {
			t.Errorf("the graph of a program importing %s lacks go-retryablehttp, which the client imports: %q", pkg, g.nodes)
		}
	}
}
