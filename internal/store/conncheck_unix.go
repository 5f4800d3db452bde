//go:build linux || darwin || freebsd || netbsd || openbsd

package store

import (
	"errors"
	"syscall"
)

// peekIdle peeks at the socket without blocking: EAGAIN means an idle, open connection.
//
// It runs under Control, not Read: RawConn.Read first takes the socket's read lock, which a
// read still pending in pgx's background reader may hold until data arrives, so an
// acquire would wait on a quiet connection for as long as it stays quiet.
func peekIdle(raw syscall.RawConn) bool {
	alive := true
	var b [1]byte
	err := raw.Control(func(fd uintptr) {
		// Bytes waiting and end of stream (no error) both mean the server is ending the
		// session; only "would block" means an open, quiet connection.
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
	})
	return err == nil && alive
}
