package client

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (an
// unclosed response body, a watcher or an AutoSync that outlives its
// context, an idle connection of a test's transport).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
