package jsonbound_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/jsonbound"
)

// An object's members come in the order written, a name given twice twice, each value as
// written; anything but exactly one object is refused.
func TestObjectMembersReadsExactlyOneObjectInOrder(t *testing.T) {
	members, ok := jsonbound.ObjectMembers([]byte(` {"b": 1, "a": {"x": [1, 2]}, "b": "two"} `))
	require.True(t, ok)
	require.Equal(t, []jsonbound.Member{
		{Name: "b", Value: json.RawMessage(`1`)},
		{Name: "a", Value: json.RawMessage(`{"x": [1, 2]}`)},
		{Name: "b", Value: json.RawMessage(`"two"`)},
	}, members)

	members, ok = jsonbound.ObjectMembers([]byte(`{}`))
	require.True(t, ok)
	require.Empty(t, members)

	for _, bad := range []string{``, `[]`, `"a"`, `null`, `{"a": 1} {}`, `{"a": 1}x`, `{"a" 1}`, `{"a": 1,}`, `{"a": 1`, `{1: 2}`} {
		_, ok := jsonbound.ObjectMembers([]byte(bad))
		require.False(t, ok, "%q", bad)
	}
}

// A value is text when it is a string, a number, a boolean or null; a string that is not
// UTF-8 says so.
func TestTextIsAValueAsWritten(t *testing.T) {
	for raw, want := range map[string]string{`"José"`: "José", `"a\nb"`: "a\nb", `12.50`: "12.50", `1e999`: "1e999",
		`true`: "true", `false`: "false", `null`: ""} {
		got, problem := jsonbound.Text(json.RawMessage(raw))
		require.Equal(t, jsonbound.IsText, problem, raw)
		require.Equal(t, want, got, raw)
	}
	for raw, want := range map[string]jsonbound.TextProblem{`{}`: jsonbound.NotText, `[1]`: jsonbound.NotText,
		``: jsonbound.NotText, "\"\xff\"": jsonbound.NotUTF8} {
		_, problem := jsonbound.Text(json.RawMessage(raw))
		require.Equal(t, want, problem, "%q", raw)
	}
}

// ObjectMembers accepts exactly the valid JSON texts that are one object, and Text reads
// any of their values without failing.
func FuzzObjectMembers(f *testing.F) {
	for _, seed := range []string{`{"voter_id": "V1", "uocava": true, "n": 1.5, "x": null}`, `{"a": {"b": [1, {"c": "d"}]}}`,
		`{"a": "\u00e9\ud83d\ude00"}`, "{\"a\": \"\xff\"}", `{"a": 1} {}`, `[{"a": 1}]`, ` { } `, `{"a":`, `{"a": 1e999}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		members, ok := jsonbound.ObjectMembers(raw)
		trimmed := bytes.TrimLeft(raw, " \t\r\n")
		oneObject := json.Valid(raw) && len(trimmed) > 0 && trimmed[0] == '{'
		if ok != oneObject {
			t.Fatalf("ObjectMembers(%q) ok = %v; want %v", raw, ok, oneObject)
		}
		for _, m := range members {
			if !json.Valid(m.Value) {
				t.Fatalf("member %q of %q has a value that is not JSON: %q", m.Name, raw, m.Value)
			}
			text, problem := jsonbound.Text(m.Value)
			if problem == jsonbound.IsText && m.Value[0] == '"' {
				var want string
				if err := json.Unmarshal(m.Value, &want); err != nil || text != want {
					t.Fatalf("Text(%q) = %q; want %q", m.Value, text, want)
				}
			}
		}
	})
}
