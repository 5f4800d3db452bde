package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/worker"
)

// TestHistoriesAreEncryptedAndCarryNoVoterData reads a ballot's raw history over gRPC, as
// anyone with access to the Temporal server could, and finds neither the voter's personal
// data nor any readable payload; operators read it through the codec endpoint.
func TestHistoriesAreEncryptedAndCarryNoVoterData(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	body := strings.TrimSuffix(eventJSON("codec-1", maria.VoterID, "DEN-CODEC", "challenged", time.Now().Add(-time.Hour)), "}") +
		`,"reason":"the signature does not match","cure_deadline":"` + time.Now().AddDate(0, 0, 10).Format(time.DateOnly) + `"}`
	resp := post(t, d, d.DemoKey, "application/json", body)
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	workflowID := resp.Results[0].WorkflowID
	require.Eventually(t, func() bool { return len(outboxFor(d, "email", maria.Email)) == 1 }, 30*time.Second, 50*time.Millisecond)

	raw, err := worker.Dial(ctx, d.Stack.FrontendHostPort(), d.Stack.Namespace(), converter.GetDefaultDataConverter(),
		slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer raw.Close()
	iter := raw.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	// Ciphertext is random: drop it from the copy searched, or a name could turn up in it by
	// chance. What remains is every readable field of the history.
	readable := proto.Clone(h)
	dropCiphertext(readable.ProtoReflect())
	dump, err := protojson.Marshal(readable)
	require.NoError(t, err)
	for _, secret := range []string{maria.FirstName, maria.LastName, maria.Email, maria.SMS, "1985-03-14",
		"signature does not match", "600100001"} {
		require.NotContains(t, string(dump), secret)
	}
	input := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	require.NotEmpty(t, input.GetPayloads())
	for _, p := range input.GetPayloads() {
		require.Equal(t, codec.EncodingEncrypted, string(p.GetMetadata()["encoding"]))
	}

	// The dev stack's Temporal UI decodes it through the API's codec endpoint.
	decoded := callCodec(t, d.APIURL, d.Stack.UIURL(), "", input, http.StatusOK)
	require.Contains(t, decoded, "BallotKey")
	callCodec(t, d.APIURL, "http://evil.example", "", input, http.StatusForbidden)

	// Outside dev, only operator keys may decode.
	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: d.Store, Temporal: d.Temporal, Codec: d.Codec,
		CodecOrigin: "https://temporal-ui.example", Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	_, operatorKey, err := d.Store.APIKeyCreate(ctx, store.APIKey{Role: store.RoleOperator, Label: "test"}, "test")
	require.NoError(t, err)
	callCodec(t, srv.URL, "https://temporal-ui.example", "", input, http.StatusUnauthorized)
	callCodec(t, srv.URL, "https://temporal-ui.example", d.DemoKey, input, http.StatusForbidden)
	require.Contains(t, callCodec(t, srv.URL, "https://temporal-ui.example", operatorKey, input, http.StatusOK), "BallotKey")
}

func callCodec(t *testing.T, base, origin, key string, payloads *commonpb.Payloads, want int) string {
	t.Helper()
	body, err := protojson.Marshal(payloads)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, base+"/codec/decode", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	req.Header.Set("Origin", origin)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Equal(t, want, resp.StatusCode, "%s", out)
	if want == http.StatusOK {
		require.Equal(t, origin, resp.Header.Get("Access-Control-Allow-Origin"))
		var decoded commonpb.Payloads
		require.NoError(t, protojson.Unmarshal(out, &decoded))
		var s strings.Builder
		for _, p := range decoded.Payloads {
			s.Write(p.Data)
		}
		return s.String()
	}
	return string(out)
}

// dropCiphertext clears the data of every encrypted payload in m, keeping their metadata.
func dropCiphertext(m protoreflect.Message) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		if string(p.GetMetadata()["encoding"]) == codec.EncodingEncrypted {
			p.Data = nil
		}
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				dropCiphertext(v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				dropCiphertext(mv.Message())
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			dropCiphertext(v.Message())
		}
		return true
	})
}
