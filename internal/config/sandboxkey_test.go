package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/config"
)

// TestSandboxSendGridSigningKey: the pair NewSandboxSendGridKey makes is read back from
// SANDBOX_SENDGRID_SIGNING_KEY, and its public half is what SENDGRID_WEBHOOK_PUBLIC_KEY
// takes (base64 PKIX, as SendGrid's settings show it); unset, there is no key.
func TestSandboxSendGridSigningKey(t *testing.T) {
	signing, public, err := config.NewSandboxSendGridKey()
	require.NoError(t, err)

	clearEnv(t)
	cfg, err := config.FromEnv()
	require.NoError(t, err)
	require.Nil(t, cfg.SandboxSendGridKey, "unset: the sandbox posts no SendGrid events")

	t.Setenv("SANDBOX_SENDGRID_SIGNING_KEY", signing)
	cfg, err = config.FromEnv()
	require.NoError(t, err)
	require.NotNil(t, cfg.SandboxSendGridKey)
	der, err := x509.MarshalPKIXPublicKey(&cfg.SandboxSendGridKey.PublicKey)
	require.NoError(t, err)
	require.Equal(t, public, base64.StdEncoding.EncodeToString(der))

	other, _, err := config.NewSandboxSendGridKey()
	require.NoError(t, err)
	require.NotEqual(t, signing, other, "every pair is new")
}

// TestSandboxSendGridSigningKeyIsCheckedAtStart: a key that is not base64, not PKCS#8, or
// not ECDSA P-256 stops the process with the variable's name, never the key itself.
func TestSandboxSendGridSigningKeyIsCheckedAtStart(t *testing.T) {
	pkcs8 := func(key any) string {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		require.NoError(t, err)
		return base64.StdEncoding.EncodeToString(der)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	_, public, err := config.NewSandboxSendGridKey()
	require.NoError(t, err)

	for name, tc := range map[string]struct{ value, want string }{
		"not base64":              {"not base64 at all!", "must be base64"},
		"a public key, not PKCS8": {public, "must be a PKCS#8 private key"},
		"another curve":           {pkcs8(p384), "must be an ECDSA P-256 key"},
		"not ECDSA":               {pkcs8(rsaKey), "must be an ECDSA P-256 key"},
	} {
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("SANDBOX_SENDGRID_SIGNING_KEY", tc.value)
			_, err := config.FromEnv()
			require.ErrorContains(t, err, "SANDBOX_SENDGRID_SIGNING_KEY "+tc.want)
			require.NotContains(t, err.Error(), tc.value, "no key in the message")
		})
	}
}
