// Command goetcdctl is a command line client for the etcd v2 API: the
// commands, flags, output and exit codes of etcdctl's v2 mode, built on
// github.com/meycoin/goetcd/client, with watches that survive member
// failures, export/import of a subtree, a detailed cluster-health and shell
// completion. Run "goetcdctl help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/meycoin/goetcd/cmd/goetcdctl/command"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := command.Run(ctx, command.OSEnv())
	stop()
	os.Exit(code)
}
