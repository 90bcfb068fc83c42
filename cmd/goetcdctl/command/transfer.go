// export and import: a subtree as one JSON document (values, directories,
// TTLs as remaining seconds, in-order keys marked so that import creates
// them again in the same order).
package command

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli"
)

// exportFormat is the version of the export document.
const exportFormat = 1

// exportDoc is the export document. Nodes are in depth-first, sorted
// order: a directory comes before what it holds.
type exportDoc struct {
	Format int    `json:"goetcdctlExport"`
	Prefix string `json:"prefix"`
	// Index is the store index the tree was read at.
	Index uint64        `json:"index"`
	Nodes []*exportNode `json:"nodes"`
}

// exportNode is one key or directory.
type exportNode struct {
	Key   string `json:"key"`
	Dir   bool   `json:"dir,omitempty"`
	Value string `json:"value,omitempty"`
	// TTL is the remaining time to live in seconds when exported; 0 for a
	// node that does not expire.
	TTL int64 `json:"ttl,omitempty"`
	// InOrder marks a key created by an in-order create (its name is the
	// 20-digit index etcd gave it); import creates it again with an
	// in-order create, after the ones of the same directory that came
	// before it.
	InOrder bool `json:"inOrder,omitempty"`
	// Empty marks a directory without children, which import must create
	// itself.
	Empty bool `json:"empty,omitempty"`
}

// inOrderName matches the names etcd gives in-order keys.
var inOrderName = regexp.MustCompile(`^[0-9]{20}$`)

func baseName(key string) string { return key[strings.LastIndexByte(key, '/')+1:] }

func parentOf(key string) string {
	if i := strings.LastIndexByte(key, '/'); i > 0 {
		return key[:i]
	}
	return "/"
}

// flatten appends n and everything under it, depth first.
func flatten(out []*exportNode, n *client.Node) []*exportNode {
	if n.Key != "" { // the root itself is not exported
		out = append(out, &exportNode{Key: n.Key, Dir: n.Dir, Value: n.Value, TTL: n.TTL, InOrder: !n.Dir && inOrderName.MatchString(baseName(n.Key)), Empty: n.Dir && len(n.Nodes) == 0})
	}
	for _, child := range n.Nodes {
		out = flatten(out, child)
	}
	return out
}

// progress counts written nodes: a bar on a terminal, nothing otherwise
// (the summary line says the result).
type progress struct{ bar *progressbar.ProgressBar }

func (r *runner) newProgress(total int, what string) *progress {
	if _, ok := terminalFd(r.env.Stderr); !ok || total == 0 {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(r.env.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progress) add(n int) {
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// counts summarises nodes for the summary lines.
func counts(nodes []*exportNode) (keys, dirs, inOrder int) {
	for _, n := range nodes {
		switch {
		case n.Dir:
			dirs++
		case n.InOrder:
			keys++
			inOrder++
		default:
			keys++
		}
	}
	return
}

func (r *runner) exportCommand() cli.Command {
	return cli.Command{
		Name:      "export",
		Usage:     "write a directory's tree (values, directories, TTLs, in-order keys) as JSON",
		ArgsUsage: "[key]",
		Description: `Export reads the tree under <key> (default "/") in one quorum read and
   writes it as one JSON document to standard output or --file, for import.
   TTLs are written as the seconds that remain. Hidden keys (a name starting
   with "_") are not listed by etcd and so are not exported.`,
		Flags: []cli.Flag{
			cli.StringFlag{Name: "file, f", Usage: "write to this file instead of standard output"},
		},
		Action: r.withClient(func(c *cli.Context, hc client.Client) error {
			prefix := "/"
			if len(c.Args()) > 0 {
				prefix = c.Args()[0]
			}
			start := time.Now()
			ctx, cancel := r.totalTimeout(c)
			resp, err := client.NewKeysAPI(hc).Get(ctx, prefix, &client.GetOptions{Recursive: true, Sort: true, Quorum: true})
			cancel()
			if err != nil {
				return r.keysError(c, err)
			}
			doc := exportDoc{Format: exportFormat, Prefix: prefix, Index: resp.Index, Nodes: flatten(nil, resp.Node)}
			if resp.Node.Key != "" && !resp.Node.Dir {
				doc.Prefix = parentOf(resp.Node.Key)
			} else if resp.Node.Key != "" {
				doc.Prefix = resp.Node.Key
			}
			w, where, done, err := r.output(c.String("file"))
			if err != nil {
				return err
			}
			bar := r.newProgress(len(doc.Nodes), "exporting")
			err = writeExport(w, doc, bar.add)
			bar.finish()
			if cerr := done(); err == nil {
				err = cerr
			}
			if err != nil {
				return fail(ExitServerError, "Error:  writing the export to %s: %v", where, err)
			}
			keys, dirs, inOrder := counts(doc.Nodes)
			fmt.Fprintf(r.env.Stderr, "exported %d keys (%d in order) and %d directories under %s at index %d to %s in %s\n",
				keys, inOrder, dirs, doc.Prefix, doc.Index, where, time.Since(start).Round(time.Millisecond))
			return nil
		}),
	}
}

// output opens --file, or standard output when it is empty.
func (r *runner) output(file string) (io.Writer, string, func() error, error) {
	if file == "" {
		return r.env.Stdout, "standard output", func() error { return nil }, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, "", nil, fail(ExitBadArgs, "Error:  %v", err)
	}
	return f, file, f.Close, nil
}

// writeExport writes doc with one node a line, so that the file diffs and
// greps well.
func writeExport(w io.Writer, doc exportDoc, written func(int)) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, "{%q:%d,\"prefix\":%s,\"index\":%d,\"nodes\":[", "goetcdctlExport", doc.Format, mustJSON(doc.Prefix), doc.Index)
	for i, n := range doc.Nodes {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n")
		bw.WriteString(mustJSON(n))
		if i%1024 == 1023 {
			written(1024)
		}
	}
	written(len(doc.Nodes) % 1024)
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

func (r *runner) importCommand() cli.Command {
	return cli.Command{
		Name:      "import",
		Usage:     "create the keys and directories of an export",
		ArgsUsage: " ",
		Description: `Import reads an export from standard input or --file and writes it: empty
   and expiring directories first, then keys (plain sets, several at a time),
   and in-order keys of each directory one after another in their exported
   order (they get new names, as in-order keys always do). Existing keys
   are overwritten. TTLs start again from the exported remaining seconds.`,
		Flags: []cli.Flag{
			cli.StringFlag{Name: "file, f", Usage: "read from this file instead of standard input"},
			cli.StringFlag{Name: "to", Usage: "import under this directory instead of the exported one"},
			cli.IntFlag{Name: "concurrency", Value: 32, Usage: "writes in flight at once"},
		},
		Action: r.withClient(func(c *cli.Context, hc client.Client) error {
			doc, err := r.readExport(c.String("file"))
			if err != nil {
				return err
			}
			if to := c.String("to"); to != "" {
				rebase(doc, canonicalPath(to))
			}
			workers := c.Int("concurrency")
			if workers < 1 {
				return fail(ExitBadArgs, "Error:  --concurrency %d: give at least 1", workers)
			}
			start := time.Now()
			bar := r.newProgress(len(doc.Nodes), "importing")
			failed := r.importNodes(c, client.NewKeysAPI(hc), doc.Nodes, workers, bar.add)
			bar.finish()
			keys, dirs, inOrder := counts(doc.Nodes)
			if len(failed) > 0 {
				for i, e := range failed {
					if i == 10 {
						fmt.Fprintf(r.env.Stderr, "... and %d more\n", len(failed)-10)
						break
					}
					fmt.Fprintf(r.env.Stderr, "Error:  %v\n", e)
				}
				return fail(ExitServerError, "import under %s: %d of %d nodes failed", doc.Prefix, len(failed), len(doc.Nodes))
			}
			fmt.Fprintf(r.env.Stderr, "imported %d keys (%d in order) and %d directories under %s in %s\n",
				keys, inOrder, dirs, doc.Prefix, time.Since(start).Round(time.Millisecond))
			return nil
		}),
	}
}

func (r *runner) readExport(file string) (*exportDoc, error) {
	in := io.Reader(r.input())
	where := "standard input"
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fail(ExitBadArgs, "Error:  %v", err)
		}
		defer f.Close()
		in, where = f, file
	}
	var doc exportDoc
	dec := json.NewDecoder(bufio.NewReaderSize(in, 1<<16))
	if err := dec.Decode(&doc); err != nil {
		return nil, fail(ExitBadArgs, "Error:  %s is not a goetcdctl export: %v", where, err)
	}
	if doc.Format != exportFormat {
		return nil, fail(ExitBadArgs, "Error:  %s is not a goetcdctl export of format %d (goetcdctlExport is %d)", where, exportFormat, doc.Format)
	}
	for _, n := range doc.Nodes {
		if n == nil || !strings.HasPrefix(n.Key, "/") {
			return nil, fail(ExitBadArgs, "Error:  %s holds a node without an absolute key", where)
		}
	}
	return &doc, nil
}

// rebase moves every node from the export's prefix to under to.
func rebase(doc *exportDoc, to string) {
	from := strings.TrimSuffix(doc.Prefix, "/")
	to = strings.TrimSuffix(to, "/")
	for _, n := range doc.Nodes {
		n.Key = to + strings.TrimPrefix(n.Key, from)
	}
	doc.Prefix = to
	if doc.Prefix == "" {
		doc.Prefix = "/"
	}
}

// importNodes writes nodes and returns the failures. Directories that need
// creating (empty or expiring) go first, parents before children; then the
// keys, workers at a time, with the in-order keys of one directory as one
// sequential job.
func (r *runner) importNodes(c *cli.Context, kapi client.KeysAPI, nodes []*exportNode, workers int, written func(int)) []error {
	var (
		mu     sync.Mutex
		failed []error
	)
	report := func(err error) {
		mu.Lock()
		failed = append(failed, err)
		mu.Unlock()
	}
	var jobs []func()
	inOrder := map[string][]*exportNode{}
	for _, n := range nodes {
		switch {
		case n.Dir:
			if !n.Empty && n.TTL == 0 {
				written(1) // made by the keys below it
				continue
			}
			if err := r.importDir(c, kapi, n); err != nil {
				report(err)
			}
			written(1)
		case n.InOrder:
			p := parentOf(n.Key)
			inOrder[p] = append(inOrder[p], n)
		default:
			jobs = append(jobs, func() {
				ctx, cancel := r.totalTimeout(c)
				defer cancel()
				if _, err := kapi.Set(ctx, n.Key, n.Value, &client.SetOptions{TTL: time.Duration(n.TTL) * time.Second}); err != nil {
					report(fmt.Errorf("set %s: %w", n.Key, err))
				}
				written(1)
			})
		}
	}
	for dir, queue := range inOrder {
		sort.Slice(queue, func(i, j int) bool { return queue[i].Key < queue[j].Key })
		jobs = append(jobs, func() {
			for _, n := range queue {
				ctx, cancel := r.totalTimeout(c)
				_, err := kapi.CreateInOrder(ctx, dir, n.Value, &client.CreateInOrderOptions{TTL: time.Duration(n.TTL) * time.Second})
				cancel()
				written(1)
				if err != nil {
					// A later key created now would change the order.
					report(fmt.Errorf("in-order create in %s (for %s; the rest of this directory was not imported): %w", dir, baseName(n.Key), err))
					return
				}
			}
		})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(jobs)) || r.ctx.Err() != nil {
					return
				}
				jobs[i]()
			}
		}()
	}
	wg.Wait()
	if err := r.ctx.Err(); err != nil {
		report(fmt.Errorf("import interrupted: %w", err))
	}
	return failed
}

// importDir creates a directory that holds nothing or expires. One that
// exists already is left as it is.
func (r *runner) importDir(c *cli.Context, kapi client.KeysAPI, n *exportNode) error {
	ctx, cancel := r.totalTimeout(c)
	defer cancel()
	_, err := kapi.Set(ctx, n.Key, "", &client.SetOptions{Dir: true, TTL: time.Duration(n.TTL) * time.Second})
	if errIsCode(err, client.ErrorCodeNotFile) {
		resp, gerr := kapi.Get(ctx, n.Key, nil)
		if gerr == nil && resp.Node.Dir {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("mkdir %s: %w", n.Key, err)
	}
	return nil
}
