package command

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/urfave/cli"
)

func TestWireResponse(t *testing.T) {
	exp := time.Date(2026, 11, 29, 4, 21, 22, 680626466, time.UTC)
	cases := []struct {
		name string
		resp *client.Response
		want string
	}{
		{"key", &client.Response{Action: "get", Node: &client.Node{Key: "/a", Value: "1", CreatedIndex: 4, ModifiedIndex: 4}},
			`{"action":"get","node":{"key":"/a","value":"1","modifiedIndex":4,"createdIndex":4}}`},
		{"empty value kept", &client.Response{Action: "set", Node: &client.Node{Key: "/e", CreatedIndex: 5, ModifiedIndex: 5}},
			`{"action":"set","node":{"key":"/e","value":"","modifiedIndex":5,"createdIndex":5}}`},
		{"root listing", &client.Response{Action: "get", Node: &client.Node{Dir: true, Nodes: client.Nodes{{Key: "/d", Dir: true, CreatedIndex: 7, ModifiedIndex: 7}}}},
			`{"action":"get","node":{"dir":true,"nodes":[{"key":"/d","dir":true,"modifiedIndex":7,"createdIndex":7}]}}`},
		{"delete has no value", &client.Response{Action: "delete", Node: &client.Node{Key: "/c", CreatedIndex: 23, ModifiedIndex: 24}, PrevNode: &client.Node{Key: "/c", Value: "q", CreatedIndex: 23, ModifiedIndex: 23}},
			`{"action":"delete","node":{"key":"/c","modifiedIndex":24,"createdIndex":23},"prevNode":{"key":"/c","value":"q","modifiedIndex":23,"createdIndex":23}}`},
		{"ttl", &client.Response{Action: "set", Node: &client.Node{Key: "/t", Value: "a&b", Expiration: &exp, TTL: 5, CreatedIndex: 9, ModifiedIndex: 9}},
			`{"action":"set","node":{"key":"/t","value":"a\u0026b","expiration":"2026-11-29T04:21:22.680626466Z","ttl":5,"modifiedIndex":9,"createdIndex":9}}`},
		{"no node", &client.Response{Action: "set"}, `{"action":"set"}`},
	}
	for _, c := range cases {
		if got := mustJSON(wireResponse(c.resp)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestExecWatchArgs(t *testing.T) {
	cases := []struct {
		args    []string
		key     string
		argv    string
		wantErr bool
	}{
		{args: []string{"/k", "--", "sh", "-c", "echo hi"}, key: "/k", argv: "sh|-c|echo hi"},
		{args: []string{"echo", "hi", "/k"}, key: "/k", argv: "echo|hi"},
		{args: []string{"/k"}, wantErr: true},
		{args: []string{"/k", "--"}, wantErr: true},
	}
	for _, c := range cases {
		key, argv, err := execWatchArgs(cli.Args(c.args))
		if (err != nil) != c.wantErr || key != c.key || strings.Join(argv, "|") != c.argv {
			t.Errorf("%q: got %q %q %v", c.args, key, argv, err)
		}
	}
}

func TestCanonicalPath(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/a/*": "/a/*", "a": "/a", "/a//b/": "/a/b/", "/a/../b": "/b", "/": "/"} {
		if got := canonicalPath(in); got != want {
			t.Errorf("canonicalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExportDocument(t *testing.T) {
	tree := &client.Node{Key: "/x", Dir: true, Nodes: client.Nodes{
		{Key: "/x/a", Value: "1", TTL: 30},
		{Key: "/x/q", Dir: true, Nodes: client.Nodes{{Key: "/x/q/00000000000000000015", Value: "job"}}},
		{Key: "/x/empty", Dir: true},
	}}
	doc := exportDoc{Format: exportFormat, Prefix: "/x", Index: 20, Nodes: flatten(nil, tree)}
	var b bytes.Buffer
	total := 0
	if err := writeExport(&b, doc, func(n int) { total += n }); err != nil {
		t.Fatal(err)
	}
	var back exportDoc
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	if total != 5 || len(back.Nodes) != 5 || back.Index != 20 || back.Prefix != "/x" {
		t.Fatalf("round trip: %d written, %+v", total, back)
	}
	q := back.Nodes[3]
	if !q.InOrder || q.Value != "job" || back.Nodes[1].TTL != 30 || !back.Nodes[4].Empty || back.Nodes[0].Empty {
		t.Errorf("nodes: %s", b.String())
	}
	rebase(&back, "/y/")
	if back.Prefix != "/y" || back.Nodes[3].Key != "/y/q/00000000000000000015" {
		t.Errorf("rebase: %+v %+v", back.Prefix, back.Nodes[3])
	}
}

// runLocal runs a command line that never reaches a cluster.
func runLocal(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = Run(context.Background(), Env{Args: append([]string{"goetcdctl"}, args...), Stdout: &o, Stderr: &e,
		Getenv: func(string) string { return "" }})
	return o.String(), e.String(), code
}

func TestRunWithoutCluster(t *testing.T) {
	cases := []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{args: []string{"--version"}, code: 0, out: "goetcdctl version: " + Version},
		{args: []string{"bogus"}, code: 3, errIn: "No help topic for 'bogus'"},
		{args: []string{"get", "--bogus"}, code: 1, out: "Incorrect Usage", errIn: "flag provided but not defined: -bogus"},
		{args: []string{"-o", "yaml", "get", "/a"}, code: 1, errIn: "Unsupported output format"},
		{args: []string{"completion", "tcsh"}, code: 1, errIn: "no completion for shell"},
		{args: []string{"completion", "fish"}, code: 0, out: "complete -c goetcdctl"},
		{args: []string{"role", "grant", "--path", "a//b", "--read", "r"}, code: 1, errIn: "Not canonical path; please use `--path=/a/b`"},
		{args: []string{"user", "grant", "u"}, code: 1, errIn: "No roles specified"},
		{args: []string{"member", "add", "x"}, code: 1, errIn: "Provide a name and a single member peerURL"},
		{args: []string{"--cert-file", "/nonexistent", "get", "/a"}, code: 1, errIn: "--cert-file and --key-file go together"},
		{args: []string{"--ca-file", "/nonexistent/ca.pem", "get", "/a"}, code: 1, errIn: "reading --ca-file"},
	}
	for _, c := range cases {
		out, errOut, code := runLocal(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errIn) {
			t.Errorf("%q: exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout with %q, stderr with %q", c.args, code, out, errOut, c.code, c.out, c.errIn)
		}
		if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "*client.") {
			t.Errorf("%q: stderr shows Go internals: %q", c.args, errOut)
		}
	}
}

func TestImportRefusesWhatIsNotAnExport(t *testing.T) {
	for in, want := range map[string]string{
		"":   "the input is empty",
		"{":  "ends in the middle",
		"{]": "invalid JSON at byte 2",
		`{"goetcdctlExport":1,"nodes":[{"key":"/a","ttl":"x"}]}`: "nodes.ttl is a JSON string",
		`{"goetcdctlExport":2,"nodes":[]}`:                       "not a goetcdctl export of format 1",
		`{"goetcdctlExport":1,"nodes":[{"key":"a"}]}`:            "without an absolute key",
	} {
		r := &runner{env: Env{Stdin: strings.NewReader(in)}}
		_, err := r.readExport("")
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "int64") || strings.Contains(err.Error(), "Go ") {
			t.Errorf("%q: got %v, want an error with %q and no Go type", in, err, want)
		}
	}
}

func TestPasswordFromPipe(t *testing.T) {
	var e bytes.Buffer
	r := &runner{env: Env{Stdin: strings.NewReader("s3cret\nnext\n"), Stderr: &e}}
	p, err := r.readPassword("Password: ")
	if err != nil || p != "s3cret" {
		t.Fatalf("got %q, %v", p, err)
	}
	if strings.Contains(e.String(), "s3cret") || !strings.HasPrefix(e.String(), "Password: ") {
		t.Errorf("prompt output %q", e.String())
	}
	r = &runner{env: Env{Stdin: strings.NewReader(""), Stderr: &e}}
	if _, err := r.readPassword("Password: "); err == nil {
		t.Error("an empty standard input gave a password")
	}
}
