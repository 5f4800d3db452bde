package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/config"
)

// TestOperatorSignInVariablesAreRead: the OIDC_* variables reach the configuration, lists
// written with commas or spaces alike, and the groups claim and the dashboard's scopes have
// defaults that work with most providers.
func TestOperatorSignInVariablesAreRead(t *testing.T) {
	clearEnv(t)
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	require.Empty(t, cfg.OIDCIssuer, "without an issuer, operators use keys only")
	require.Equal(t, "groups", cfg.OIDCGroupsClaim)
	require.Equal(t, []string{"openid", "profile", "email"}, cfg.OIDCOperatorScopes)

	t.Setenv("OIDC_ISSUER", " https://login.example.gov/realms/county ")
	t.Setenv("OIDC_AUDIENCE", "temporal-ui, ballotflow-operator")
	t.Setenv("OIDC_GROUPS_CLAIM", "realm_access.roles")
	t.Setenv("OIDC_OPERATOR_GROUP", "ballotflow-operators")
	t.Setenv("OIDC_OPERATOR_CLIENT_ID", "ballotflow-operator")
	t.Setenv("OIDC_OPERATOR_SCOPES", "openid email,groups")
	cfg, err = config.FromEnv()
	require.NoError(t, err)
	require.Equal(t, "https://login.example.gov/realms/county", cfg.OIDCIssuer)
	require.Equal(t, []string{"temporal-ui", "ballotflow-operator"}, cfg.OIDCAudiences)
	require.Equal(t, "realm_access.roles", cfg.OIDCGroupsClaim)
	require.Equal(t, "ballotflow-operators", cfg.OIDCOperatorGroup)
	require.Equal(t, "ballotflow-operator", cfg.OIDCOperatorClientID)
	require.Equal(t, []string{"openid", "email", "groups"}, cfg.OIDCOperatorScopes)
}
