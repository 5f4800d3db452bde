package store

import (
	"context"
	"crypto/tls"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// idleConnAlive is the pool's PrepareConn hook. pgxpool pings a connection only after it
// has been idle for a second, so after a database restart or failover each recently used
// connection would fail the next statement sent on it. A dead connection shows on its
// socket: the server sent its goodbye (a FATAL message, then end of stream). One
// non-blocking peek per acquire, no round trip, sees it, and the pool takes another
// connection instead.
func idleConnAlive(_ context.Context, conn *pgx.Conn) (bool, error) {
	return socketAlive(conn.PgConn().Conn()), nil
}

// socketAlive reports whether nothing is waiting to be read on an idle connection's socket.
// An idle PostgreSQL connection receives nothing unless the server is ending it, so bytes
// waiting or end of stream both mean it must not be used. A connection whose socket cannot
// be inspected counts as alive.
func socketAlive(c net.Conn) bool {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	return peekIdle(raw)
}
