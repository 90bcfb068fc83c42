package etcdtest_test

import (
	"testing"

	"github.com/meycoin/goetcd/tests/etcdtest"
)

// TestV3Servers starts a 3-member cluster of each server the v3 backend
// runs on (3.6 has no v2 API, so readiness and the leader come from the v3
// status) and finds the new leader after the old one is killed.
func TestV3Servers(t *testing.T) {
	for _, s := range etcdtest.V3Servers(t) {
		t.Run(s.String(), func(t *testing.T) {
			c := etcdtest.StartCluster(t, s, 3)
			old := c.LeaderIndex()
			c.Kill(old)
			if now := c.LeaderIndex(); now == old {
				t.Fatalf("the killed member %d is still the leader", old)
			}
		})
	}
}
