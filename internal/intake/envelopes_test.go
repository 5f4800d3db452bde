package intake_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/intake"
)

func mailedEvent(outbound, ret string) intake.Event {
	return intake.Event{EventID: "e1", ElectionID: "el", VoterID: "v1", BallotID: "b1", Status: "mailed",
		OccurredAt: "2026-10-13T09:00:00-06:00", OutboundIMb: outbound, ReturnIMb: ret}
}

func TestAMailedEventKeepsOnlyTheTrackingCodesOfItsEnvelopes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)
	ev, verr := intake.Validate(mailedEvent("00 300 123456 000000101 80202-1234-01", "0030412345600000010280202"), now)
	require.Nil(t, verr)
	require.Equal(t, "00300123456000000101", ev.OutboundIMb, "the routing code (the voter's delivery point) is dropped")
	require.Equal(t, "00304123456000000102", ev.ReturnIMb)

	ev, verr = intake.Validate(mailedEvent("", ""), now)
	require.Nil(t, verr)
	require.Empty(t, ev.OutboundIMb)
	require.Empty(t, ev.ReturnIMb)
}

func TestEnvelopeBarcodesAreRefusedNamingTheFieldWithoutRepeatingThem(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)
	received := mailedEvent("0030012345600000010180202123401", "")
	received.Status = "received"
	for name, tc := range map[string]struct {
		ev    intake.Event
		field string
	}{
		"not digits":              {mailedEvent("0030012345600000010180202I23401", ""), "outbound_imb"},
		"24 digits":               {mailedEvent("", "003041234560000001028020"), "return_imb"},
		"barcode ID 05":           {mailedEvent("0530012345600000010180202123401", ""), "outbound_imb"},
		"on a received event":     {received, "outbound_imb"},
		"the same envelope twice": {mailedEvent("0030012345600000010180202123401", "01300123456000000101"), "return_imb"},
		"a control character":     {mailedEvent("00300123456\x0000000010", ""), "outbound_imb"},
	} {
		t.Run(name, func(t *testing.T) {
			_, verr := intake.Validate(tc.ev, now)
			require.NotNil(t, verr)
			require.Equal(t, tc.field, verr.Field)
			require.Equal(t, "invalid_field", verr.Code)
			require.NotContains(t, verr.Message, "123456")
		})
	}
}
