package httpapi

import (
	"strings"

	"github.com/gin-gonic/gin"
)

// route says which of the four mounts of the API a handler serves: version
// root and entity-set path. The beta /connections mount keeps the seed's
// legacy representation; every other mount uses the current one.
type route struct {
	version string // "v1.0" or "beta"
	set     string // "connections" or "external/connections"
	legacy  bool
}

const routeKey = "connops.route"

// withRoute records the mount for code that runs below the handler, such as
// writeError, which words messages in the mount's names.
func withRoute(rt route) gin.HandlerFunc {
	return func(c *gin.Context) { c.Set(routeKey, rt) }
}

func routeOf(c *gin.Context) route {
	v, _ := c.Get(routeKey)
	rt, _ := v.(route)
	return rt
}

// wireField spells a domain property path the way the route's
// representation names it. Only the legacy errorDetail differs: its code is
// errorCode, and a detail's target is its source. The path is rebuilt from
// its segments; messages are never rewritten as text.
func (rt route) wireField(field string) string {
	if !rt.legacy || !strings.HasPrefix(field, "error.") {
		return field
	}
	segments := strings.Split(field, ".")
	for i, seg := range segments {
		switch {
		case i == 1 && seg == "code":
			segments[i] = "errorCode"
		case i == 2 && seg == "target" && strings.HasPrefix(segments[1], "details["):
			segments[i] = "source"
		}
	}
	return strings.Join(segments, ".")
}
