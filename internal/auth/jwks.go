package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
)

const (
	// maxJWKSBytes bounds what a JWKS response may make us read; Entra's
	// key set is a few kilobytes.
	maxJWKSBytes = 1 << 20
	// RSA keys below minRSABits are refused (NIST SP 800-131A); above
	// maxRSABits they only make verification slow.
	minRSABits = 2048
	maxRSABits = 8192
)

// publicKey is one usable key of a JWKS.
type publicKey struct {
	alg string // the JWK's alg, empty when the JWK names none
	key any    // *rsa.PublicKey or *ecdsa.PublicKey on P-256
}

// verifyKey returns the key if it may check a token signed with alg.
func (k publicKey) verifyKey(alg string) (any, error) {
	if k.alg == "" || k.alg == alg {
		switch key := k.key.(type) {
		case *rsa.PublicKey:
			if alg == algRS256 {
				return key, nil
			}
		case *ecdsa.PublicKey:
			if alg == algES256 {
				return key, nil
			}
		}
	}
	return nil, rejection("the token's algorithm does not match its signing key")
}

// jwk holds the members of RFC 7517/7518 keys that we read.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// fetchJWKS downloads and parses the key set at url.
func fetchJWKS(ctx context.Context, client *http.Client, url string, log *slog.Logger) (map[string]publicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read jwks: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("read jwks: larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(ctx, body, log)
}

// parseJWKS keeps the signing keys it can use. A key it cannot use is logged
// and skipped rather than failing the set, so one odd key an issuer adds does
// not lock out the rest.
func parseJWKS(ctx context.Context, body []byte, log *slog.Logger) (map[string]publicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	keys := make(map[string]publicKey, len(doc.Keys))
	for _, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			log.WarnContext(ctx, "jwks: skipping a key that does not decode", "err", err)
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue // encryption keys never verify tokens
		}
		if _, dup := keys[k.Kid]; dup || k.Kid == "" {
			log.WarnContext(ctx, "jwks: skipping a key with a missing or repeated kid", "kid", k.Kid)
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			log.WarnContext(ctx, "jwks: skipping an unusable key", "kid", k.Kid, "err", err)
			continue
		}
		keys[k.Kid] = pub
	}
	return keys, nil
}

func (k jwk) publicKey() (publicKey, error) {
	switch k.Kty {
	case "RSA":
		if k.Alg != "" && !strings.HasPrefix(k.Alg, "RS") && !strings.HasPrefix(k.Alg, "PS") {
			return publicKey{}, fmt.Errorf("alg %q does not fit an RSA key", k.Alg)
		}
		key, err := rsaKey(k.N, k.E)
		return publicKey{alg: k.Alg, key: key}, err
	case "EC":
		if k.Alg != "" && !strings.HasPrefix(k.Alg, "ES") {
			return publicKey{}, fmt.Errorf("alg %q does not fit an EC key", k.Alg)
		}
		key, err := p256Key(k.Crv, k.X, k.Y)
		return publicKey{alg: k.Alg, key: key}, err
	}
	return publicKey{}, fmt.Errorf("unsupported kty %q", k.Kty)
}

func rsaKey(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := b64(n64)
	if err != nil {
		return nil, fmt.Errorf("rsa n: %w", err)
	}
	eb, err := b64(e64)
	if err != nil {
		return nil, fmt.Errorf("rsa e: %w", err)
	}
	n := new(big.Int).SetBytes(nb)
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("rsa modulus of %d bits is outside %d-%d", bits, minRSABits, maxRSABits)
	}
	e := new(big.Int).SetBytes(eb)
	// Go's crypto/rsa takes e as an int and wants it odd and above 1;
	// real keys use 65537.
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, errors.New("rsa exponent is not usable")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

func p256Key(crv, x64, y64 string) (*ecdsa.PublicKey, error) {
	if crv != "P-256" {
		return nil, fmt.Errorf("unsupported curve %q", crv)
	}
	x, err := b64(x64)
	if err != nil {
		return nil, fmt.Errorf("ec x: %w", err)
	}
	y, err := b64(y64)
	if err != nil {
		return nil, fmt.Errorf("ec y: %w", err)
	}
	// RFC 7518 6.2.1.2: coordinates are full-length, 32 bytes on P-256.
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("ec coordinates are not 32 bytes")
	}
	point := append(append([]byte{4}, x...), y...)
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("ec point: %w", err)
	}
	return key, nil
}

// b64 decodes base64url without padding, tolerating the padding some
// issuers add anyway.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
