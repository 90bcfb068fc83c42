// Whether an idle connection is still open, asked of the socket itself.

package client

import (
	"crypto/tls"
	"syscall"
	"unsafe"
)

// peerGone says whether the member has closed or reset c's connection, or
// sent something on it while it was idle: a non-blocking look at the
// socket, which takes nothing from it. A connection whose socket cannot be
// looked at is taken as open (a request lost on it is sent again when it
// may be).
func (c *conn) peerGone() bool {
	nc := c.nc
	secure := false
	if tc, ok := nc.(*tls.Conn); ok {
		nc, secure = tc.NetConn(), true
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	if c.peekFn == nil {
		c.peekFn = c.peek
	}
	c.gone = false
	if err := rc.Read(c.peekFn); err != nil {
		return true
	}
	// On TLS, a record may come while the connection is idle (a session
	// ticket): only the end of the connection counts.
	return c.gone && (!secure || c.peeked == 0)
}

// peek looks at fd without waiting and without taking anything from it.
func (c *conn) peek(fd uintptr) bool {
	n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.peekBuf[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK || errno == syscall.EINTR:
		c.gone, c.peeked = false, 0
	case errno != 0:
		c.gone, c.peeked = true, 0
	default:
		// 0: the member closed the connection; more: it sent something
		// no request asked for.
		c.gone, c.peeked = true, int(n)
	}
	return true
}
