//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package store

import "syscall"

// peekIdle cannot peek on this platform; the pool's pings and inTx's retries remain.
func peekIdle(syscall.RawConn) bool { return true }
