package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// graphJSON is the content type Graph gives its OData payloads.
const graphJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// plainJSON is the content type of everything else in JSON: error
// envelopes (as gin writes them), batch items' errors, the OpenAPI document.
const plainJSON = "application/json; charset=utf-8"

// preEncoded is a body that encodes itself to valid, compact JSON.
type preEncoded interface {
	json.Marshaler
	preEncoded()
}

// collection is the body of an OData collection.
type collection struct {
	Context  string `json:"@odata.context"`
	Count    *int64 `json:"@odata.count,omitempty"`
	Value    []any  `json:"value"`
	NextLink string `json:"@odata.nextLink,omitempty"`
}

// respond writes an OData payload.
// Every route that answers through respond sits behind negotiate, which has
// already refused an Accept that excludes JSON.
func (s *server) respond(c *gin.Context, status int, body any) {
	b, err := encodeBody(body)
	if err != nil {
		s.writeError(c, err)
		return
	}
	setODataHeaders(c.Writer.Header())
	c.Data(status, graphJSON, b)
}

// encodeBody is a payload's compact JSON.
func encodeBody(body any) ([]byte, error) {
	if pre, ok := body.(preEncoded); ok {
		// Already valid JSON: the encoder would only scan it again.
		b, _ := pre.MarshalJSON()
		return b, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Links carry & and other characters HTML escaping would mangle.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// setODataHeaders sets what every OData payload is answered with.
func setODataHeaders(h http.Header) {
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-cache")
}

// readJSON reads the request body, answering 413 itself when it is too large,
// then starts the request's database deadline.
func (s *server) readJSON(c *gin.Context) ([]byte, bool) {
	body, ok := s.readJSONBody(c)
	startDeadline(c)
	return body, ok
}

// readJSONBody is readJSON without the deadline, for a request whose
// service call bounds its own database steps (a subscription's handshake
// may take 10 s before them).
func (s *server) readJSONBody(c *gin.Context) ([]byte, bool) {
	body, err := readBody(c.Request)
	if errors.Is(err, errBodyTooLarge) {
		limit := s.cfg.MaxBodyBytes
		if v, ok := c.Get(bodyLimitKey); ok {
			limit, _ = v.(int64)
		}
		respondError(c, http.StatusRequestEntityTooLarge, codeTooLarge, tooLargeMessage(limit), "")
		return nil, false
	}
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	return body, true
}

// baseURL is the scheme and host absolute links start with: PublicBaseURL
// when set, else what a trusted proxy forwarded, else the request's own. A
// request without a Host (HTTP/1.0 allows that) gets the address it arrived
// on, so no link ever reads http:///.
func (s *server) baseURL(c *gin.Context) string {
	if s.cfg.PublicBaseURL != "" {
		return strings.TrimRight(s.cfg.PublicBaseURL, "/")
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	host := c.Request.Host
	if s.proxies.trusts(c) {
		scheme, host = forwardedOrigin(c, scheme, host)
	}
	if host == "" {
		host = "localhost"
		if addr, ok := c.Request.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host = addr.String()
		}
	}
	return scheme + "://" + host
}

// entityURL is the absolute URL of a resource under the route's mount.
func (s *server) entityURL(c *gin.Context, rt route, segments ...string) string {
	var b strings.Builder
	b.WriteString(s.baseURL(c) + "/" + rt.version + "/" + rt.set)
	for _, seg := range segments {
		b.WriteString("/" + url.PathEscape(seg))
	}
	return b.String()
}

// contextURL is an @odata.context value: the metadata document plus a
// fragment naming what the payload is.
func (s *server) contextURL(c *gin.Context, rt route, fragment string) string {
	return s.baseURL(c) + "/" + rt.version + "/$metadata#" + fragment
}

// odataKey quotes a key for a context fragment: connections('hr').
func odataKey(id string) string {
	return "('" + strings.ReplaceAll(id, "'", "''") + "')"
}
