package devstack_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/devstack"
)

// TestAUIWhoseProviderDoesNotAnswerIsAnError: ui-server reads its provider's discovery
// document while it is built and exits the whole process when that fails; StartUI reads it
// first and returns an error instead.
func TestAUIWhoseProviderDoesNotAnswerIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = devstack.StartUI(ctx, devstack.UIOptions{FrontendHostPort: "127.0.0.1:7233",
		SignIn: &devstack.UISignIn{ProviderURL: closed, ClientID: "temporal-ui"}})
	require.ErrorContains(t, err, "identity provider does not answer")

	_, err = devstack.StartUI(ctx, devstack.UIOptions{FrontendHostPort: "127.0.0.1:7233",
		SignIn: &devstack.UISignIn{ClientID: "temporal-ui"}})
	require.ErrorContains(t, err, "provider URL")
}
