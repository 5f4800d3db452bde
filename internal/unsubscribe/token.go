// Package unsubscribe makes and reads the tokens of notice emails' unsubscribe links
// (List-Unsubscribe, RFC 8058 one-click, and the link in each email's footer).
//
// A token names one email subscription and nothing a person could read: it is the
// subscription's internal id, a tag of the address the email went to and the email's
// language, sealed with AES-256-GCM under a key derived from the database's hash secret
// (migration 009). Every API replica and worker shares that secret without configuration; a
// token cannot be forged or altered without it, and shows nobody which voter, address or
// subscription it is for. It does not expire: a voter may unsubscribe from an old email, and
// the retention purge removes the subscription it names.
package unsubscribe

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"sync"

	"github.com/ballotflow/ballotflow/internal/store"
)

// Path is where the API serves unsubscribe links: Path + token.
const Path = "/v1/unsubscribe/"

// URL is the unsubscribe link of token on the API at publicURL.
func URL(publicURL, token string) string {
	return strings.TrimRight(publicURL, "/") + Path + token
}

// MaxTokenLength bounds a token as read from a URL; the tokens Seal makes are 82 characters
// at most.
const MaxTokenLength = 128

// version is the first byte of every token, so that the format can change.
const version = 1

const (
	nonceSize = 12
	tagSize   = 8  // of the address, in the sealed claims
	maxLang   = 16 // bytes of a language code kept in a token
)

// additionalData binds a sealed token to its purpose: the same key sealing something else
// never yields a valid unsubscribe token.
var additionalData = []byte("ballotflow unsubscribe link v1")

// ErrInvalid is every token that cannot be read: malformed, altered, or sealed with another
// key. It says no more, so that an answer cannot tell the reasons apart.
var ErrInvalid = errors.New("not a valid unsubscribe token")

// Claims is what a token says.
type Claims struct {
	SubscriptionID int64
	Language       string // the email's language, for the page that asks to confirm
	addressTag     [tagSize]byte
}

// Key seals and opens tokens. It is safe for concurrent use.
type Key struct {
	aead cipher.AEAD
	mac  []byte // keys the address tag
}

// NewKey derives the token keys from secret (at least 32 bytes of key material).
func NewKey(secret []byte) (*Key, error) {
	if len(secret) < 32 {
		return nil, errors.New("unsubscribe: the secret must hold at least 32 bytes")
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("unsubscribe token encryption"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead, mac: derive("unsubscribe address tag")}, nil
}

// Seal returns the token of email subscription subscriptionID for the email sent to address
// in lang.
func (k *Key) Seal(subscriptionID int64, address, lang string) string {
	if !plainLanguage(lang) {
		lang = ""
	}
	plain := make([]byte, 8, 8+tagSize+len(lang))
	binary.BigEndian.PutUint64(plain, uint64(subscriptionID))
	tag := k.addressTag(address)
	plain = append(plain, tag[:]...)
	plain = append(plain, lang...)

	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plain)+k.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		panic("unsubscribe: no randomness: " + err.Error()) // crypto/rand does not fail on supported platforms
	}
	out = k.aead.Seal(out, out[1:1+nonceSize], plain, additionalData)
	return base64.RawURLEncoding.EncodeToString(out)
}

// Open reads a token; every token it cannot read is ErrInvalid.
func (k *Key) Open(token string) (Claims, error) {
	if len(token) > MaxTokenLength {
		return Claims{}, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < 1+nonceSize+8+tagSize+k.aead.Overhead() || raw[0] != version {
		return Claims{}, ErrInvalid
	}
	plain, err := k.aead.Open(nil, raw[1:1+nonceSize], raw[1+nonceSize:], additionalData)
	if err != nil || len(plain) < 8+tagSize || len(plain) > 8+tagSize+maxLang {
		return Claims{}, ErrInvalid
	}
	id := binary.BigEndian.Uint64(plain[:8])
	lang := string(plain[8+tagSize:])
	if id == 0 || id > 1<<62 || !plainLanguage(lang) {
		return Claims{}, ErrInvalid
	}
	c := Claims{SubscriptionID: int64(id), Language: lang}
	copy(c.addressTag[:], plain[8:8+tagSize])
	return c, nil
}

// AddressMatches reports whether the token was made for an email to address (case aside):
// a token from an email sent to an address the voter has replaced since must not turn off
// the new one.
func (k *Key) AddressMatches(c Claims, address string) bool {
	tag := k.addressTag(address)
	return subtle.ConstantTimeCompare(tag[:], c.addressTag[:]) == 1
}

func (k *Key) addressTag(address string) [tagSize]byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(strings.ToLower(strings.TrimSpace(address))))
	var tag [tagSize]byte
	copy(tag[:], m.Sum(nil))
	return tag
}

// plainLanguage accepts what a language code may be (en, es, zh-Hant) and nothing longer.
func plainLanguage(lang string) bool {
	if len(lang) > maxLang {
		return false
	}
	for _, r := range lang {
		if !(r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

// keys holds each store's Key once derived: the hash secret never changes.
var keys sync.Map // *store.Store -> *Key

// KeyOf returns the token key of st's database, reading its secret on first use.
func KeyOf(ctx context.Context, st *store.Store) (*Key, error) {
	if k, ok := keys.Load(st); ok {
		return k.(*Key), nil
	}
	secret, err := st.UnsubscribeSecret(ctx)
	if err != nil {
		return nil, err
	}
	k, err := NewKey(secret)
	if err != nil {
		return nil, err
	}
	actual, _ := keys.LoadOrStore(st, k)
	return actual.(*Key), nil
}
