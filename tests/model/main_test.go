// Package model runs random sequences of key operations against real etcd
// servers (3.4 and 3.5) and against a small model of the v2 store written
// here, and checks that every result agrees: action, value, error code and
// previous node. It also checks that keys drawn from all of UTF-8 and the
// reserved characters round-trip exactly or are refused before sending.
package model

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock and fails the
// package when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	if _, err := etcdtest.Build35(context.Background()); err != nil {
		println(err.Error())
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}
