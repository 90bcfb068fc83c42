// Command buildetcd builds and caches the etcd binaries the tests build
// themselves (3.6.17 for the v3 backend, 3.5.35 for the v2 API) and prints
// their paths, one a line, 3.5.35 last: spec/etcd.ts takes the last line
// for the server of the v2 API. The Makefile runs it before `go test` so
// that the first builds (about 40 s each on 2 cores) do not eat into test
// timeouts.
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
	for _, build := range []func(context.Context) (string, error){etcdtest.Build36, etcdtest.Build35} {
		path, err := build(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "buildetcd:", err)
			os.Exit(1)
		}
		fmt.Println(path)
	}
}
