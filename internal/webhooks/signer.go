package webhooks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ChangeTrackingAppID is the appid claim of connops's validation tokens,
// as Graph's carry its "Microsoft Graph Change Tracking" app id: a fixed id
// a receiver can check, naming connops's change tracking.
const ChangeTrackingAppID = "5c0d7bd3-7a39-4a8e-9a1b-2f3c6e0b9d41"

// DefaultIssuer is the iss claim when no public base URL is configured.
const DefaultIssuer = "connops"

// tokenLifetime is a validation token's validity; one is reused for a
// tenant and app until it is a tenth of the way through its life.
const tokenLifetime = time.Hour

// Signer signs the validationTokens of connops's notifications with ES256
// and publishes their public keys as a JWKS. Its keys derive from secrets
// every replica shares (the secrets table), so any replica's tokens verify
// against any replica's JWKS.
type Signer struct {
	issuer string
	keys   []signingKey // newest first; the first signs
	jwks   []byte

	mu    sync.Mutex
	cache map[[2]string]cachedToken
}

type signingKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

type cachedToken struct {
	token string
	at    time.Time
}

// NewSigner derives a P-256 key from each secret, newest first.
func NewSigner(secrets [][]byte, issuer string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("webhooks: a signing secret is required")
	}
	if issuer == "" {
		issuer = DefaultIssuer
	}
	s := &Signer{issuer: issuer, cache: map[[2]string]cachedToken{}}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	for _, secret := range secrets {
		priv, err := deriveKey(secret)
		if err != nil {
			return nil, err
		}
		jwk, kid, err := publicJWK(&priv.PublicKey)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, signingKey{kid: kid, priv: priv})
		set.Keys = append(set.Keys, jwk)
	}
	s.jwks, _ = json.Marshal(set)
	return s, nil
}

// deriveKey turns a shared secret into a P-256 private key: the first
// SHA-256 of secret and a counter that is a valid scalar (the first almost
// always is), so every replica derives the same key.
func deriveKey(secret []byte) (*ecdsa.PrivateKey, error) {
	for i := range 256 {
		h := sha256.New()
		h.Write([]byte("connops webhook signing key\x00"))
		h.Write(secret)
		h.Write([]byte{byte(i)})
		if priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), h.Sum(nil)); err == nil {
			return priv, nil
		}
	}
	return nil, errors.New("webhooks: no signing key derives from the secret")
}

// publicJWK is the key as a JWK, with its RFC 7638 thumbprint as kid: the
// kid follows from the key, so replicas agree on it without storing it.
func publicJWK(pub *ecdsa.PublicKey) (map[string]string, string, error) {
	raw, err := pub.Bytes()
	if err != nil || len(raw) != 65 {
		return nil, "", fmt.Errorf("webhooks: encode public key: %v", err)
	}
	enc := base64.RawURLEncoding
	x, y := enc.EncodeToString(raw[1:33]), enc.EncodeToString(raw[33:])
	// The thumbprint's members in lexical order, no spaces.
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	kid := enc.EncodeToString(sum[:])
	return map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"}, kid, nil
}

// JWKS is the public keys as a JSON Web Key Set, served at
// /.well-known/jwks.json.
func (s *Signer) JWKS() []byte { return s.jwks }

// Token is the validation token for a tenant's app: iss, aud (the app id),
// tid, appid (ChangeTrackingAppID), iat, nbf and exp (an hour on).
func (s *Signer) Token(tenantID, appID string, now time.Time) (string, error) {
	key := [2]string{tenantID, appID}
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok && now.Sub(c.at) < tokenLifetime/10 && !now.Before(c.at) {
		return c.token, nil
	}
	k := s.keys[0]
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": s.issuer, "aud": appID, "tid": tenantID, "appid": ChangeTrackingAppID,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(tokenLifetime).Unix(),
	})
	t.Header["kid"] = k.kid
	signed, err := t.SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("sign validation token: %w", err)
	}
	s.mu.Lock()
	if len(s.cache) > 10_000 {
		clear(s.cache) // many tenants: start over rather than grow
	}
	s.cache[key] = cachedToken{token: signed, at: now}
	s.mu.Unlock()
	return signed, nil
}
