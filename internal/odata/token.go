package odata

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/connops/connops/internal/connections"
)

// TokenCodec seals and opens $skiptoken values. A token carries where the
// previous page ended and a MAC over that position and the query it was
// minted for, so a client cannot forge a position or move a token to
// another query. Any replica holding the same keys opens any replica's
// tokens. The first key seals; every key opens, so keys can be rotated by
// putting a new one first and dropping the old one once its tokens have
// aged out (a token lives as long as a client pages).
type TokenCodec struct {
	keys [][]byte
}

// MinTokenKeyLen is the shortest key accepted: 128 bits.
const MinTokenKeyLen = 16

const (
	macLen = 16
	// maxTokenLen bounds what is decoded at all.
	maxTokenLen = 2048
	// maxCursorValue bounds one position value; ids are at most 128 bytes.
	maxCursorValue = 512
)

// NewTokenCodec returns a codec over keys; the first seals.
func NewTokenCodec(keys ...[]byte) (*TokenCodec, error) {
	if len(keys) == 0 {
		return nil, errors.New("page tokens need at least one key")
	}
	for _, k := range keys {
		if len(k) < MinTokenKeyLen {
			return nil, errors.New("page token keys must be at least 16 bytes")
		}
	}
	return &TokenCodec{keys: keys}, nil
}

func (c *TokenCodec) mac(key []byte, payload, bound string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	m.Write([]byte{0})
	m.Write([]byte(bound))
	return m.Sum(nil)[:macLen]
}

// Seal makes the token for cursor, bound to the query described by bound.
func (c *TokenCodec) Seal(cursor connections.Cursor, bound string) string {
	b, _ := json.Marshal([]string(cursor))
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(c.mac(c.keys[0], payload, bound))
}

// Open returns the position a token carries, or an *Error when it was not
// sealed by us for this query.
func (c *TokenCodec) Open(token, bound string) (connections.Cursor, error) {
	bad := fail(SkipToken, "Query option '$skiptoken' is not valid for this request; use the @odata.nextLink exactly as it was returned.")
	if len(token) > maxTokenLen {
		return nil, bad
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, bad
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return nil, bad
	}
	valid := false
	for _, k := range c.keys {
		if hmac.Equal(got, c.mac(k, payload, bound)) {
			valid = true
			break
		}
	}
	if !valid {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, bad
	}
	var cursor []string
	if err := json.Unmarshal(raw, &cursor); err != nil || len(cursor) == 0 {
		return nil, bad
	}
	for _, v := range cursor {
		if len(v) > maxCursorValue || checkText(SkipToken, v) != nil {
			return nil, bad
		}
	}
	return cursor, nil
}
