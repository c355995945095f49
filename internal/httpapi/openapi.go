package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// openAPIDocument describes every route New registers. JSON is valid YAML, so
// the same bytes answer /openapi.json and /openapi.yaml. The module in
// test/openapi validates real requests and responses against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag is a strong validator of the document: it changes only with
// the bytes, so a client can revalidate cheaply with If-None-Match.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// openAPI serves the document without authentication; clients and tooling
// fetch it before they hold a token.
func (s *server) openAPI(c *gin.Context) {
	contentType := plainJSON
	if strings.HasSuffix(c.Request.URL.Path, ".yaml") {
		contentType = "application/yaml; charset=utf-8"
	}
	c.Header("ETag", openAPIETag)
	// Short freshness, then revalidation: a deploy that changes the document
	// is seen within minutes, and an unchanged one costs a 304.
	c.Header("Cache-Control", "public, max-age=300")
	if etagListMatches(c.GetHeader("If-None-Match"), openAPIETag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, contentType, openAPIDocument)
}

// etagListMatches applies If-None-Match's weak comparison: "*" or any listed
// tag, with or without W/, equal to tag.
func etagListMatches(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}
