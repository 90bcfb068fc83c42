// Package model runs random sequences of key operations against real etcd
// servers (3.4 and 3.5) and against a small model of the v2 store written
// here, and checks that every result agrees: action, value, error code and
// previous node. It also checks that keys drawn from all of UTF-8 and the
// reserved characters round-trip exactly or are refused before sending.
package model

import (
	"context"
	"flag"
	"os"
	"strconv"
	"testing"

	"go.uber.org/goleak"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock and fails the
// package when a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	flag.Parse()
	explicitChecks = os.Getenv("RAPID_CHECKS") != ""
	flag.Visit(func(f *flag.Flag) { explicitChecks = explicitChecks || f.Name == "rapid.checks" })
	if _, err := etcdtest.Build35(context.Background()); err != nil {
		println(err.Error())
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

// explicitChecks is set when -rapid.checks or RAPID_CHECKS chose the number
// of checks; it then applies to every property.
var explicitChecks bool

// setChecks makes the next rapid.Check run n checks, or the number that
// GOETCD_MODEL_SEQUENCES gives, unless -rapid.checks or RAPID_CHECKS chose
// one. The tests of this package do not run in parallel.
func setChecks(t *testing.T, n int) {
	t.Helper()
	if explicitChecks {
		return
	}
	if v := os.Getenv(SequencesEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("%s=%q is not a positive number", SequencesEnv, v)
		}
	}
	if err := flag.Set("rapid.checks", strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
}
