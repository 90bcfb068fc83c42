// Output of keys answers: etcdctl's simple and extended formats, and JSON in
// the shape etcd itself answers with.
package command

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/urfave/cli"
)

// Output formats of --output.
const (
	outputSimple   = "simple"
	outputExtended = "extended"
	outputJSON     = "json"
)

// checkOutput refuses an unknown --output before anything is sent.
func checkOutput(c *cli.Context) error {
	switch f := c.GlobalString("output"); f {
	case outputSimple, outputExtended, outputJSON:
		return nil
	default:
		return fail(ExitBadArgs, "Unsupported output format: %q (use simple, extended or json)", f)
	}
}

// printResponse writes one keys answer in the chosen format.
func printResponse(w io.Writer, resp *client.Response, format string) {
	switch format {
	case outputSimple:
		if resp.Action != "delete" {
			fmt.Fprintln(w, resp.Node.Value)
		} else {
			fmt.Fprintln(w, "PrevNode.Value:", resp.PrevNode.Value)
		}
	case outputExtended:
		fmt.Fprintln(w, "Key:", resp.Node.Key)
		fmt.Fprintln(w, "Created-Index:", resp.Node.CreatedIndex)
		fmt.Fprintln(w, "Modified-Index:", resp.Node.ModifiedIndex)
		if resp.PrevNode != nil {
			fmt.Fprintln(w, "PrevNode.Value:", resp.PrevNode.Value)
		}
		fmt.Fprintln(w, "TTL:", resp.Node.TTL)
		fmt.Fprintln(w, "Index:", resp.Index)
		if resp.Action != "delete" {
			fmt.Fprintln(w, "")
			fmt.Fprintln(w, resp.Node.Value)
		}
	case outputJSON:
		fmt.Fprintln(w, mustJSON(wireResponse(resp)))
	}
}

// wireAnswer is a keys answer as etcd sends it: "prevNode" only when there
// is one, no "node" for an answer without one (noValueOnSuccess).
type wireAnswer struct {
	Action   string    `json:"action"`
	Node     *wireNode `json:"node,omitempty"`
	PrevNode *wireNode `json:"prevNode,omitempty"`
}

// wireNode is a node as etcd sends it: the root has no key and no indexes,
// directories have no value, "dir" appears only when true, "ttl" and
// "expiration" only for keys that expire, "nodes" only when there are
// children, and the node of a delete or expire has no value.
type wireNode struct {
	Key           string      `json:"key,omitempty"`
	Value         *string     `json:"value,omitempty"`
	Dir           bool        `json:"dir,omitempty"`
	Expiration    *time.Time  `json:"expiration,omitempty"`
	TTL           int64       `json:"ttl,omitempty"`
	Nodes         []*wireNode `json:"nodes,omitempty"`
	ModifiedIndex uint64      `json:"modifiedIndex,omitempty"`
	CreatedIndex  uint64      `json:"createdIndex,omitempty"`
}

// wireResponse converts resp into etcd's shape.
func wireResponse(resp *client.Response) wireAnswer {
	valueless := resp.Action == "delete" || resp.Action == "compareAndDelete" || resp.Action == "expire"
	return wireAnswer{Action: resp.Action, Node: toWire(resp.Node, valueless), PrevNode: toWire(resp.PrevNode, false)}
}

func toWire(n *client.Node, valueless bool) *wireNode {
	if n == nil {
		return nil
	}
	w := &wireNode{Key: n.Key, Dir: n.Dir, Expiration: n.Expiration, TTL: n.TTL, ModifiedIndex: n.ModifiedIndex, CreatedIndex: n.CreatedIndex}
	if !n.Dir && !valueless {
		v := n.Value
		w.Value = &v
	}
	for _, child := range n.Nodes {
		w.Nodes = append(w.Nodes, toWire(child, false))
	}
	return w
}

// mustJSON encodes v the way etcd does (json.Encoder's escaping), without
// the trailing newline. The values given here always encode.
func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf(`{"error":%q}`, err.Error())
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
