package loopback_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/loopback"
)

func TestOnlyThisMachineIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true, "LocalHost:1": true, "127.9.9.9:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.1:8080": false,
		"localhost.example.org:1": false, "127.0.0.1": false, "": false,
	} {
		require.Equal(t, want, loopback.Addr(addr), addr)
	}
	require.True(t, loopback.Host("::1"))
	require.False(t, loopback.Host("example.org"))
}
