package bench

import (
	"testing"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestMain builds etcd 3.5 before any test starts its clock and checks that
// no goroutine outlives the tests.
func TestMain(m *testing.M) {
	etcdtest.Main(m)
}
