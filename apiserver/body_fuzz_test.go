package apiserver

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// bodyTypes are the request bodies the API reads with decodeJSON.
func bodyTypes() []func() any {
	return []func() any{
		func() any { return new(eventsBody) },
		func() any { return new(jurisdictionJSON) },
		func() any { return new(electionJSON) },
		func() any { return new(optOutRequest) },
		func() any { return new(sessionRequest) },
		func() any { return new(preferencesJSON) },
		func() any { return new(confirmEmailRequest) },
	}
}

// FuzzDecodeJSON reads arbitrary bytes as every request body the API takes. Whatever comes,
// the reader does not panic, refuses with a 400 or 413 that has a code and a message, and
// what it accepts holds no control character that PostgreSQL or a person could not take.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `null`, `"x"`, `{"event_id":"a\u0000b"}`, `{"events":[{"reason":"\u0007"}]}`,
		`{"note":"ticket 4411"}`, `{"first_name":"Mar\u00eda","zip":"80202"}`, "{\"name\":\"\xff\xfe\"}",
		`{"languages":["en","es\u0000"]}`, `{"email":{"enabled":true,"address":"a@b.org"}}`,
		`{"a":1}{"b":2}`, `{"event_id":1}`, `{"Maria Garcia":1}`, `{"events":[` + strings.Repeat(`{},`, 50) + `{}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, newBody := range bodyTypes() {
			dst := newBody()
			err := decodeJSON(bytes.NewReader(body), 1<<20, dst)
			if err != nil {
				require.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, err.status)
				require.NotEmpty(t, err.code)
				require.NotEmpty(t, err.message)
				continue
			}
			requireNoControlChars(t, reflect.ValueOf(dst))
		}
	})
}

func requireNoControlChars(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			requireNoControlChars(t, v.Elem())
		}
	case reflect.String:
		require.True(t, ballot.PlainText(v.String()), "%q", v.String())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				requireNoControlChars(t, v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			requireNoControlChars(t, v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			requireNoControlChars(t, k)
			requireNoControlChars(t, v.MapIndex(k))
		}
	}
}
