package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

const callerKey = "connops.caller"

// authenticate requires a valid bearer token and stores its caller.
func (s *server) authenticate(c *gin.Context) {
	header := c.GetHeader("Authorization")
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	switch {
	case header == "":
		s.unauthenticated(c, "Access token is empty.")
		return
	case !strings.EqualFold(scheme, "Bearer") || token == "":
		s.unauthenticated(c, "The Authorization header must be 'Bearer <token>'.")
		return
	}
	caller, err := s.auth.Verify(c.Request.Context(), token)
	if err != nil {
		// The verifier's message is written for the caller and never repeats
		// the token.
		s.unauthenticated(c, "Access token validation failure: "+err.Error()+".")
		return
	}
	c.Set(callerKey, caller)
	c.Next()
}

func (s *server) unauthenticated(c *gin.Context, message string) {
	c.Header("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+
		strings.ReplaceAll(message, `"`, `'`)+`"`)
	respondError(c, http.StatusUnauthorized, codeUnauthenticated, message, "")
}

func callerFrom(c *gin.Context) (connections.Caller, bool) {
	v, ok := c.Get(callerKey)
	if !ok {
		return connections.Caller{}, false
	}
	caller, ok := v.(connections.Caller)
	return caller, ok
}

// mustCaller returns the caller stored by authenticate, which runs before
// every API handler.
func mustCaller(c *gin.Context) connections.Caller {
	caller, _ := callerFrom(c)
	return caller
}
