package etcdtest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main is the TestMain of packages that test against real etcd: it builds
// etcd 3.5 before any test starts its clock, runs the tests, and fails the
// run if a goroutine (client, transport, watch, member reaper) outlives
// them. Call it as func TestMain(m *testing.M) { etcdtest.Main(m) }.
func Main(m *testing.M) {
	if _, err := Build35(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}
