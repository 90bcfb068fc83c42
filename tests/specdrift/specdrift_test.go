// Package specdrift shows that the client's drift tests catch what they are
// for: a copy of the repository's root module gets an openapi.yaml with new
// parameters and form fields, its generated/ is rebuilt from it, and the
// client tests that hold the hand-built keys requests to the generated
// structs must fail, naming each new field.
package specdrift

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mutation adds text to openapi.yaml before or after anchor (which must
// occur count times); want is what the failing tests must then say.
type mutation struct {
	what   string
	anchor string
	count  int
	before bool
	add    string
	want   string
}

var mutations = []mutation{
	{what: "a query parameter of getKey and getKeysRoot (its definition)",
		anchor: "    Stream:\n      name: stream\n", count: 1, before: true,
		add: "    DriftQuery:\n      name: driftQuery\n      in: query\n      description: A parameter the request builders do not send.\n      schema:\n        type: string\n"},
	{what: "a query parameter of getKey and getKeysRoot",
		anchor: "        - $ref: '#/components/parameters/Stream'\n", count: 4,
		add:  "        - $ref: '#/components/parameters/DriftQuery'\n",
		want: "generated.GetKeyParams.DriftQuery"},
	{what: "a query parameter of deleteKey and deleteKeysRoot",
		anchor: "        - $ref: '#/components/parameters/DeletePrevIndex'\n", count: 2,
		add:  "        - name: driftDelete\n          in: query\n          description: A parameter the request builders do not send.\n          schema: {type: integer, format: uint64}\n",
		want: "generated.DeleteKeyParams.DriftDelete"},
	{what: "a form field of setKey",
		anchor: "        value:\n          type: string\n          description: The value of a file (may be empty).", count: 1, before: true,
		add:  "        driftForm:\n          type: boolean\n          description: A form field the request builder does not send.\n",
		want: "generated.SetKeyForm.DriftForm"},
	{what: "a form field of createInOrder",
		anchor: "        value:\n          type: string\n          description: Value of the new key (may be empty).", count: 1, before: true,
		add:  "        driftInOrder:\n          type: string\n          description: A form field CreateInOrder does not fill.\n",
		want: "generated.CreateInOrderForm.DriftInOrder"},
}

// driftTests are the client tests that must catch the mutations.
const driftTests = "^(TestKeysRequestsSendEveryGeneratedField|TestCreateInOrderFillsGeneratedForm)$"

func TestDriftTestsCatchNewSpecFields(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerates and builds a copy of the root module")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum", "oapi-codegen.yaml", "openapi.yaml", "tools/go.mod", "tools/go.sum"} {
		copyFile(t, filepath.Join(root, f), filepath.Join(dir, f))
	}
	for _, d := range []string{"api", "client", "generated", "internal"} {
		copyTree(t, filepath.Join(root, d), filepath.Join(dir, d))
	}

	spec, err := os.ReadFile(filepath.Join(dir, "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(spec)
	for _, m := range mutations {
		if n := strings.Count(s, m.anchor); n != m.count {
			t.Fatalf("%s: the anchor %q occurs %d times in openapi.yaml, want %d (the spec changed: update this test)", m.what, m.anchor, n, m.count)
		}
		if m.before {
			s = strings.ReplaceAll(s, m.anchor, m.add+m.anchor)
		} else {
			s = strings.ReplaceAll(s, m.anchor, m.anchor+m.add)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	// As `make generate` runs it: the generator pinned in tools/go.mod, with
	// the templates internal/genruntime/templates.sh makes from it.
	tmpl := exec.CommandContext(ctx, "sh", "internal/genruntime/templates.sh", ".gen/templates")
	tmpl.Dir = dir
	if out, err := tmpl.CombinedOutput(); err != nil {
		t.Fatalf("making the client templates: %v\n%s", err, out)
	}
	if out, err := goCmd(ctx, dir, "tool", "-modfile=tools/go.mod", "oapi-codegen", "-config", "oapi-codegen.yaml", "openapi.yaml"); err != nil {
		t.Fatalf("oapi-codegen on the mutated spec: %v\n%s", err, out)
	}
	gen, err := os.ReadFile(filepath.Join(dir, "generated", "generated.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"DriftQuery *", "DriftDelete *", "DriftForm *", "DriftInOrder *"} {
		if !bytes.Contains(gen, []byte(field)) {
			t.Fatalf("the generated code of the mutated spec has no field %q", field)
		}
	}

	out, err := goCmd(ctx, dir, "test", "-count=1", "-run", driftTests, "./client/")
	if err == nil {
		t.Fatalf("the drift tests pass on a spec with new fields:\n%s", out)
	}
	if strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]") {
		t.Fatalf("the client did not build against the mutated spec (the test must fail, not the build):\n%s", out)
	}
	t.Logf("on the mutated spec the drift tests fail as they must:\n%s", out)
	for _, m := range mutations {
		if m.want != "" && !strings.Contains(out, m.want) {
			t.Errorf("%s: the drift tests' output does not name %s:\n%s", m.what, m.want, out)
		}
	}
}

func goCmd(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	// The copy is its own module: no workspace, no flags of the caller's
	// that would change what is built.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		copyFile(t, path, filepath.Join(to, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
