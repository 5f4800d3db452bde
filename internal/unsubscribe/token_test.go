package unsubscribe_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/unsubscribe"
)

func testKey(t testing.TB, fill byte) *unsubscribe.Key {
	t.Helper()
	k, err := unsubscribe.NewKey(bytes.Repeat([]byte{fill}, 32))
	require.NoError(t, err)
	return k
}

func TestTokenRoundTripCarriesNoPersonalData(t *testing.T) {
	k := testKey(t, 7)
	// A subscription id of many digits: a short one ("42") turns up in random base64 now and then.
	const id = 4815162342
	token := k.Seal(id, "Maria.Garcia@Example.org", "es")
	require.LessOrEqual(t, len(token), unsubscribe.MaxTokenLength)
	require.Regexp(t, `^[A-Za-z0-9_-]+$`, token, "safe in a URL path as it is")
	for _, leak := range []string{"maria", "garcia", "example", "4815162342"} {
		require.NotContains(t, strings.ToLower(token), leak)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "maria", "the address is not in the token, only a keyed tag of it")

	c, err := k.Open(token)
	require.NoError(t, err)
	require.Equal(t, int64(id), c.SubscriptionID)
	require.Equal(t, "es", c.Language)
	require.True(t, k.AddressMatches(c, " maria.garcia@example.ORG"), "case and spaces aside")
	require.False(t, k.AddressMatches(c, "new.address@example.org"), "a replaced address is not the one the email went to")

	require.NotEqual(t, token, k.Seal(42, "Maria.Garcia@Example.org", "es"), "each token is sealed with a fresh nonce")

	long := k.Seal(1, "a@example.org", "zh-Hant")
	c, err = k.Open(long)
	require.NoError(t, err)
	require.Equal(t, "zh-Hant", c.Language)
	c, err = k.Open(k.Seal(1, "a@example.org", "<script>"))
	require.NoError(t, err)
	require.Empty(t, c.Language, "only a plain language code is kept")
}

func TestTokensThatAreNotOurs(t *testing.T) {
	k := testKey(t, 7)
	good := k.Seal(42, "a@example.org", "en")
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	flipped := bytes.Clone(raw)
	flipped[len(flipped)-1] ^= 1
	otherVersion := bytes.Clone(raw)
	otherVersion[0] = 2
	for name, token := range map[string]string{
		"empty":          "",
		"not base64":     "not a token!",
		"padded base64":  base64.URLEncoding.EncodeToString(raw),
		"standard b64":   strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+",
		"truncated":      good[:len(good)-4],
		"altered":        base64.RawURLEncoding.EncodeToString(flipped),
		"other version":  base64.RawURLEncoding.EncodeToString(otherVersion),
		"another key":    testKey(t, 8).Seal(42, "a@example.org", "en"),
		"too long":       good + strings.Repeat("A", unsubscribe.MaxTokenLength),
		"zero id":        k.Seal(0, "a@example.org", "en"),
		"negative id":    k.Seal(-1, "a@example.org", "en"),
		"trailing space": good + " ",
	} {
		_, err := k.Open(token)
		require.ErrorIs(t, err, unsubscribe.ErrInvalid, name)
	}
	_, err := unsubscribe.NewKey([]byte("short"))
	require.Error(t, err)
}

// FuzzOpen: no input makes Open panic or accept a token it did not seal; the seeds (run by
// go test) are real tokens and their near misses.
func FuzzOpen(f *testing.F) {
	k := testKey(f, 7)
	good := k.Seal(42, "a@example.org", "en")
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(k.Seal(1<<40, "b@example.org", "zh-Hant"))
	f.Add(testKey(f, 9).Seal(42, "a@example.org", "en"))
	f.Add("")
	f.Add("AQ")
	f.Add(strings.Repeat("A", unsubscribe.MaxTokenLength+1))
	f.Add("%00")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := k.Open(token)
		if err != nil {
			require.ErrorIs(t, err, unsubscribe.ErrInvalid)
			return
		}
		require.Positive(t, c.SubscriptionID)
		require.LessOrEqual(t, len(token), unsubscribe.MaxTokenLength)
		// Only tokens sealed with k open: the fuzzer cannot forge the GCM tag, so what opens
		// is a seed, and opening it again says the same.
		again, err := k.Open(token)
		require.NoError(t, err)
		require.Equal(t, c, again)
	})
}
