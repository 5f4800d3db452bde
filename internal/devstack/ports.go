package devstack

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
)

// freePort asks the kernel for an unused TCP port on ip.
//
// The port is only "probably free": nothing stops another process from
// grabbing it between this call and the moment the Temporal services bind it.
// To make that window harmless on Linux (where ephemeral ports are handed out
// randomly and can repeat quickly), the port is parked in TIME_WAIT by opening
// a connection to it and closing that connection from the accepting side. The
// kernel will not hand a TIME_WAIT port out again for bind(":0") for about a
// minute, yet an explicit bind to it still works because Go listeners set
// SO_REUSEADDR. macOS and Windows allocate ephemeral ports sequentially, so the
// extra connection is skipped there (it would only burn through their smaller
// ephemeral range). This is the same trick the Temporal CLI dev server uses.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("listen on %s:0: %w", ip, err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return port, nil
	}

	// Dial the address we asked for rather than l.Addr(): for an unspecified
	// bind IP (0.0.0.0, ::) l.Addr() is not something we can connect to.
	dialIP := connectIP(ip)
	conn, err := net.Dial("tcp", net.JoinHostPort(dialIP, strconv.Itoa(port)))
	if err != nil {
		return 0, fmt.Errorf("reserve port %d: dial: %w", port, err)
	}
	defer conn.Close()
	accepted, err := l.Accept()
	if err != nil {
		return 0, fmt.Errorf("reserve port %d: accept: %w", port, err)
	}
	// Closing the server side first is what puts the port into TIME_WAIT.
	_ = accepted.Close()
	return port, nil
}

// checkPortFree reports an error if ip:port cannot be bound right now. It is
// used to fail early with a readable error: both the Temporal server and the
// UI server treat a failed bind as fatal (the UI server even calls os.Exit).
func checkPortFree(ip string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// connectIP maps a bind address to an address clients can dial: binding to the
// unspecified address (0.0.0.0 or ::) listens everywhere, but you cannot
// connect to it, so loopback is used instead.
func connectIP(bindIP string) string {
	ip := net.ParseIP(bindIP)
	switch {
	case ip == nil:
		return bindIP
	case ip.IsUnspecified() && ip.To4() == nil:
		return "::1"
	case ip.IsUnspecified():
		return "127.0.0.1"
	default:
		return bindIP
	}
}
