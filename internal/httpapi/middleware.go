package httpapi

import (
	"compress/gzip"
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/connops/connops/internal/connections"
)

// ids are a request's correlation ids and when it arrived (for the log
// line a parked wait writes itself).
type ids struct {
	request, client string
	start           time.Time
}

const (
	idsKey       = "connops.ids"
	bodyLimitKey = "connops.bodyLimit"
)

// maxClientRequestIDLen bounds the echoed client-request-id so a client cannot
// make us repeat an arbitrarily large header.
const maxClientRequestIDLen = 128

// withRequestIDs gives every request a request-id and echoes the client's
// client-request-id (or, as Graph does when none was sent, the request-id).
func withRequestIDs(c *gin.Context) {
	id := ids{request: uuid.NewString(), client: clientRequestID(c.GetHeader("client-request-id")), start: time.Now()}
	if id.client == "" {
		id.client = id.request
	}
	c.Set(idsKey, id)
	c.Header("request-id", id.request)
	c.Header("client-request-id", id.client)
	c.Next()
}

// clientRequestID is the client's correlation id as we echo it: refused
// (empty) when too long or not printable ASCII, so a header can neither grow
// our answers nor smuggle control characters into them or into logs.
func clientRequestID(v string) string {
	if len(v) > maxClientRequestIDLen {
		return ""
	}
	for i := range len(v) {
		if v[i] < 0x20 || v[i] > 0x7e {
			return ""
		}
	}
	return v
}

func requestIDs(c *gin.Context) ids {
	v, _ := c.Get(idsKey)
	id, _ := v.(ids)
	return id
}

// logRequests writes one line per request after it is answered; a parked
// wait (parked.go) writes its own when it answers. The line is built in
// logRequest, not here: this frame stays on the stack while the request
// runs, and a held wait keeps every such frame for its whole wait.
func (s *server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	if _, parked := c.Get(parkedKey); !parked {
		s.logRequest(c, start)
	}
}

func (s *server) logRequest(c *gin.Context, start time.Time) {
	s.logLine(c.Request.Context(), s.lineOf(c, start), c.Writer.Status())
}

// requestLine is what a request's log line says besides its status.
type requestLine struct {
	method, route, requestID string
	tenant, app, clientIP    string
	hasCaller                bool
	start                    time.Time
}

func (s *server) lineOf(c *gin.Context, start time.Time) requestLine {
	l := requestLine{method: c.Request.Method, route: c.FullPath(), requestID: requestIDs(c).request,
		clientIP: c.ClientIP(), start: start}
	if l.route == "" {
		l.route = "unmatched"
	}
	if caller, ok := callerFrom(c); ok {
		l.tenant, l.app, l.hasCaller = caller.TenantID, caller.AppID, true
	}
	return l
}

// logLine writes a request's line and counts it in the metrics.
func (s *server) logLine(ctx context.Context, l requestLine, status int) {
	took := time.Since(l.start)
	// LogAttrs with a fixed-size array keeps this line, written for every
	// request, free of per-attribute allocations.
	attrs := [8]slog.Attr{
		slog.String("method", l.method), slog.String("route", l.route),
		slog.Int("status", status), slog.Duration("latency", took),
		slog.String("request_id", l.requestID),
	}
	n := 5
	if l.hasCaller {
		attrs[n], attrs[n+1] = slog.String("tenant", l.tenant), slog.String("app", l.app)
		n += 2
	}
	attrs[n] = slog.String("client_ip", l.clientIP)
	s.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs[:n+1]...)
	s.cfg.Metrics.RequestDone(l.method, l.route, status, took)
}

// rejectBadPaths refuses a path that is not UTF-8 or holds control
// characters (%00, %FF, ...): no resource can be named so, and passed on
// such a segment would only fail in the database.
func rejectBadPaths(c *gin.Context) {
	p := c.Request.URL.Path
	if !utf8.ValidString(p) {
		respondError(c, http.StatusBadRequest, codeInvalidRequest, "The request path is not valid UTF-8.", "path")
		return
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			respondError(c, http.StatusBadRequest, codeInvalidRequest, "The request path contains a control character.", "path")
			return
		}
	}
}

// recoverPanics answers a Graph 500 for a panic and logs it once.
func (s *server) recoverPanics(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			s.log.ErrorContext(c.Request.Context(), "panic while serving request",
				slog.Any("panic", r), slog.String("request_id", requestIDs(c).request))
			respondError(c, http.StatusInternalServerError, codeGeneral, "An internal error occurred.", "")
		}
	}()
	c.Next()
}

// requireJSONBody checks the media type of requests that carry a body and caps
// the body size; reading past the cap fails with *http.MaxBytesError. Items
// take Graph's 4 MB; everything else the service's own cap.
func (s *server) requireJSONBody(c *gin.Context) {
	limit := s.cfg.MaxBodyBytes
	if strings.Contains(c.FullPath(), "/items/") {
		limit = connections.MaxItemBodyBytes
	}
	s.checkJSONBody(c, limit)
}

// requireJSONBodyUpTo is requireJSONBody with factor times the usual cap.
func (s *server) requireJSONBodyUpTo(factor int64) gin.HandlerFunc {
	return func(c *gin.Context) { s.checkJSONBody(c, factor*s.cfg.MaxBodyBytes) }
}

func (s *server) checkJSONBody(c *gin.Context, limit int64) {
	switch c.Request.Method {
	case http.MethodPost, http.MethodPatch, http.MethodPut:
	case http.MethodDelete:
		rejectQueryOptions(c, onMethod(c))
		return
	default:
		c.Next()
		return
	}
	if !rejectQueryOptions(c, onMethod(c)) {
		return
	}
	if c.Request.ContentLength > limit {
		respondError(c, http.StatusRequestEntityTooLarge, codeTooLarge, tooLargeMessage(limit), "")
		return
	}
	mediaType, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mediaType != "application/json" {
		respondError(c, http.StatusUnsupportedMediaType, codeUnsupportedMedia,
			"The request body must be sent with Content-Type application/json.", "")
		return
	}
	if !decodeContentEncoding(c, limit) {
		return
	}
	c.Set(bodyLimitKey, limit)
	c.Next()
}

// decodeContentEncoding caps the body and undoes gzip, which the Graph SDKs'
// default middleware applies to every request body. The cap applies to both
// the compressed and the decompressed bytes, so a small body cannot expand
// into a large one. Other encodings are a 415, on which the SDKs resend the
// body uncompressed.
func decodeContentEncoding(c *gin.Context, limit int64) bool {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(c.GetHeader("Content-Encoding"))); enc {
	case "", "identity":
		c.Request.Body = body
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			respondError(c, http.StatusBadRequest, codeInvalidRequest, "The gzip-encoded request body is corrupt.", "")
			return false
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, zr, limit)
	default:
		respondError(c, http.StatusUnsupportedMediaType, codeUnsupportedMedia,
			"The Content-Encoding '"+truncate(enc, 32)+"' is not supported; send the body uncompressed or gzip-encoded.", "")
		return false
	}
	return true
}

// rejectQueryOptions refuses query options on writes: OData applies system
// query options to GET only, and one silently ignored would mislead.
func rejectQueryOptions(c *gin.Context, where string) bool {
	for key := range c.Request.URL.Query() {
		respondError(c, http.StatusBadRequest, codeInvalidRequest,
			"Query option '"+truncate(key, 64)+"' is not supported "+where+".", key)
		return false
	}
	return true
}

// onMethod words where rejectQueryOptions refuses an option: on this
// request's method.
func onMethod(c *gin.Context) string { return "on a " + c.Request.Method + " request" }

const deadlineKey = "connops.startDeadline"

// withTimeout bounds the work a request may ask of the database, so a hung
// database turns into a 503 rather than a hung client. For a request with a
// body the clock starts once the body has been read (readJSON): time the
// client spends sending is not time the database took, and a slow sender
// gets 408 from the read deadline, not a 503.
func (s *server) withTimeout(c *gin.Context) {
	// A wait or a stream is held open on purpose; each read it makes has
	// the timeout instead (connections.Options.ReadTimeout).
	if s.cfg.RequestTimeout <= 0 || longLived(c) {
		return
	}
	// A request inside a $batch already carries the batch's deadline, which
	// is never later than its own would be.
	if d, ok := c.Request.Context().Deadline(); ok && time.Until(d) <= s.cfg.RequestTimeout {
		return
	}
	cancel := context.CancelFunc(func() {})
	start := func() {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
		c.Request = c.Request.WithContext(ctx)
	}
	defer func() { cancel() }()
	switch c.Request.Method {
	case http.MethodPost, http.MethodPatch, http.MethodPut:
		c.Set(deadlineKey, start)
	default:
		start()
	}
	c.Next()
}

// startDeadline starts the request's database deadline if withTimeout left
// it for after the body.
func startDeadline(c *gin.Context) {
	if v, ok := c.Get(deadlineKey); ok {
		c.Set(deadlineKey, nil)
		if start, ok := v.(func()); ok {
			start()
		}
	}
}
