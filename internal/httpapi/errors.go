package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/odata"
	"github.com/connops/connops/internal/tenantgate"
)

// Graph error codes we answer with (see docs/api.md).
const (
	codeInvalidRequest    = "invalidRequest"
	codeUnauthenticated   = "InvalidAuthenticationToken"
	codeAccessDenied      = "accessDenied"
	codeItemNotFound      = "itemNotFound"
	codeResourceNotFound  = "resourceNotFound"
	codeNotSupported      = "notSupported"
	codeAlreadyExists     = "nameAlreadyExists"
	codeConflict          = "conflict"
	codeResourceModified  = "resourceModified"
	codeNotAcceptable     = "notAcceptable"
	codeTooLarge          = "requestEntityTooLarge"
	codeUnsupportedMedia  = "unsupportedMediaType"
	codeGeneral           = "generalException"
	codeUnavailable       = "serviceNotAvailable"
	codeTooManyRequests   = "TooManyRequests"
	codeKeyReused         = "idempotencyKeyReused"
	codeLimitExceeded     = "limitExceeded"
	codeRequestTimeout    = "requestTimeout"
	codeQuotaLimitReached = "quotaLimitReached"
	codeSyncStateNotFound = "syncStateNotFound"
)

// retryAfterSeconds is what a 503 asks the client to wait: long enough for a
// database restart or failover to finish, short enough to keep retries useful.
const retryAfterSeconds = "5"

type errorEnvelope struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	Target     string     `json:"target,omitempty"`
	InnerError innerError `json:"innerError"`
}

// innerError carries the ids a support request needs. date has no offset and
// no fraction, as Graph sends it and as the Graph SDKs parse it.
type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// respondError writes Graph's error envelope and stops the handler chain.
func respondError(c *gin.Context, status int, code, message, target string) {
	respondEnvelope(c, status, envelope(requestIDs(c), code, message, target))
}

func respondEnvelope(c *gin.Context, status int, env errorEnvelope) {
	setRetryAfter(c.Writer.Header(), status)
	c.AbortWithStatusJSON(status, env)
}

// setRetryAfter gives a 503 or 429 the Retry-After that Graph's SDKs back
// off by, unless the answer has one already.
func setRetryAfter(h http.Header, status int) {
	if needsRetryAfter(status) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", retryAfterSeconds)
	}
}

func envelope(ids ids, code, message, target string) errorEnvelope {
	return errorEnvelope{Error: errorBody{
		Code: code, Message: message, Target: target,
		InnerError: innerError{
			Date:            time.Now().UTC().Format("2006-01-02T15:04:05"),
			RequestID:       ids.request,
			ClientRequestID: ids.client,
		},
	}}
}

// errorKinds is the one table from a domain error kind to its answer,
// matched in order with errors.Is. message is said when the error carries
// none of its own (a bare kind).
var errorKinds = []struct {
	kind    error
	status  int
	code    string
	message string
}{
	{connections.ErrInvalid, http.StatusBadRequest, codeInvalidRequest, "The request is malformed or incorrect."},
	{connections.ErrNotFound, http.StatusNotFound, codeItemNotFound, "The requested resource does not exist."},
	{connections.ErrAlreadyExists, http.StatusConflict, codeAlreadyExists, "A resource with this id already exists."},
	{connections.ErrConflict, http.StatusConflict, codeConflict, "The request conflicts with the resource's current state."},
	{connections.ErrUnprocessable, http.StatusUnprocessableEntity, codeKeyReused, "The Idempotency-Key was already used with a different request."},
	{connections.ErrLimitExceeded, http.StatusConflict, codeLimitExceeded, "A quota is used up."},
	{connections.ErrQuotaExceeded, http.StatusInsufficientStorage, codeQuotaLimitReached, "The connection holds its maximum of items."},
	{connections.ErrPreconditionFailed, http.StatusPreconditionFailed, codeResourceModified, "The resource has changed since the ETag in If-Match was read."},
	{connections.ErrForbidden, http.StatusForbidden, codeAccessDenied, "The caller lacks the permission this request needs."},
	{connections.ErrGone, http.StatusGone, codeSyncStateNotFound, "The change log no longer holds the changes after this point."},
	{connections.ErrUnavailable, http.StatusServiceUnavailable, codeUnavailable, "The service is temporarily unavailable. Retry after the delay in the Retry-After header."},
	{errRequestTimeout, http.StatusRequestTimeout, codeRequestTimeout, "The request body did not arrive in time."},
	{tenantgate.ErrBusy, http.StatusTooManyRequests, codeTooManyRequests,
		"Too many requests of this tenant are running at once. Retry after the delay in the Retry-After header."},
}

// errRequestTimeout: the client took longer than the read timeout to send
// its body. It is the client's delay, not the database's.
var errRequestTimeout = errors.New("request body timed out")

// maxLoggedError bounds an error as written to the log: errors can quote
// client input, and a log line must stay small whatever a client sends.
const maxLoggedError = 1024

// writeError is the one place that maps errors to HTTP answers (through
// errorReply).
func (s *server) writeError(c *gin.Context, err error) {
	status, env := s.errorReply(c.Request.Context(), routeOf(c), requestIDs(c), err)
	respondEnvelope(c, status, env)
}

// errorReply is the answer to err: the status and code come from the
// error's kind; the message and target from the error when it words them
// (a *connections.FieldError in the names of the representation rt
// speaks). Anything without a kind is a bug: it is logged once here and
// answered without detail. It needs no gin.Context, so a parked wait
// (parked.go) answers errors with it too.
func (s *server) errorReply(ctx context.Context, rt route, id ids, err error) (int, errorEnvelope) {
	for _, k := range errorKinds {
		if !errors.Is(err, k.kind) {
			continue
		}
		message, target := k.message, ""
		var field *connections.FieldError
		var pub *connections.Error
		var opt *odata.Error
		switch {
		case errors.As(err, &field):
			target = rt.wireField(field.Field)
			message = "Property '" + target + "' " + field.Reason + "."
		case errors.As(err, &pub):
			message, target = pub.Message, pub.Target
		case errors.As(err, &opt):
			message, target = opt.Message, opt.Option
		}
		if k.kind == connections.ErrUnavailable {
			s.cfg.Metrics.DatabaseUnavailable()
			s.log.WarnContext(ctx, "database unavailable", slog.String("error", truncate(err.Error(), maxLoggedError)),
				slog.String("request_id", id.request))
		}
		return k.status, envelope(id, k.code, message, target)
	}
	s.log.ErrorContext(ctx, "request failed", slog.String("error", truncate(err.Error(), maxLoggedError)),
		slog.String("request_id", id.request))
	return http.StatusInternalServerError, envelope(id, codeGeneral, "An internal error occurred.", "")
}

// needsRetryAfter: Graph's SDKs back off by Retry-After on these.
func needsRetryAfter(status int) bool {
	return status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests
}
