// Package codec encrypts every Temporal payload ballotflow writes with AES-256-GCM, so the
// Temporal server and anyone reading its database see ciphertext. Each payload names the key
// that sealed it, so keys can rotate: new payloads use the first key, old ones still open
// with the others.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	EncodingEncrypted = "binary/encrypted"
	metadataEncoding  = "encoding"
	metadataKeyID     = "encryption-key-id"
)

// Codec is a converter.PayloadCodec with one or more AES-256-GCM keys.
type Codec struct {
	current string
	aeads   map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// Parse reads keys written as "id:base64key,id:base64key": the first one encrypts, every one
// decrypts. Each key is 32 random bytes (see NewKey).
func Parse(spec string) (*Codec, error) {
	c := &Codec{aeads: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("payload key %d: want id:base64key", i+1)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("payload key %q: want 32 bytes in base64", id)
		}
		if _, dup := c.aeads[id]; dup {
			return nil, fmt.Errorf("payload key %q is listed twice", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if c.aeads[id], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
		if i == 0 {
			c.current = id
		}
	}
	return c, nil
}

// NewKey returns a fresh key spec "id:base64key" for Parse.
func NewKey(id string) (string, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key[:]), nil
}

// Encode seals each payload with the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				metadataEncoding: []byte(EncodingEncrypted),
				metadataKeyID:    []byte(c.current),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.current)),
		}
	}
	return out, nil
}

// Decode opens encrypted payloads and passes others through unchanged (histories written
// before encryption was turned on).
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[metadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[metadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("codec: payload sealed with key %q, which is not configured", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, errors.New("codec: encrypted payload too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: open payload sealed with key %q: %w", id, err)
		}
		decoded := &commonpb.Payload{}
		if err := proto.Unmarshal(plain, decoded); err != nil {
			return nil, fmt.Errorf("codec: unmarshal payload: %w", err)
		}
		out[i] = decoded
	}
	return out, nil
}

// DataConverter is the default converter with this codec: what every client and worker uses.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
