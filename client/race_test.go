//go:build race

package client

// The race detector makes some measurements meaningless or slow (the
// retention test decodes twenty listings of 100,000 keys); they skip under
// it, and make test runs them without it.
func init() { raceDetector = true }
