// Package auth verifies bearer tokens shaped like those Microsoft Entra ID
// issues and turns them into a connections.Caller. It also mints development
// tokens.
package auth

import (
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connops/connops/internal/connections"
)

// ErrUnauthenticated matches every refusal of a token.
var ErrUnauthenticated = errors.New("unauthenticated")

// rejection is a refused token. Its message says why in words safe to show the
// caller: it never echoes the token, key material or the JWKS address.
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
	caller := connections.Caller{TenantID: c.TenantID, AppID: app, Permissions: perms}
	if c.ExpiresAt != nil {
		caller.ExpiresAt = c.ExpiresAt.Time
	}
	return caller
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
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token was issued by an issuer this service does not trust"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is not meant for this service (audience)"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token signature is invalid or uses an algorithm that is not accepted"
	}
	return "the token could not be validated"
}
