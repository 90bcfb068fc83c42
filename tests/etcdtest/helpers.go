package etcdtest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Helpers the suites share for waiting on a cluster: WaitFor polls a
// condition (tests wait on conditions, never on fixed sleeps) and
// Cluster.MemberIndex finds the member behind a client URL.

// WaitTimeout bounds every WaitFor; it is generous because a busy 2-core
// machine runs several etcd clusters and test binaries at once.
const WaitTimeout = 2 * time.Minute

// waitPoll is how often WaitFor checks its condition.
const waitPoll = 10 * time.Millisecond

// WaitFor checks cond every few milliseconds until it holds (returns true,
// or a nil error) and fails the test after WaitTimeout, or when the test's
// context ends, saying what it waited for (and cond's last error).
func WaitFor[Cond func() bool | func() error](t testing.TB, what string, cond Cond) {
	t.Helper()
	check := func() error {
		switch c := any(cond).(type) {
		case func() bool:
			if !c() {
				return errNotYet
			}
			return nil
		case func() error:
			return c()
		}
		panic("unreachable")
	}
	ctx, cancel := context.WithTimeout(t.Context(), WaitTimeout)
	defer cancel()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			if err == errNotYet {
				t.Fatalf("timed out waiting for %s", what)
			}
			t.Fatalf("timed out waiting for %s: %v", what, err)
		case <-time.After(waitPoll):
		}
	}
}

var errNotYet = errors.New("not yet")

// MemberIndex returns the index (in Members) of the member whose client URL
// is clientURL, failing the test when there is none.
func (c *Cluster) MemberIndex(t testing.TB, clientURL string) int {
	t.Helper()
	for i, m := range c.Members() {
		if m.ClientURL == clientURL {
			return i
		}
	}
	t.Fatalf("etcdtest: %s is not the client URL of a member of the cluster", clientURL)
	return -1
}

// CallContext is a context for one call of a test: it ends after timeout, or
// with the test.
func CallContext(t testing.TB, timeout time.Duration) context.Context {
	c, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return c
}
