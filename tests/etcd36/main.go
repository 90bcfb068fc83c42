// Command etcd36 is etcd 3.6 built from the Go module proxy, for the tests
// of the v3 backend (3.6 serves no v2 API). It is a module of its own
// because one module cannot require two versions of
// go.etcd.io/etcd/server/v3, and the tests module needs 3.5.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
