// The keys commands: get, ls, set, mk, mkdir, setdir, update, updatedir,
// rm and rmdir.
package command

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/meycoin/goetcd/client"
	"github.com/urfave/cli"
)

var ttlFlag = cli.IntFlag{Name: "ttl", Value: 0, Usage: "key time-to-live in seconds"}

// keysAction wraps a keys command: it checks --output, makes the client
// (with the membership sync) and hands both to run.
func (r *runner) keysAction(run func(c *cli.Context, kapi client.KeysAPI) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := checkOutput(c); err != nil {
			return err
		}
		return r.withClient(func(c *cli.Context, hc client.Client) error {
			return run(c, client.NewKeysAPI(hc))
		})(c)
	}
}

// keyArg returns the first argument, or the "key required" error.
func keyArg(c *cli.Context) (string, error) {
	if len(c.Args()) == 0 {
		return "", fail(ExitBadArgs, "Error:  key required")
	}
	return c.Args()[0], nil
}

// ttlOf converts --ttl; etcd counts whole seconds.
func ttlOf(c *cli.Context) (time.Duration, error) {
	ttl := c.Int("ttl")
	if ttl < 0 {
		return 0, fail(ExitBadArgs, "Error:  --ttl %d: a time-to-live cannot be negative", ttl)
	}
	return time.Duration(ttl) * time.Second, nil
}

func indexFlag(c *cli.Context, name string) (uint64, error) {
	v := c.Int(name)
	if v < 0 {
		return 0, fail(ExitBadArgs, "Error:  --%s %d: an index cannot be negative", name, v)
	}
	return uint64(v), nil
}

func (r *runner) getCommand() cli.Command {
	return cli.Command{
		Name:      "get",
		Usage:     "retrieve the value of a key",
		ArgsUsage: "<key>",
		Flags: []cli.Flag{
			cli.BoolFlag{Name: "sort", Usage: "returns result in sorted order"},
			cli.BoolFlag{Name: "quorum, q", Usage: "require quorum for get request"},
		},
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			key, err := keyArg(c)
			if err != nil {
				return err
			}
			ctx, cancel := r.totalTimeout(c)
			defer cancel()
			resp, err := kapi.Get(ctx, key, &client.GetOptions{Sort: c.Bool("sort"), Quorum: c.Bool("quorum")})
			if err != nil {
				return r.keysError(c, err)
			}
			if resp.Node.Dir {
				return fail(ExitBadArgs, "%s: is a directory", resp.Node.Key)
			}
			printResponse(r.env.Stdout, resp, c.GlobalString("output"))
			return nil
		}),
	}
}

func (r *runner) lsCommand() cli.Command {
	return cli.Command{
		Name:      "ls",
		Usage:     "retrieve a directory",
		ArgsUsage: "[key]",
		Flags: []cli.Flag{
			cli.BoolFlag{Name: "sort", Usage: "returns result in sorted order"},
			cli.BoolFlag{Name: "recursive, r", Usage: "returns all key names recursively for the given path"},
			cli.BoolFlag{Name: "p", Usage: "append slash (/) to directories"},
			cli.BoolFlag{Name: "quorum, q", Usage: "require quorum for get request"},
		},
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			key := "/"
			if len(c.Args()) != 0 {
				key = c.Args()[0]
			}
			ctx, cancel := r.totalTimeout(c)
			defer cancel()
			resp, err := kapi.Get(ctx, key, &client.GetOptions{Sort: c.Bool("sort"), Recursive: c.Bool("recursive"), Quorum: c.Bool("quorum")})
			if err != nil {
				return r.keysError(c, err)
			}
			if format := c.GlobalString("output"); format != outputSimple {
				printResponse(r.env.Stdout, resp, format)
				return nil
			}
			if !resp.Node.Dir {
				fmt.Fprintln(r.env.Stdout, resp.Node.Key)
			}
			r.printTree(resp.Node.Nodes, c.Bool("p"))
			return nil
		}),
	}
}

// printTree lists nodes and their children depth first, one key a line,
// directories with a trailing slash when slash is set.
func (r *runner) printTree(nodes client.Nodes, slash bool) {
	for _, n := range nodes {
		if n.Dir && slash {
			fmt.Fprintln(r.env.Stdout, n.Key+"/")
		} else {
			fmt.Fprintln(r.env.Stdout, n.Key)
		}
		r.printTree(n.Nodes, slash)
	}
}

// valueCommand is set, mk and update: a key, a value (or standard input)
// and a TTL.
func (r *runner) valueCommand(c *cli.Context, kapi client.KeysAPI, write func(key, value string, ttl time.Duration) (*client.Response, error)) error {
	key, err := keyArg(c)
	if err != nil {
		return err
	}
	value, ok := r.argOrStdin(c.Args(), 1)
	if !ok {
		return fail(ExitBadArgs, "Error:  value required")
	}
	ttl, err := ttlOf(c)
	if err != nil {
		return err
	}
	resp, err := write(key, value, ttl)
	if err != nil {
		return r.keysError(c, err)
	}
	printResponse(r.env.Stdout, resp, c.GlobalString("output"))
	return nil
}

func (r *runner) setCommand() cli.Command {
	return cli.Command{
		Name:      "set",
		Usage:     "set the value of a key",
		ArgsUsage: "<key> <value>",
		Description: `Set sets the value of a key.

   When <value> begins with '-', <value> is interpreted as a flag.
   Insert '--' for workaround:

   $ set -- <key> <value>`,
		Flags: []cli.Flag{
			ttlFlag,
			cli.StringFlag{Name: "swap-with-value", Value: "", Usage: "previous value"},
			cli.IntFlag{Name: "swap-with-index", Value: 0, Usage: "previous index"},
		},
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			prevIndex, err := indexFlag(c, "swap-with-index")
			if err != nil {
				return err
			}
			return r.valueCommand(c, kapi, func(key, value string, ttl time.Duration) (*client.Response, error) {
				ctx, cancel := r.totalTimeout(c)
				defer cancel()
				return kapi.Set(ctx, key, value, &client.SetOptions{TTL: ttl, PrevIndex: prevIndex, PrevValue: c.String("swap-with-value")})
			})
		}),
	}
}

func (r *runner) mkCommand() cli.Command {
	return cli.Command{
		Name:      "mk",
		Usage:     "make a new key with a given value",
		ArgsUsage: "<key> <value>",
		Flags: []cli.Flag{
			cli.BoolFlag{Name: "in-order", Usage: "create in-order key under directory <key>"},
			ttlFlag,
		},
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			return r.valueCommand(c, kapi, func(key, value string, ttl time.Duration) (*client.Response, error) {
				ctx, cancel := r.totalTimeout(c)
				defer cancel()
				if c.Bool("in-order") {
					return kapi.CreateInOrder(ctx, key, value, &client.CreateInOrderOptions{TTL: ttl})
				}
				return kapi.Set(ctx, key, value, &client.SetOptions{TTL: ttl, PrevExist: client.PrevNoExist})
			})
		}),
	}
}

func (r *runner) updateCommand() cli.Command {
	return cli.Command{
		Name:      "update",
		Usage:     "update an existing key with a given value",
		ArgsUsage: "<key> <value>",
		Flags:     []cli.Flag{ttlFlag},
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			return r.valueCommand(c, kapi, func(key, value string, ttl time.Duration) (*client.Response, error) {
				ctx, cancel := r.totalTimeout(c)
				defer cancel()
				return kapi.Set(ctx, key, value, &client.SetOptions{TTL: ttl, PrevExist: client.PrevExist})
			})
		}),
	}
}

// dirCommand is mkdir, setdir and updatedir: a directory set with an
// existence condition. Like etcdctl, it prints nothing in the simple format.
func (r *runner) dirCommand(name, usage string, prevExist client.PrevExistType) cli.Command {
	return cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "<key>",
		Flags:     []cli.Flag{ttlFlag},
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			key, err := keyArg(c)
			if err != nil {
				return err
			}
			ttl, err := ttlOf(c)
			if err != nil {
				return err
			}
			ctx, cancel := r.totalTimeout(c)
			defer cancel()
			resp, err := kapi.Set(ctx, key, "", &client.SetOptions{TTL: ttl, Dir: true, PrevExist: prevExist})
			if err != nil {
				return r.keysError(c, err)
			}
			if format := c.GlobalString("output"); format != outputSimple {
				printResponse(r.env.Stdout, resp, format)
			}
			return nil
		}),
	}
}

func (r *runner) mkdirCommand() cli.Command {
	return r.dirCommand("mkdir", "make a new directory", client.PrevNoExist)
}

func (r *runner) setdirCommand() cli.Command {
	return r.dirCommand("setdir", "create a new directory or update an existing directory TTL", client.PrevIgnore)
}

func (r *runner) updatedirCommand() cli.Command {
	c := r.dirCommand("updatedir", "update an existing directory", client.PrevExist)
	c.ArgsUsage = "<key> <value>"
	return c
}

// deleteCommand runs a delete and prints the previous value of a key (not of
// a directory), as etcdctl does.
func (r *runner) deleteCommand(c *cli.Context, kapi client.KeysAPI, opts *client.DeleteOptions) error {
	key, err := keyArg(c)
	if err != nil {
		return err
	}
	ctx, cancel := r.totalTimeout(c)
	defer cancel()
	resp, err := kapi.Delete(ctx, key, opts)
	if err != nil {
		return r.keysError(c, err)
	}
	if !resp.Node.Dir || c.GlobalString("output") != outputSimple {
		printResponse(r.env.Stdout, resp, c.GlobalString("output"))
	}
	return nil
}

func (r *runner) rmCommand() cli.Command {
	return cli.Command{
		Name:      "rm",
		Usage:     "remove a key or a directory",
		ArgsUsage: "<key>",
		Flags: []cli.Flag{
			cli.BoolFlag{Name: "dir", Usage: "removes the key if it is an empty directory or a key-value pair"},
			cli.BoolFlag{Name: "recursive, r", Usage: "removes the key and all child keys(if it is a directory)"},
			cli.StringFlag{Name: "with-value", Value: "", Usage: "previous value"},
			cli.IntFlag{Name: "with-index", Value: 0, Usage: "previous index"},
		},
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			prevIndex, err := indexFlag(c, "with-index")
			if err != nil {
				return err
			}
			return r.deleteCommand(c, kapi, &client.DeleteOptions{PrevIndex: prevIndex, PrevValue: c.String("with-value"), Dir: c.Bool("dir"), Recursive: c.Bool("recursive")})
		}),
	}
}

func (r *runner) rmdirCommand() cli.Command {
	return cli.Command{
		Name:      "rmdir",
		Usage:     "removes the key if it is an empty directory or a key-value pair",
		ArgsUsage: "<key>",
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			return r.deleteCommand(c, kapi, &client.DeleteOptions{Dir: true})
		}),
	}
}

// errIsCode reports whether err is etcd's keys error code.
func errIsCode(err error, code int) bool {
	var e client.Error
	return errors.As(err, &e) && e.Code == code
}

// itoa is strconv.FormatUint for indexes.
func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
