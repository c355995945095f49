package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
)

var testSecret = []byte("test-secret-0123456789abcdef-0123456789")

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	rsaKey, ecKey := newRSAKey(t, "rsa-1", 2048), newECKey(t, "ec-1")
	is.publish(rsaKey, ecKey)
	v := newVerifier(t, is, auth.Options{HS256Secret: testSecret, Issuer: testIss, Audience: testAud})

	listAud := goodClaims()
	listAud.Audience = jwt.ClaimStrings{"api://other", testAud}
	v2 := goodClaims() // v2 tokens name the client in azp, not appid
	v2.AppID, v2.AuthorizedParty = "", "app-1"
	skewed := goodClaims() // expired a minute ago: within the 2 min skew
	skewed.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))

	want := connections.Caller{TenantID: "tenant-1", AppID: "app-1",
		Permissions: []string{"ExternalConnection.ReadWrite.OwnedBy", "ExternalConnection.Read.All"}}
	tests := []struct {
		name  string
		token string
	}{
		{"RS256", rsaKey.sign(t, goodClaims())},
		{"ES256", ecKey.sign(t, goodClaims())},
		{"HS256", hs256(t, testSecret, goodClaims())},
		{"audience list", rsaKey.sign(t, listAud)},
		{"v2 azp", ecKey.sign(t, v2)},
		{"expiry within skew", rsaKey.sign(t, skewed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.ExpiresAt.IsZero() {
				t.Errorf("the caller carries no expiry")
			}
			if diff := cmp.Diff(want, got, ignoreExpiry); diff != "" {
				t.Errorf("caller (-want +got):\n%s", diff)
			}
		})
	}
	if n := is.fetchCount(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (the fetch at New)", n)
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	rsaKey, ecKey := newRSAKey(t, "rsa-1", 2048), newECKey(t, "ec-1")
	impostor := newRSAKey(t, "rsa-1", 2048) // same kid, different key
	stranger := newRSAKey(t, "rsa-unknown", 2048)
	weak := newRSAKey(t, "rsa-weak", 1024)
	encKey := newRSAKey(t, "rsa-enc", 2048)
	otherAlg := newRSAKey(t, "rsa-384", 2048)
	encJWK, otherAlgJWK := encKey.jwk(), otherAlg.jwk()
	encJWK["use"] = "enc"
	otherAlgJWK["alg"] = "RS384"
	is.publishRaw(rsaKey.jwk(), ecKey.jwk(), weak.jwk(), encJWK, otherAlgJWK)

	full := newVerifier(t, is, auth.Options{HS256Secret: testSecret, Issuer: testIss, Audience: testAud})
	jwksOnly := newVerifier(t, is, auth.Options{Issuer: testIss, Audience: testAud})
	hsOnly := auth.NewHS256(testSecret)

	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY",
		Bytes: must(x509.MarshalPKIXPublicKey(rsaKey.priv.Public()))})
	confused := func(secret []byte) string { // HS256 over the public key: algorithm confusion
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims())
		tok.Header["kid"] = rsaKey.kid
		return must(tok.SignedString(secret))
	}
	with := func(edit func(*auth.Claims)) auth.Claims {
		c := goodClaims()
		edit(&c)
		return c
	}
	noneTok := must(jwt.NewWithClaims(jwt.SigningMethodNone, goodClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType))
	noKid := jwt.NewWithClaims(jwt.SigningMethodRS256, goodClaims())
	good := rsaKey.sign(t, goodClaims())
	ecAsRSA := &signingKey{kid: rsaKey.kid, method: jwt.SigningMethodES256, priv: ecKey.priv}

	tests := []struct {
		name  string
		v     *auth.Verifier
		token string
		want  string // part of the message
	}{
		{"alg none", full, noneTok, "none are not accepted"},
		{"alg none, jwks only", jwksOnly, noneTok, "none are not accepted"},
		{"HS256 keyed with RSA public key PEM", full, confused(rsaPEM), "signature is invalid"},
		{"HS256 keyed with RSA public key PEM, jwks only", jwksOnly, confused(rsaPEM), "HS256 are not accepted"},
		{"HS256 without a secret", jwksOnly, hs256(t, testSecret, goodClaims()), "HS256 are not accepted"},
		{"HS256 with another secret", full, hs256(t, []byte("another-secret-0123456789abcdef"), goodClaims()), "signature is invalid"},
		{"RS256 without a JWKS", hsOnly, good, "RS256 are not accepted"},
		{"HS512", full, must(jwt.NewWithClaims(jwt.SigningMethodHS512, goodClaims()).SignedString(testSecret)), "HS512 are not accepted"},
		{"wrong issuer", full, rsaKey.sign(t, with(func(c *auth.Claims) { c.Issuer = "https://evil.test/" })), "issuer"},
		{"wrong audience", full, rsaKey.sign(t, with(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"api://other"} })), "audience"},
		{"no audience", full, rsaKey.sign(t, with(func(c *auth.Claims) { c.Audience = nil })), "required claim"},
		{"expired", full, rsaKey.sign(t, with(func(c *auth.Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-3 * time.Minute)) })), "expired"},
		{"nbf beyond skew", full, ecKey.sign(t, with(func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(5 * time.Minute)) })), "not valid yet"},
		{"missing exp", full, rsaKey.sign(t, with(func(c *auth.Claims) { c.ExpiresAt = nil })), "required claim"},
		{"missing tid", full, rsaKey.sign(t, with(func(c *auth.Claims) { c.TenantID = "" })), "tenant"},
		{"bad signature", full, tamper(good), "signature is invalid"},
		{"payload swapped", full, swapPayload(good, ecKey.sign(t, with(func(c *auth.Claims) { c.TenantID = "tenant-2" }))), "signature is invalid"},
		{"unknown kid", full, stranger.sign(t, goodClaims()), "not known"},
		{"no kid", full, must(noKid.SignedString(rsaKey.priv)), "kid"},
		{"same kid, different key", full, impostor.sign(t, goodClaims()), "signature is invalid"},
		{"ES256 token on an RSA kid", full, ecAsRSA.sign(t, goodClaims()), "does not match"},
		{"JWK alg differs", full, otherAlg.sign(t, goodClaims()), "does not match"},
		{"JWK use enc ignored", full, encKey.sign(t, goodClaims()), "not known"},
		{"RSA key under 2048 bits ignored", full, weak.sign(t, goodClaims()), "not known"},
		{"malformed", full, "not-a-token", "malformed"},
		{"malformed three parts", full, "a.b.c", "malformed"},
		{"empty", full, "", "malformed"},
		{"line break in signature", full, good[:len(good)-4] + "\n" + good[len(good)-4:], "malformed"},
		{"too large", full, strings.Repeat("a", 70<<10), "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caller, err := tt.v.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token as %+v", caller)
			}
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("error %v does not match ErrUnauthenticated", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not mention %q", msg, tt.want)
			}
			assertNoTokenContent(t, msg, tt.token)
		})
	}
}

// assertNoTokenContent fails if msg repeats any segment of token.
func assertNoTokenContent(t *testing.T, msg, token string) {
	t.Helper()
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Errorf("message %q repeats token content", msg)
		}
	}
}

// ignoreExpiry compares callers but for their token's expiry, which each
// test checks on its own.
var ignoreExpiry = cmpopts.IgnoreFields(connections.Caller{}, "ExpiresAt")

func TestIssuedDevTokensVerify(t *testing.T) {
	t.Parallel()
	tok, err := auth.Issue(testSecret, auth.DevToken{TenantID: "t1", AppID: "a1", Roles: []string{"r1"}, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := connections.Caller{TenantID: "t1", AppID: "a1", Permissions: []string{"r1"}}
	for name, v := range map[string]*auth.Verifier{
		"New":      newVerifier(t, nil, auth.Options{HS256Secret: testSecret}),
		"NewHS256": auth.NewHS256(testSecret),
	} {
		got, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("%s: Verify: %v", name, err)
		}
		if diff := cmp.Diff(want, got, ignoreExpiry); diff != "" {
			t.Errorf("%s: caller (-want +got):\n%s", name, diff)
		}
		if got.ExpiresAt.Before(time.Now().Add(59 * time.Minute)) {
			t.Errorf("%s: caller expires %s, want in an hour", name, got.ExpiresAt)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]auth.Options{
		"nothing configured": {},
		"plain http remote":  {JWKSURL: "http://login.example.test/keys"},
		"relative URL":       {JWKSURL: "/keys"},
	} {
		if v, err := auth.New(context.Background(), opts); err == nil {
			_ = v.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestNewHS256WithoutSecretAcceptsNothing(t *testing.T) {
	t.Parallel()
	tok := hs256(t, []byte{}, goodClaims())
	if _, err := auth.NewHS256(nil).Verify(context.Background(), tok); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("Verify = %v, want ErrUnauthenticated", err)
	}
}

func hs256(t testing.TB, secret []byte, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tamper changes one character in the middle of the signature.
func tamper(token string) string {
	i := strings.LastIndex(token, ".") + 10
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

// swapPayload puts the claims of other under the header and signature of token.
func swapPayload(token, other string) string {
	a, b := strings.Split(token, "."), strings.Split(other, ".")
	return a[0] + "." + b[1] + "." + a[2]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
