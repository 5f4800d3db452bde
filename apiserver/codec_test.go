package apiserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/codec"
)

// codecAPI is the API with only its codec endpoint in use, open without a key as in dev.
func codecAPI(t testing.TB) http.Handler {
	t.Helper()
	spec, err := codec.NewKey("k1")
	require.NoError(t, err)
	c, err := codec.Parse(spec)
	require.NoError(t, err)
	return apiserver.New(apiserver.Config{Codec: c, CodecWithoutKey: true, Logger: slog.New(slog.DiscardHandler)})
}

// callCodec posts body (of unknown length when length is -1) to /codec/<op>.
func callCodec(h http.Handler, op string, body io.Reader, length int64) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/codec/"+op, body)
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorCode(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string }
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "%.200s", rec.Body.String())
	require.NotEmpty(t, body.Error.Message)
	return body.Error.Code
}

func TestCodecEncodesAndDecodesPayloads(t *testing.T) {
	h := codecAPI(t)
	in, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{
		{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`{"BallotKey":"b-1"}`)}}})
	require.NoError(t, err)
	sealed := callCodec(h, "encode", bytes.NewReader(in), int64(len(in)))
	require.Equal(t, http.StatusOK, sealed.Code, sealed.Body.String())
	require.NotContains(t, sealed.Body.String(), "BallotKey")

	opened := callCodec(h, "decode", bytes.NewReader(sealed.Body.Bytes()), int64(sealed.Body.Len()))
	require.Equal(t, http.StatusOK, opened.Code, opened.Body.String())
	var out commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(opened.Body.Bytes(), &out))
	require.Len(t, out.Payloads, 1)
	require.Equal(t, `{"BallotKey":"b-1"}`, string(out.Payloads[0].Data))
}

// TestCodecRefusesALargeBodyWithoutReadingIt: the codec endpoints read the whole body, and
// had no bound: one request could take a GiB of the API's memory.
func TestCodecRefusesALargeBodyWithoutReadingIt(t *testing.T) {
	h := codecAPI(t)
	for _, op := range []string{"decode", "encode"} {
		rec := callCodec(h, op, &repeat{b: ' ', n: 5 << 20}, 5<<20)
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, op)
		require.Equal(t, "too_large", errorCode(t, rec))

		body := &repeat{b: ' ', n: 1 << 30}
		rec = callCodec(h, op, body, -1) // chunked: no length said
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, op)
		require.Greater(t, body.n, int64(1<<30-8<<20), "%s: reading stops at the bound", op)
	}
}

// TestCodecErrorsNeverRepeatTheBody: the SDK's handler answered with its parser's and the
// codec's own words, which quote what was sent (a key id, a piece of the body).
func TestCodecErrorsNeverRepeatTheBody(t *testing.T) {
	h := codecAPI(t)
	for _, body := range []string{
		`{"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA==", "encryption-key-id": "TWFyaWEgR2FyY2lh"}, "data": "AAAA"}]}`,
		`{"payloads": "Maria Garcia"}`,
		`{"Maria Garcia": 1}`,
		`Maria Garcia`,
	} {
		rec := callCodec(h, "decode", strings.NewReader(body), int64(len(body)))
		require.Equal(t, http.StatusBadRequest, rec.Code, body)
		require.Contains(t, []string{"invalid_body", "invalid_payload"}, errorCode(t, rec))
		require.NotContains(t, rec.Body.String(), "Maria", body)
	}
}

// FuzzCodecBody: whatever the body, the codec endpoints answer 200, 400 or 413 with JSON,
// never a 5xx and never a panic.
func FuzzCodecBody(f *testing.F) {
	h := codecAPI(f)
	for _, s := range []string{
		`{"payloads":[]}`,
		`{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"e30="}]}`,
		`{"payloads":[{"metadata":{"encoding":"YmluYXJ5L2VuY3J5cHRlZA==","encryption-key-id":"azE="},"data":""}]}`,
		`{"payloads":[{"metadata":{"encoding":"YmluYXJ5L2VuY3J5cHRlZA==","encryption-key-id":"azE="},"data":"` +
			strings.Repeat("A", 64) + `"}]}`,
		`{"payloads":[null]}`, `{"payloads":[{}]}`, `{}`, `[]`, `null`, ``, "\x00", `{"payloads":[{"data":"@@"}]}`,
	} {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	f.Fuzz(func(t *testing.T, decode bool, body []byte) {
		op := "encode"
		if decode {
			op = "decode"
		}
		rec := callCodec(h, op, bytes.NewReader(body), int64(len(body)))
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge}, rec.Code,
			"%.300s", rec.Body.String())
		require.True(t, json.Valid(rec.Body.Bytes()), "%.300s", rec.Body.String())
	})
}
