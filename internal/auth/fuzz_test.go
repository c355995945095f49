package auth_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connops/connops/internal/auth"
)

// FuzzVerify feeds arbitrary strings to a verifier that trusts both a secret
// and a JWKS. Verify must not panic, must refuse with ErrUnauthenticated
// without echoing the input, and may accept only what was signed here.
//
// The fuzzer runs this setup again in each worker process and hands seeds
// made by one process to another, so keys come from testdata and claims use
// fixed times: every process then signs the same tokens.
func FuzzVerify(f *testing.F) {
	is := newTestIssuer(f)
	rsaKey := &signingKey{kid: "rsa-1", method: jwt.SigningMethodRS256, priv: loadKey(f, "testdata/fuzz_rsa.pem")}
	ecKey := &signingKey{kid: "ec-1", method: jwt.SigningMethodES256, priv: loadKey(f, "testdata/fuzz_ec.pem")}
	is.publish(rsaKey, ecKey)
	v := newVerifier(f, is, auth.Options{HS256Secret: testSecret, Issuer: testIss, Audience: testAud})

	claims := goodClaims()
	claims.IssuedAt = jwt.NewNumericDate(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	claims.NotBefore = claims.IssuedAt
	claims.ExpiresAt = jwt.NewNumericDate(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))

	// signed holds the signing input (header.payload) of every token made
	// here: a signature covers exactly that text, so an accepted token
	// must carry one of them.
	signed := map[string]bool{}
	seed := func(tok string) {
		parts := strings.Split(tok, ".")
		signed[parts[0]+"."+parts[1]] = true
		f.Add(tok)
	}
	seed(rsaKey.sign(f, claims))
	seed(ecKey.sign(f, claims))
	seed(hs256(f, testSecret, claims))
	f.Add(must(jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)))

	f.Fuzz(func(t *testing.T, token string) {
		caller, err := v.Verify(context.Background(), token)
		if err == nil {
			parts := strings.Split(token, ".")
			if len(parts) != 3 || !signed[parts[0]+"."+parts[1]] {
				t.Fatalf("accepted a token not signed here: %q as %+v", token, caller)
			}
			return
		}
		if !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("error %v does not match ErrUnauthenticated", err)
		}
		for _, part := range strings.Split(token, ".") {
			if len(part) >= 16 && isBase64URL(part) && strings.Contains(err.Error(), part) {
				t.Fatalf("message %q repeats the token", err)
			}
		}
	})
}

// loadKey reads a PKCS #8 private key, a test key committed for the fuzzer.
func loadKey(tb testing.TB, path string) crypto.Signer {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		tb.Fatalf("%s holds no PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return key.(crypto.Signer)
}

func isBase64URL(s string) bool {
	return strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}
