package usps_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/usps"
)

func TestParseIMbSplitsTheFieldsBySixAndNineDigitMailerIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in                                               string
		barcodeID, stid, mid, serial, routing, tracking, piece string
	}{
		{name: "6-digit MID, 11-digit routing", in: "0030012345600000010180202123401",
			barcodeID: "00", stid: "300", mid: "123456", serial: "000000101", routing: "80202123401",
			tracking: "00300123456000000101", piece: "300123456000000101"},
		{name: "9-digit MID, no routing", in: "01234903456789123456",
			barcodeID: "01", stid: "234", mid: "903456789", serial: "123456", routing: "",
			tracking: "01234903456789123456", piece: "234903456789123456"},
		{name: "5-digit routing", in: "0070081234500000000180202",
			barcodeID: "00", stid: "700", mid: "812345", serial: "000000001", routing: "80202"},
		{name: "9-digit routing", in: "00700912345678000001802021234",
			barcodeID: "00", stid: "700", mid: "912345678", serial: "000001", routing: "802021234"},
		{name: "printed with spaces and hyphens", in: " 00 300 123456 000000101 80202-1234-01 ",
			barcodeID: "00", stid: "300", mid: "123456", serial: "000000101", routing: "80202123401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := usps.ParseIMb(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.barcodeID, m.BarcodeID())
			require.Equal(t, tc.stid, m.ServiceType())
			require.Equal(t, tc.mid, m.MailerID())
			require.Equal(t, tc.serial, m.SerialNumber())
			require.Equal(t, tc.routing, m.RoutingCode())
			require.Len(t, m.TrackingCode(), usps.TrackingCodeLen)
			require.Equal(t, m.TrackingCode()+m.RoutingCode(), m.Digits())
			require.Equal(t, m.TrackingCode()[2:], m.PieceKey())
			if tc.tracking != "" {
				require.Equal(t, tc.tracking, m.TrackingCode())
				require.Equal(t, tc.piece, m.PieceKey())
			}
		})
	}
}

func TestParseIMbRefusesWhatNoBarcodeCanBeWithoutRepeatingIt(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"empty":                        "",
		"19 digits":                    "0030012345600000010",
		"21 digits":                    "003001234560000001018",
		"24 digits":                    "003001234560000001018020",
		"32 digits":                    "00300123456000000101802021234011",
		"barcode ID second digit 5":    "0530012345600000010180202123401",
		"barcode ID second digit 9":    "0930012345600000010180202123401",
		"a letter":                     "0030012345600000010180202I23401",
		"a dot":                        "00300123456.000000101",
		"a NUL":                        "00300123456\x00000000101",
		"far too long with separators": strings.Repeat("0 ", 40),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := usps.ParseIMb(in)
			require.Error(t, err)
			var ie *usps.IMbError
			require.ErrorAs(t, err, &ie)
			if len(in) >= 5 {
				require.NotContains(t, err.Error(), in[:5])
			}
		})
	}
}

func TestAnIMbNeverPrintsItsDigits(t *testing.T) {
	t.Parallel()
	m, err := usps.ParseIMb("0030012345600000010180202123401")
	require.NoError(t, err)
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("scan", "imb", m)
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%v %+v %#v %s", m, m, m, m), logged.String()} {
		require.NotContains(t, s, "80202")
		require.NotContains(t, s, "000000101")
	}
}

func TestEnvelopesTellOutboundFromReturnByPieceKey(t *testing.T) {
	t.Parallel()
	out, _ := usps.ParseIMb("0030012345600000010180202123401")
	ret, _ := usps.ParseIMb("0030412345600000010280202999901")
	env := usps.Envelopes{Outbound: out, Return: ret}
	require.True(t, env.Distinct())

	// The same piece with another barcode ID (a presort level) and no routing code.
	scanned, _ := usps.ParseIMb("01300123456000000101")
	dir, ok := env.Direction(scanned)
	require.True(t, ok)
	require.Equal(t, usps.Outbound, dir)

	scanned, _ = usps.ParseIMb("00304123456000000102")
	dir, ok = env.Direction(scanned)
	require.True(t, ok)
	require.Equal(t, usps.Return, dir)

	// Same serial, another service type: another piece.
	scanned, _ = usps.ParseIMb("00301123456000000101")
	_, ok = env.Direction(scanned)
	require.False(t, ok)

	_, ok = usps.Envelopes{Outbound: out}.Direction(usps.IMb{})
	require.False(t, ok)
	same, _ := usps.ParseIMb("01300123456000000101")
	require.False(t, usps.Envelopes{Outbound: out, Return: same}.Distinct())
	require.True(t, usps.Envelopes{Outbound: out}.Distinct())
}
