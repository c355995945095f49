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
}

func parsePrefer(c *gin.Context) preferences {
	var p preferences
	for _, h := range c.Request.Header.Values("Prefer") {
		for _, tok := range strings.Split(h, ",") {
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "return=representation":
				p.representation = true
			case "include-unknown-enum-members":
				p.unknownEnums = true
			case "respond-async":
				p.respondAsync = true
			}
		}
	}
	return p
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
	pre := &connections.Precondition{Versions: []int64{}}
	for _, tag := range strings.Split(h, ",") {
		tag = strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`)
		if v, err := strconv.ParseInt(tag, 10, 64); err == nil {
			pre.Versions = append(pre.Versions, v)
		}
	}
	return pre
}

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// negotiate refuses, before any work is done, a request whose Accept header
// excludes what the route answers: JSON everywhere, text/plain for $count.
// Checking first means a refused PATCH has changed nothing.
func negotiate(c *gin.Context) {
	answers := "application/json"
	if strings.HasSuffix(c.FullPath(), "/$count") {
		answers = "text/plain"
	}
	if !accepts(c.GetHeader("Accept"), answers) {
		respondError(c, http.StatusNotAcceptable, codeNotAcceptable, "This resource answers "+answers+"; the Accept header excludes it.", "")
	}
}
