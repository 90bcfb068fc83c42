//go:build !linux

package client

// peerGone says the connection is open: where the socket cannot be looked
// at without reading from it, a request lost on a connection the member
// closed is sent again when it may be.
func (c *conn) peerGone() bool { return false }
