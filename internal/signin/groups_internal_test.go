package signin

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGroupsAreReadWhereverTheProviderPutsThem: Dex, Okta and Azure AD put a list under a
// top-level claim, Keycloak under realm_access.roles, Auth0 under a URL-named claim.
func TestGroupsAreReadWhereverTheProviderPutsThem(t *testing.T) {
	var claims map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{
		"groups": ["a", "ballotflow-operators", 7],
		"roles": "ballotflow-operators",
		"realm_access": {"roles": ["ballotflow-operators"]},
		"https://county.example/groups": ["ballotflow-operators"],
		"weird": {"roles": "x"}, "number": 3
	}`), &claims))
	require.Equal(t, []string{"a", "ballotflow-operators"}, groupsOf(claims, "groups"))
	require.Equal(t, []string{"ballotflow-operators"}, groupsOf(claims, "roles"))
	require.Equal(t, []string{"ballotflow-operators"}, groupsOf(claims, "realm_access.roles"))
	require.Equal(t, []string{"ballotflow-operators"}, groupsOf(claims, "https://county.example/groups"))
	require.Equal(t, []string{"x"}, groupsOf(claims, "weird.roles"))
	require.Empty(t, groupsOf(claims, "number"))
	require.Empty(t, groupsOf(claims, "number.roles"))
	require.Empty(t, groupsOf(claims, "missing.path.deep"))
}

func TestClaimsTakenIntoTheAuditLogAreBoundedAndPrintable(t *testing.T) {
	require.Equal(t, "ab", printable("a\nb"))
	long := printable(string(make([]byte, 0)) + stringOf('é', 300))
	require.LessOrEqual(t, len(long), 200)
	require.True(t, json.Valid([]byte(`"`+long+`"`)), "still valid UTF-8")
}

func stringOf(r rune, n int) string {
	s := make([]rune, n)
	for i := range s {
		s[i] = r
	}
	return string(s)
}
