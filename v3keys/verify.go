package v3keys

// Verify: two trees compared node by node (values, directories, TTLs), as
// the last step of a migration before the application moves to v3.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meycoin/goetcd/client"
)

// VerifyOptions are the options of Verify.
type VerifyOptions struct {
	// Root is the directory to compare ("" or "/" for the whole tree).
	Root string
	// TTLTolerance is how far the expirations of a node may be apart in
	// the two trees; zero means 1s (v3 leases count whole seconds).
	TTLTolerance time.Duration
}

// Difference kinds.
const (
	// DiffMissing: the node is in the source tree only.
	DiffMissing = "missing"
	// DiffExtra: the node is in the target tree only.
	DiffExtra = "extra"
	// DiffKind: a directory in one tree is a file in the other.
	DiffKind = "kind"
	// DiffValue: the values differ.
	DiffValue = "value"
	// DiffTTL: one node expires and the other does not, or they expire
	// more than the tolerance apart.
	DiffTTL = "ttl"
)

// Difference is a node where two trees differ.
type Difference struct {
	// Key is the node's key, e.g. "/jobs/42".
	Key string
	// Kind is one of the Diff constants.
	Kind string
	// Source and Target describe the node in each tree (the value is
	// left out, its length shown; "absent" for no node).
	Source, Target string
}

// String is "<key>: <kind> (source <...>, target <...>)".
func (d Difference) String() string {
	return fmt.Sprintf("%s: %s (source %s, target %s)", d.Key, d.Kind, d.Source, d.Target)
}

// Verify reads the tree under opts.Root from source and target (each with
// one recursive quorum read) and returns where they differ, sorted by key:
// nodes in one tree only, directories that are files in the other, values,
// and TTLs (one expires and the other does not, or their expirations are
// more than opts.TTLTolerance apart). Indexes are not compared. Writers
// should be stopped: a change between the two reads is a difference.
func Verify(ctx context.Context, source, target client.KeysAPI, opts VerifyOptions) ([]Difference, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if source == nil || target == nil {
		return nil, &client.InvalidArgumentError{Field: "source/target", Reason: "nil KeysAPI"}
	}
	root, err := client.CanonicalKey(opts.Root)
	if err != nil {
		return nil, err
	}
	tol := opts.TTLTolerance
	if tol <= 0 {
		tol = time.Second
	}
	a, err := treeNodes(ctx, source, root)
	if err != nil {
		return nil, fmt.Errorf("v3keys: verify: reading the source: %w", err)
	}
	b, err := treeNodes(ctx, target, root)
	if err != nil {
		return nil, fmt.Errorf("v3keys: verify: reading the target: %w", err)
	}
	var out []Difference
	for key, x := range a {
		y, ok := b[key]
		if !ok {
			out = append(out, Difference{Key: key, Kind: DiffMissing, Source: describe(x), Target: "absent"})
			continue
		}
		if kind := compareNodes(x, y, tol); kind != "" {
			out = append(out, Difference{Key: key, Kind: kind, Source: describe(x), Target: describe(y)})
		}
	}
	for key, y := range b {
		if _, ok := a[key]; !ok {
			out = append(out, Difference{Key: key, Kind: DiffExtra, Source: "absent", Target: describe(y)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// treeNodes reads the tree under root into a map by key (the root itself
// included unless it is "/"); a missing root is an empty tree.
func treeNodes(ctx context.Context, kapi client.KeysAPI, root string) (map[string]*client.Node, error) {
	r, err := kapi.Get(ctx, "/"+root, &client.GetOptions{Recursive: true, Quorum: true})
	if client.IsKeyNotFound(err) && root != "" {
		return map[string]*client.Node{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]*client.Node{}
	var add func(n *client.Node)
	add = func(n *client.Node) {
		if k := strings.TrimSuffix(n.Key, "/"); k != "" {
			out[k] = n
		}
		for _, c := range n.Nodes {
			add(c)
		}
	}
	add(r.Node)
	return out, nil
}

// compareNodes is the kind of the first difference between x and y, or "".
func compareNodes(x, y *client.Node, tol time.Duration) string {
	switch {
	case x.Dir != y.Dir:
		return DiffKind
	case !x.Dir && x.Value != y.Value:
		return DiffValue
	case (x.Expiration == nil) != (y.Expiration == nil):
		return DiffTTL
	case x.Expiration != nil && absDuration(x.Expiration.Sub(*y.Expiration)) > tol:
		return DiffTTL
	}
	return ""
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// describe shows a node without its value.
func describe(n *client.Node) string {
	s := "file"
	if n.Dir {
		s = "dir"
	} else {
		s += fmt.Sprintf(" of %d bytes", len(n.Value))
	}
	if n.Expiration != nil {
		s += " expiring " + n.Expiration.UTC().Format(time.RFC3339Nano)
	}
	return s
}
