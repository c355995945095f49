// Package auth verifies bearer tokens shaped like those Microsoft Entra ID
// issues and turns them into a connections.Caller. It also mints development
// tokens.
package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connops/connops/internal/connections"
)

// ErrUnauthenticated matches every refusal of a token.
var ErrUnauthenticated = errors.New("unauthenticated")

// rejection is a refused token. Its message says why in words safe to show the
// caller: it never echoes the token.
type rejection string

func (r rejection) Error() string { return string(r) }

func (r rejection) Is(target error) bool { return target == ErrUnauthenticated }

// Claims are the Entra ID claims connops reads.
type Claims struct {
	jwt.RegisteredClaims
	// TenantID (tid) scopes every row the caller touches.
	TenantID string `json:"tid,omitempty"`
	// Roles are application permissions.
	Roles []string `json:"roles,omitempty"`
	// Scope (scp) holds delegated permissions, space separated.
	Scope string `json:"scp,omitempty"`
	// AppID (v1 tokens) and AuthorizedParty (v2 tokens) name the client app.
	AppID           string `json:"appid,omitempty"`
	AuthorizedParty string `json:"azp,omitempty"`
}

// Caller turns verified claims into the domain's caller.
func (c Claims) Caller() connections.Caller {
	perms := append([]string{}, c.Roles...)
	perms = append(perms, strings.Fields(c.Scope)...)
	app := c.AppID
	if app == "" {
		app = c.AuthorizedParty
	}
	return connections.Caller{TenantID: c.TenantID, AppID: app, Permissions: perms}
}

// clockSkew is how far token times may be off between issuer and us.
const clockSkew = 2 * time.Minute

// HS256 verifies tokens signed with a shared secret: for development and tests.
type HS256 struct {
	secret []byte
	parser *jwt.Parser
}

// NewHS256 returns a verifier for secret.
func NewHS256(secret []byte) *HS256 {
	return &HS256{
		secret: secret,
		// Only HS256 is accepted: this refuses alg "none" and every other
		// algorithm, so a token cannot choose how it is checked.
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}),
			jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(clockSkew)),
	}
}

// Verify checks the token and returns its caller.
func (v *HS256) Verify(_ context.Context, token string) (connections.Caller, error) {
	var claims Claims
	_, err := v.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return v.secret, nil })
	if err != nil {
		return connections.Caller{}, rejection(reason(err))
	}
	if claims.TenantID == "" {
		return connections.Caller{}, rejection("the token has no tenant (tid) claim")
	}
	return claims.Caller(), nil
}

// reason words a jwt error for the caller without repeating token content.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token signature is invalid or uses an algorithm that is not accepted"
	}
	return "the token could not be validated"
}

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
