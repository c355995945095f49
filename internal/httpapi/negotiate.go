package httpapi

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

// accepts reports whether an Accept header admits mediaType. An absent header
// admits everything; q=0 excludes a range.
func accepts(header, mediaType string) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	typ, _, _ := strings.Cut(mediaType, "/")
	for _, part := range strings.Split(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		if mt == "*/*" || mt == mediaType || mt == typ+"/*" {
			return true
		}
	}
	return false
}

// preferences are the Prefer tokens connops honours.
type preferences struct {
	representation bool
	unknownEnums   bool
	respondAsync   bool
	// wait is RFC 7240's wait=N in seconds; 0 when absent or not a
	// non-negative integer (a preference connops cannot read is ignored,
	// as RFC 7240 asks).
	wait int
}

func parsePrefer(c *gin.Context) preferences {
	var p preferences
	for _, h := range c.Request.Header.Values("Prefer") {
		for _, tok := range strings.Split(h, ",") {
			tok = strings.ToLower(strings.TrimSpace(tok))
			switch tok {
			case "return=representation":
				p.representation = true
			case "include-unknown-enum-members":
				p.unknownEnums = true
			case "respond-async":
				p.respondAsync = true
			}
			if v, ok := strings.CutPrefix(tok, "wait="); ok {
				if n, err := strconv.Atoi(strings.Trim(v, `"`)); err == nil && n > 0 {
					p.wait = n
				}
			}
		}
	}
	return p
}

// wantsStream reports whether the request asks for an event stream: its
// Accept header names text/event-stream itself (a wildcard is not a
// request for one).
func wantsStream(c *gin.Context) bool {
	for _, part := range strings.Split(c.GetHeader("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "text/event-stream" {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		return true
	}
	return false
}

// longLived reports whether a request is held open by design: a wait on an
// operation or an event stream. Such a request holds no tenant slot and
// has no request deadline; each of its reads has both instead.
func longLived(c *gin.Context) bool {
	if m := c.Request.Method; m != http.MethodGet && m != http.MethodHead {
		return false
	}
	if c.Request.Context().Value(insideBatchKey{}) != nil {
		// A $batch answers all its requests at once: none of them waits.
		return false
	}
	path := c.FullPath()
	return (streamRoutes[path] && wantsStream(c)) || (waitRoutes[path] && parsePrefer(c).wait > 0)
}

// streamRoutes and waitRoutes are the routes (gin's full paths) that
// answer event streams and honour Prefer: wait.
var streamRoutes, waitRoutes = longLivedRoutes()

func longLivedRoutes() (streams, waits map[string]bool) {
	streams, waits = map[string]bool{}, map[string]bool{}
	for _, version := range []string{"v1.0", "beta"} {
		for _, set := range []string{"connections", "external/connections"} {
			base := "/" + version + "/" + set
			streams[base] = true
			streams[base+"/:connectionId/operations"] = true
			waits[base+"/:connectionId/operations/:operationId"] = true
		}
	}
	return streams, waits
}

// applyPreferences announces include-unknown-enum-members on every answer that
// asked for it. No connectionOperationStatus member lies beyond the sentinel
// yet, so honouring it changes no value today.
func applyPreferences(c *gin.Context) {
	if parsePrefer(c).unknownEnums {
		c.Writer.Header().Add("Preference-Applied", "include-unknown-enum-members")
	}
	c.Next()
}

// parseIfMatch turns If-Match into a precondition. An ETag we could not have
// issued matches nothing, so it fails with 412 rather than being ignored.
func parseIfMatch(c *gin.Context) *connections.Precondition {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" {
		return nil
	}
	if h == "*" {
		return &connections.Precondition{Any: true}
	}
	return &connections.Precondition{Versions: append([]int64{}, etagVersions(h)...)}
}

// etagVersions reads the versions of the entity tags listed in h; tags
// connops could not have issued are left out, so they match nothing.
func etagVersions(h string) []int64 {
	var versions []int64
	for _, tag := range strings.Split(h, ",") {
		tag = strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`)
		if v, err := strconv.ParseInt(tag, 10, 64); err == nil {
			versions = append(versions, v)
		}
	}
	return versions
}

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// parseIfNoneMatch reads If-None-Match into the versions it lists; any is
// set for "*". Tags connops could not have issued match nothing.
func parseIfNoneMatch(c *gin.Context) (versions []int64, any bool) {
	h := strings.TrimSpace(c.GetHeader("If-None-Match"))
	if h == "*" {
		return nil, true
	}
	return etagVersions(h), false
}

// negotiate refuses, before any work is done, a request whose Accept header
// excludes what the route answers: JSON everywhere, text/plain for $count.
// Checking first means a refused PATCH has changed nothing.
func negotiate(c *gin.Context) {
	answers := "application/json"
	switch {
	case strings.HasSuffix(c.FullPath(), "/$count"):
		answers = "text/plain"
	case streamRoutes[c.FullPath()] && wantsStream(c):
		answers = "text/event-stream"
	}
	if !accepts(c.GetHeader("Accept"), answers) {
		respondError(c, http.StatusNotAcceptable, codeNotAcceptable, "This resource answers "+answers+"; the Accept header excludes it.", "")
	}
}
