package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

// Graph error codes we answer with (see docs/api.md).
const (
	codeInvalidRequest   = "invalidRequest"
	codeUnauthenticated  = "InvalidAuthenticationToken"
	codeAccessDenied     = "accessDenied"
	codeItemNotFound     = "itemNotFound"
	codeResourceNotFound = "resourceNotFound"
	codeNotSupported     = "notSupported"
	codeAlreadyExists    = "nameAlreadyExists"
	codeConflict         = "conflict"
	codeResourceModified = "resourceModified"
	codeNotAcceptable    = "notAcceptable"
	codeTooLarge         = "requestEntityTooLarge"
	codeUnsupportedMedia = "unsupportedMediaType"
	codeGeneral          = "generalException"
	codeUnavailable      = "serviceNotAvailable"
	codeTooManyRequests  = "TooManyRequests"
	codeKeyReused        = "idempotencyKeyReused"
	codeLimitExceeded    = "limitExceeded"
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
	ids := requestIDs(c)
	if (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", retryAfterSeconds)
	}
	c.AbortWithStatusJSON(status, envelope(ids, code, message, target))
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

// writeError is the one place that maps domain errors to HTTP answers.
// Anything unexpected is logged once here and answered without detail.
func (s *server) writeError(c *gin.Context, err error) {
	var pub *connections.Error
	hasPub := errors.As(err, &pub)
	switch {
	case hasPub && errors.Is(err, connections.ErrInvalid):
		respondError(c, http.StatusBadRequest, codeInvalidRequest, pub.Message, pub.Target)
	case hasPub && errors.Is(err, connections.ErrNotFound):
		respondError(c, http.StatusNotFound, codeItemNotFound, pub.Message, "")
	case hasPub && errors.Is(err, connections.ErrAlreadyExists):
		respondError(c, http.StatusConflict, codeAlreadyExists, pub.Message, "")
	case hasPub && errors.Is(err, connections.ErrConflict):
		respondError(c, http.StatusConflict, codeConflict, pub.Message, pub.Target)
	case hasPub && errors.Is(err, connections.ErrUnprocessable):
		respondError(c, http.StatusUnprocessableEntity, codeKeyReused, pub.Message, pub.Target)
	case hasPub && errors.Is(err, connections.ErrLimitExceeded):
		respondError(c, http.StatusConflict, codeLimitExceeded, pub.Message, "")
	case hasPub && errors.Is(err, connections.ErrPreconditionFailed):
		respondError(c, http.StatusPreconditionFailed, codeResourceModified, pub.Message, "")
	case hasPub && errors.Is(err, connections.ErrForbidden):
		respondError(c, http.StatusForbidden, codeAccessDenied, pub.Message, "")
	case errors.Is(err, connections.ErrUnavailable):
		s.cfg.Metrics.DatabaseUnavailable()
		s.log.WarnContext(c.Request.Context(), "database unavailable", slog.String("error", err.Error()),
			slog.String("request_id", requestIDs(c).request))
		respondError(c, http.StatusServiceUnavailable, codeUnavailable,
			"The service is temporarily unavailable. Retry after the delay in the Retry-After header.", "")
	default:
		s.log.ErrorContext(c.Request.Context(), "request failed", slog.String("error", err.Error()),
			slog.String("request_id", requestIDs(c).request))
		respondError(c, http.StatusInternalServerError, codeGeneral, "An internal error occurred.", "")
	}
}
