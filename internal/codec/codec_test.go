package codec_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/ballotflow/ballotflow/internal/codec"
)

func newCodec(t *testing.T, ids ...string) (*codec.Codec, []string) {
	var specs []string
	for _, id := range ids {
		k, err := codec.NewKey(id)
		require.NoError(t, err)
		specs = append(specs, k)
	}
	c, err := codec.Parse(joinSpecs(specs))
	require.NoError(t, err)
	return c, specs
}

func joinSpecs(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x)
	}
	return b.String()
}

func TestPayloadsAreSealedAndOpenAgain(t *testing.T) {
	c, _ := newCodec(t, "k1")
	dc := c.DataConverter()
	p, err := dc.ToPayload(map[string]string{"reason": "signature does not match"})
	require.NoError(t, err)
	require.Equal(t, codec.EncodingEncrypted, string(p.Metadata["encoding"]))
	require.Equal(t, "k1", string(p.Metadata["encryption-key-id"]))
	require.NotContains(t, string(p.Data), "signature")

	var back map[string]string
	require.NoError(t, dc.FromPayload(p, &back))
	require.Equal(t, "signature does not match", back["reason"])
}

func TestRotatedKeysStillOpenOldPayloads(t *testing.T) {
	old, oldSpecs := newCodec(t, "2025")
	p, err := old.DataConverter().ToPayload("ballot status")
	require.NoError(t, err)

	newK, err := codec.NewKey("2026")
	require.NoError(t, err)
	rotated, err := codec.Parse(newK + "," + oldSpecs[0])
	require.NoError(t, err)
	var s string
	require.NoError(t, rotated.DataConverter().FromPayload(p, &s))
	require.Equal(t, "ballot status", s)
	fresh, err := rotated.DataConverter().ToPayload("x")
	require.NoError(t, err)
	require.Equal(t, "2026", string(fresh.Metadata["encryption-key-id"]))

	other, _ := newCodec(t, "2027")
	require.ErrorContains(t, other.DataConverter().FromPayload(p, &s), `key "2025", which is not configured`)
}

func TestTamperedPayloadsAreRefused(t *testing.T) {
	c, _ := newCodec(t, "k1")
	p, err := c.DataConverter().ToPayload("accepted")
	require.NoError(t, err)
	p.Data[len(p.Data)-1] ^= 1
	var s string
	require.Error(t, c.DataConverter().FromPayload(p, &s))
}

func TestUnencryptedPayloadsPassThrough(t *testing.T) {
	c, _ := newCodec(t, "k1")
	plain, err := converter.GetDefaultDataConverter().ToPayload("old history")
	require.NoError(t, err)
	var s string
	require.NoError(t, c.DataConverter().FromPayload(plain, &s))
	require.Equal(t, "old history", s)
}

func TestParseRefusesBadKeys(t *testing.T) {
	for _, spec := range []string{"", "nokey", "k1:notbase64!", "k1:c2hvcnQ=", ":AAAA"} {
		_, err := codec.Parse(spec)
		require.Error(t, err, spec)
	}
	k, _ := codec.NewKey("k1")
	_, err := codec.Parse(k + "," + k)
	require.ErrorContains(t, err, "twice")
}
