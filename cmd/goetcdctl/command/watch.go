// watch and exec-watch. Both ride the library's watch, which goes on from
// the last event on another member when one fails, waits while the cluster
// cannot be reached, and resyncs (reads the key afresh, said on standard
// error) when etcd's 1000-event history no longer holds the next event.
package command

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/meycoin/goetcd/client"
	"github.com/urfave/cli"
)

// watchEvents runs a watch of key and calls handle for each event until
// handle says stop, ctx ends (exit 0, as etcdctl on Ctrl-C) or the watch
// fails (exit 4).
func (r *runner) watchEvents(c *cli.Context, kapi client.KeysAPI, key string, afterIndex uint64, recursive bool, handle func(*client.Response) (stop bool, err error)) error {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	wc := client.WatchChan(ctx, kapi, key, &client.WatcherOptions{AfterIndex: afterIndex, Recursive: recursive, Resync: true})
	for resp := range wc.C {
		if resp.Action == client.ActionResync {
			fmt.Fprintf(r.env.Stderr, "goetcdctl: watch of %s resynced at index %d: etcd's event history no longer held the next event, so events may have been missed; what follows is the current state\n", key, resp.Index)
		}
		stop, err := handle(resp)
		if err != nil {
			cancel()
			return err
		}
		if stop {
			cancel()
			break
		}
	}
	err := wc.Err()
	if err == nil || r.ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return r.keysError(c, fmt.Errorf("watch of %s: %w", key, err))
}

// leaves returns the keys (not directories) under n, n included, depth
// first.
func leaves(n *client.Node) []*client.Node {
	if n == nil {
		return nil
	}
	if !n.Dir {
		return []*client.Node{n}
	}
	var out []*client.Node
	for _, child := range n.Nodes {
		out = append(out, leaves(child)...)
	}
	return out
}

// resyncEvents turns a resync answer into one "resync" event per key it
// holds, so that simple and extended output and exec-watch see keys.
func resyncEvents(resp *client.Response) []*client.Response {
	var out []*client.Response
	for _, n := range leaves(resp.Node) {
		out = append(out, &client.Response{Action: client.ActionResync, Node: n, Index: resp.Index})
	}
	return out
}

func (r *runner) watchCommand() cli.Command {
	return cli.Command{
		Name:      "watch",
		Usage:     "watch a key for changes",
		ArgsUsage: "<key>",
		Flags: []cli.Flag{
			cli.BoolFlag{Name: "forever, f", Usage: "forever watch a key until CTRL+C"},
			cli.IntFlag{Name: "after-index", Value: 0, Usage: "watch after the given index"},
			cli.BoolFlag{Name: "recursive, r", Usage: "returns all values for key and child keys"},
		},
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			key, err := keyArg(c)
			if err != nil {
				return err
			}
			after, err := indexFlag(c, "after-index")
			if err != nil {
				return err
			}
			recursive, forever, format := c.Bool("recursive"), c.Bool("forever"), c.GlobalString("output")
			return r.watchEvents(c, kapi, key, after, recursive, func(resp *client.Response) (bool, error) {
				if format == outputJSON {
					// One document per line, directory events included.
					printResponse(r.env.Stdout, resp, format)
					return !forever, nil
				}
				events := []*client.Response{resp}
				if resp.Action == client.ActionResync {
					events = resyncEvents(resp)
				}
				printed := false
				for _, ev := range events {
					if ev.Node.Dir {
						continue
					}
					if recursive {
						fmt.Fprintf(r.env.Stdout, "[%s] %s\n", ev.Action, ev.Node.Key)
					}
					printResponse(r.env.Stdout, ev, format)
					printed = true
				}
				return printed && !forever, nil
			})
		}),
	}
}

func (r *runner) execWatchCommand() cli.Command {
	return cli.Command{
		Name:      "exec-watch",
		Usage:     "watch a key for changes and exec an executable",
		ArgsUsage: "<key> <command> [args...]",
		Flags: []cli.Flag{
			cli.IntFlag{Name: "after-index", Value: 0, Usage: "watch after the given index"},
			cli.BoolFlag{Name: "recursive, r", Usage: "watch all values for key and child keys"},
		},
		Action: r.keysAction(func(c *cli.Context, kapi client.KeysAPI) error {
			key, argv, err := execWatchArgs(c.Args())
			if err != nil {
				return err
			}
			after, err := indexFlag(c, "after-index")
			if err != nil {
				return err
			}
			return r.watchEvents(c, kapi, key, after, c.Bool("recursive"), func(resp *client.Response) (bool, error) {
				events := []*client.Response{resp}
				if resp.Action == client.ActionResync {
					events = resyncEvents(resp)
				}
				for _, ev := range events {
					if ev.Node.Dir {
						fmt.Fprintf(r.env.Stderr, "Ignored dir %s change\n", ev.Node.Key)
						continue
					}
					if err := r.runForEvent(argv, ev); err != nil {
						return true, err
					}
				}
				return false, nil
			})
		}),
	}
}

// execWatchArgs splits exec-watch's arguments into the key and the command:
// "<key> -- <command> [args...]" or "<command> [args...] <key>", the two
// orders etcdctl accepts (urfave/cli moves the key last when no "--" is
// given).
func execWatchArgs(args cli.Args) (key string, argv []string, err error) {
	if len(args) < 2 {
		return "", nil, fail(ExitBadArgs, "Error:  key and command to exec required")
	}
	for i, a := range args {
		if a == "--" && i != 0 {
			if len(args) < 3 {
				return "", nil, fail(ExitBadArgs, "Error:  key and command to exec required")
			}
			return args[0], args[2:], nil
		}
	}
	return args[len(args)-1], args[:len(args)-1], nil
}

// runForEvent runs the command for one event, with the event in
// ETCD_WATCH_ACTION, ETCD_WATCH_MODIFIED_INDEX, ETCD_WATCH_KEY and
// ETCD_WATCH_VALUE, and waits for it: events are handled one at a time, in
// order. A command that cannot be started ends exec-watch (exit 1); its own
// exit status does not.
func (r *runner) runForEvent(argv []string, ev *client.Response) error {
	cmd := exec.CommandContext(r.ctx, argv[0], argv[1:]...)
	cmd.Env = append(append([]string(nil), r.env.Environ...),
		"ETCD_WATCH_ACTION="+ev.Action,
		"ETCD_WATCH_MODIFIED_INDEX="+itoa(ev.Node.ModifiedIndex),
		"ETCD_WATCH_KEY="+ev.Node.Key,
		"ETCD_WATCH_VALUE="+ev.Node.Value,
	)
	cmd.Stdout, cmd.Stderr = r.env.Stdout, r.env.Stderr
	if err := cmd.Start(); err != nil {
		return fail(ExitBadArgs, "exec-watch: starting %s: %v", strings.Join(argv, " "), err)
	}
	_ = cmd.Wait() // the command's own failure is its business, as in etcdctl
	return nil
}
