// Command etcd is the published etcd server module behind a plain main, so that the lab can build
// etcd from the Go module proxy (the etcd repository's own main package is not a published module).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
