// Command etcd is etcd 3.5 built from the Go module proxy. Debian only ships
// 3.4 and 3.6 dropped the v2 API, so the tests build 3.5 themselves;
// go install cannot do it because the etcd server module has replace
// directives, hence this one-line main in a module of our own.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
