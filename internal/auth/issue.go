package auth

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevToken describes a development token.
type DevToken struct {
	TenantID string
	AppID    string
	Roles    []string
	TTL      time.Duration
}

// Issue signs a development token with secret.
func Issue(secret []byte, t DevToken, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("no signing secret")
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "connops-dev",
			Subject:   t.AppID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.TTL)),
		},
		TenantID: t.TenantID,
		Roles:    t.Roles,
		AppID:    t.AppID,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}
