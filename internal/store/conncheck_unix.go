//go:build linux || darwin || freebsd || netbsd || openbsd

package store

import (
	"errors"
	"syscall"
)

// peekIdle peeks at the socket without blocking: EAGAIN means an idle, open connection.
func peekIdle(raw syscall.RawConn) bool {
	alive := true
	var b [1]byte
	err := raw.Read(func(fd uintptr) bool {
		// Bytes waiting and end of stream (no error) both mean the server is ending the
		// session; only "would block" means an open, quiet connection.
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		return true // done: never wait for the socket to become readable
	})
	return err == nil && alive
}
