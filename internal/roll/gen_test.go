package roll_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

var ctx = context.Background()

// counties are the Colorado jurisdictions every roll test configures.
var counties = []string{"denver", "arapahoe", "boulder", "el-paso"}

// setup returns a store on a fresh database with the test counties of CO.
func setup(t testing.TB) *store.Store {
	t.Helper()
	st := testdb.Open(t)
	for _, c := range counties {
		_, _, err := st.JurisdictionSave(ctx, store.Jurisdiction{State: "CO", County: c, Name: c + " elections",
			TimeZone: "America/Denver", EmailFrom: "ballots@" + c + ".example.org", EmailFromName: c,
			SMSFrom: "+17205550100", VoiceFrom: "+17205550100", HelpText: "Call 720-555-0100."}, "test")
		require.NoError(t, err)
	}
	return st
}

// fakeRoll makes a deterministic voter roll of n rows. Every 250th row (from the 8th) has
// one bad field, cycling through the kinds of mistakes a real roll has. Version 2 of the
// roll changes a few rows (changed reports which) and nothing else.
type fakeRoll struct {
	n       int
	version int
	// special rows: row index -> what version 2 does to it
	special map[int]string
}

// The bad values, by the field they break. None of them may appear in a rejection.
var badValues = []struct{ field, value string }{
	{"date_of_birth", "1985-13-45"},
	{"residential_zip", "8020"},
	{"status", "deceased"},
	{"email", "not-an-email@"},
	{"phone", "555-0199"},
	{"county", "atlantis"},
}

const (
	becomesConfidential = "becomes confidential"
	emailChanges        = "email changes"
)

func newFakeRoll(n, version int) fakeRoll {
	return fakeRoll{n: n, version: version, special: map[int]string{
		100: becomesConfidential, 200: emailChanges, 300: emailChanges,
	}}
}

var (
	firstNames = []string{"Maria", "James", "José", "Ana", "Riley", "Sam", "Zoë", "Nguyễn", "Li", "Renée", "Ömer", "Jo Ann"}
	lastNames  = []string{"Garcia", "Smith", "Núñez", "Park", "Lee", "O'Brien", "Martínez", "Tran", "Kowalski", "Smith-Jones"}
	statuses   = []string{"active", "active", "active", "active", "inactive", "pending", "canceled"}
)

// bad returns the index into badValues that row i breaks, or -1.
func (f fakeRoll) bad(i int) int {
	if i%250 != 7 {
		return -1
	}
	return (i / 250) % len(badValues)
}

// changed reports whether version 2 changes row i.
func (f fakeRoll) changed(i int) bool {
	if f.bad(i) >= 0 {
		return false
	}
	_, special := f.special[i]
	return special || i%2713 == 11
}

func (f fakeRoll) row(i int) map[string]string {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	row := map[string]string{
		"voter_id":        fmt.Sprintf("%09d", 700000000+i),
		"first_name":      firstNames[r.IntN(len(firstNames))],
		"middle_name":     []string{"", "", "A.", "Ann Marie"}[r.IntN(4)],
		"last_name":       lastNames[r.IntN(len(lastNames))],
		"suffix":          []string{"", "", "", "", "Jr.", "III"}[r.IntN(6)],
		"date_of_birth":   fmt.Sprintf("%04d-%02d-%02d", 1930+r.IntN(75), 1+r.IntN(12), 1+r.IntN(28)),
		"residential_zip": fmt.Sprintf("80%03d", r.IntN(1000)),
		"county":          counties[r.IntN(len(counties))],
		"status":          statuses[r.IntN(len(statuses))],
		"confidential":    []string{"N", "false", "0", "N", "N", "N", "N", "N", "N", "Y"}[r.IntN(10)],
		"uocava":          []string{"N", "N", "Y", "false"}[r.IntN(4)],
		"language":        []string{"en", "en", "es", ""}[r.IntN(4)],
	}
	if r.IntN(4) == 0 {
		row["residential_zip"] += fmt.Sprintf("-%04d", r.IntN(10000)) // ZIP+4
	}
	if r.IntN(3) > 0 {
		row["email"] = fmt.Sprintf("voter%d@example.org", i)
	}
	switch r.IntN(3) {
	case 0:
		row["phone"] = fmt.Sprintf("+1720555%04d", r.IntN(10000))
	case 1:
		row["phone"] = fmt.Sprintf("(303) 555-%04d", r.IntN(10000))
	}
	if _, special := f.special[i]; special {
		row["email"], row["confidential"], row["status"] = fmt.Sprintf("voter%d@example.org", i), "N", "active"
	}
	if b := f.bad(i); b >= 0 {
		row[badValues[b].field] = badValues[b].value
	}
	if f.version == 2 && f.changed(i) {
		switch f.special[i] {
		case becomesConfidential:
			row["confidential"] = "Y"
		case emailChanges:
			row["email"] = fmt.Sprintf("new.voter%d@example.org", i)
		default:
			row["last_name"] += "-Nakamura"
		}
	}
	return row
}

// csv writes the roll as CSV; row i is on line i+2 (the header is line 1).
func (f fakeRoll) csv(t testing.TB) *bytes.Buffer {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	cols := roll.VoterColumns()
	require.NoError(t, w.Write(cols))
	rec := make([]string, len(cols))
	for i := range f.n {
		row := f.row(i)
		for j, c := range cols {
			rec[j] = row[c]
		}
		require.NoError(t, w.Write(rec))
	}
	w.Flush()
	require.NoError(t, w.Error())
	return &buf
}

// ndjson writes the roll as NDJSON; row i is on line i+1. Flags are JSON booleans.
func (f fakeRoll) ndjson(t testing.TB) *bytes.Buffer {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range f.n {
		row := f.row(i)
		obj := make(map[string]any, len(row))
		for k, v := range row {
			obj[k] = v
		}
		for _, flag := range []string{"confidential", "uocava"} {
			if v, ok := roll.Flag(row[flag]); ok {
				obj[flag] = v
			}
		}
		require.NoError(t, enc.Encode(obj))
	}
	return &buf
}

// expectedRejections are the rejections of the roll's bad rows, with firstLine the line of
// row 0.
func (f fakeRoll) expectedRejections(firstLine int) []fileimport.Rejection {
	var out []fileimport.Rejection
	for i := range f.n {
		if b := f.bad(i); b >= 0 {
			out = append(out, fileimport.Rejection{Line: i + firstLine, Field: badValues[b].field})
		}
	}
	return out
}

func (f fakeRoll) count(pred func(i int, row map[string]string) bool) int {
	n := 0
	for i := range f.n {
		if pred(i, f.row(i)) {
			n++
		}
	}
	return n
}

// withoutReasons drops the reasons of rejections, to compare lines and fields.
func withoutReasons(rs []fileimport.Rejection) []fileimport.Rejection {
	out := make([]fileimport.Rejection, len(rs))
	for i, r := range rs {
		out[i] = fileimport.Rejection{Line: r.Line, Field: r.Field}
	}
	return out
}
