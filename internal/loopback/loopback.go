// Package loopback tells whether a host or a listen address stays on this machine: what
// `dev`, the development identity provider and plain-http sign-in issuers are allowed.
package loopback

import (
	"net"
	"strings"
)

// Host reports whether host (a name or an IP, without port) is this machine: localhost
// (host names are case-insensitive) or a loopback address.
func Host(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr reports whether a listen address (host:port) binds loopback only; an empty host
// binds every interface.
func Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && Host(host)
}
