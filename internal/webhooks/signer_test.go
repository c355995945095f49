package webhooks

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSignerTokensVerifyAgainstItsJWKS(t *testing.T) {
	old, current := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	s, err := NewSigner([][]byte{current, old}, "https://connops.example.com")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS %s: %v", s.JWKS(), err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		x, _ := base64.RawURLEncoding.DecodeString(k["x"])
		y, _ := base64.RawURLEncoding.DecodeString(k["y"])
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatal(err)
		}
		keys[k["kid"]] = pub
	}
	now := time.Now()
	tok, err := s.Token("contoso", "app-1", now)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) { return keys[t.Header["kid"].(string)], nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("app-1"), jwt.WithIssuer("https://connops.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["kid"] != set.Keys[0]["kid"] {
		t.Errorf("signed with kid %v, want the newest key's %s", parsed.Header["kid"], set.Keys[0]["kid"])
	}
	if claims["tid"] != "contoso" || claims["appid"] != ChangeTrackingAppID {
		t.Errorf("claims %v", claims)
	}
	exp, _ := claims.GetExpirationTime()
	if d := exp.Sub(now); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("exp is %s away, want an hour", d)
	}
	// Replicas derive the same keys from the same secrets.
	again, _ := NewSigner([][]byte{current, old}, "https://connops.example.com")
	if !bytes.Equal(again.JWKS(), s.JWKS()) {
		t.Error("the same secrets gave different keys")
	}
	if same, _ := s.Token("contoso", "app-1", now.Add(time.Second)); same != tok {
		t.Error("a token was not reused within its reuse period")
	}
	if other, _ := s.Token("contoso", "app-2", now); other == tok {
		t.Error("two apps share a token")
	}
}

func TestBackoff(t *testing.T) {
	for failures, bounds := range map[int][2]time.Duration{
		1: {500 * time.Millisecond, time.Second}, 2: {time.Second, 2 * time.Second},
		4: {4 * time.Second, 8 * time.Second}, 20: {150 * time.Second, 5 * time.Minute}, 99: {150 * time.Second, 5 * time.Minute},
	} {
		for range 50 {
			if d := backoff(failures, 5*time.Minute); d < bounds[0] || d > bounds[1] {
				t.Fatalf("backoff(%d) = %s, want within %v", failures, d, bounds)
			}
		}
	}
	if d := backoff(30, 2*time.Second); d > 2*time.Second {
		t.Errorf("backoff past its limit: %s", d)
	}
}

func TestNotificationIDIsStable(t *testing.T) {
	a, b := notificationID("sub-1", 42), notificationID("sub-1", 42)
	if a != b || a == notificationID("sub-1", 43) || a == notificationID("sub-2", 42) {
		t.Errorf("ids %s %s: want one per subscription and change", a, b)
	}
}
