package store

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Fold is the form in which the portal compares names: accents removed, case folded, runs of
// white space made one space, ends trimmed. "  José  DE la Cruz " and "jose de la cruz" fold
// alike; "Jim" and "James" do not.
func Fold(name string) string {
	if isASCII(name) { // nothing to decompose; most names, and a roll sync folds millions
		return strings.Join(strings.Fields(strings.ToLower(name)), " ")
	}
	// A transformer keeps state, so each call takes one of its own from the pool
	// (transform.String resets it): decompose, drop the combining marks, recompose.
	t := folders.Get().(transform.Transformer)
	defer folders.Put(t)
	stripped, _, err := transform.String(t, name)
	if err != nil {
		stripped = name
	}
	return strings.Join(strings.Fields(strings.ToLower(stripped)), " ")
}

// folders holds the transformers Fold uses; building one allocates some 16 KiB of buffers.
var folders = sync.Pool{New: func() any {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lower(s string) string { return strings.ToLower(s) }
