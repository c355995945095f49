package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connops/connops/internal/auth"
)

const (
	testIss = "https://login.example.test/tenant-1/v2.0"
	testAud = "api://connops"
)

// testIssuer plays Entra ID: it holds signing keys and serves the public half
// of those it publishes as a JWKS, counting fetches.
type testIssuer struct {
	srv     *httptest.Server
	fetches atomic.Int64

	mu        sync.Mutex
	published []map[string]string
	failing   bool
}

// signingKey is one private key of the test issuer.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	is := &testIssuer{}
	is.srv = httptest.NewServer(http.HandlerFunc(is.serveJWKS))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *testIssuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	is.fetches.Add(1)
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.failing {
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": is.published})
}

func (is *testIssuer) url() string { return is.srv.URL + "/keys" }

func (is *testIssuer) fetchCount() int64 { return is.fetches.Load() }

// publish replaces the served JWKS with the public halves of keys.
func (is *testIssuer) publish(keys ...*signingKey) {
	jwks := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		jwks = append(jwks, k.jwk())
	}
	is.publishRaw(jwks...)
}

// publishRaw serves JWKs as given, for keys a real issuer would get wrong.
func (is *testIssuer) publishRaw(jwks ...map[string]string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.published = jwks
}

func (is *testIssuer) setFailing(failing bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.failing = failing
}

func newRSAKey(t testing.TB, kid string, bits int) *signingKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return &signingKey{kid: kid, method: jwt.SigningMethodRS256, priv: priv}
}

func newECKey(t testing.TB, kid string) *signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signingKey{kid: kid, method: jwt.SigningMethodES256, priv: priv}
}

func (k *signingKey) jwk() map[string]string {
	enc := base64.RawURLEncoding.EncodeToString
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "use": "sig", "kid": k.kid,
			"n": enc(pub.N.Bytes()), "e": enc(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		point, err := pub.Bytes()
		if err != nil {
			panic(err)
		}
		return map[string]string{"kty": "EC", "use": "sig", "kid": k.kid, "crv": "P-256",
			"x": enc(point[1:33]), "y": enc(point[33:])}
	}
	panic("unknown key type")
}

func (k *signingKey) sign(t testing.TB, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// goodClaims are claims every test verifier accepts.
func goodClaims() auth.Claims {
	now := time.Now()
	return auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIss,
			Audience:  jwt.ClaimStrings{testAud},
			Subject:   "app-1",
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		},
		TenantID: "tenant-1",
		Roles:    []string{"ExternalConnection.ReadWrite.OwnedBy"},
		Scope:    "ExternalConnection.Read.All",
		AppID:    "app-1",
	}
}

// newVerifier builds a verifier on the issuer's JWKS plus opts, closed when
// the test ends.
func newVerifier(t testing.TB, is *testIssuer, opts auth.Options) *auth.Verifier {
	t.Helper()
	if is != nil {
		opts.JWKSURL = is.url()
	}
	v, err := auth.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
