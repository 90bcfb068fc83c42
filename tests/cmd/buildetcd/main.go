// Command buildetcd builds and caches the etcd 3.5 binary the tests use and
// prints its path. The Makefile runs it before `go test` so that the first
// build (about 40 s on 2 cores) does not eat into test timeouts.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	path, err := etcdtest.Build35(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildetcd:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
