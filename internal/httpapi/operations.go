package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

func (s *server) createOperation(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		n, err := decodeNewOperation(rt, body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		key, err := idempotencyKey(c, "operation", connectionID, body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		op, replayed, err := s.svc.CreateOperation(c.Request.Context(), mustCaller(c), connectionID, n, key)
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.markReplay(c, replayed)
		c.Header("Location", s.entityURL(c, rt, connectionID, "operations", op.ID))
		c.Header("ETag", etag(op.Version))
		s.respond(c, http.StatusCreated, renderOperation(rt, s.operationContext(c, rt, connectionID), op, nil))
	}
}

func (s *server) getOperation(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		var q *operationRead
		ok := false
		// Parsing runs deeper than the wait itself: on the request's own
		// goroutine it would grow the stack a held wait then keeps.
		onOwnStack(func() { q, ok = s.operationQuery(c, rt) })
		if !ok {
			return
		}
		if q.wait.For > 0 {
			s.waitOperation(c, rt, q)
			return
		}
		op, err := s.svc.WaitOperation(c.Request.Context(), mustCaller(c), q.connectionID, c.Param("operationId"), q.selects, q.wait)
		s.answerOperation(c, rt, q, op, err)
	}
}

// onOwnStack runs f on a goroutine of its own and waits for it: a request
// that will be held open keeps, while it is held, the largest stack it
// ever needed, so deep work before the hold runs elsewhere.
func onOwnStack(f func()) {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	<-done
}

// operationRead is a GET of an operation as its handler reads it: all an
// answer needs once the request's gin.Context is gone (a parked wait's
// is, see parked.go).
type operationRead struct {
	connectionID string
	contextURL   string
	selects      []string
	wait         connections.WaitCondition
	// applied is the wait Preference-Applied reports: wait.For, or 0 for
	// a wait its replica answers at once as it shuts down.
	applied time.Duration
	anyTag  bool
}

func (s *server) operationQuery(c *gin.Context, rt route) (*operationRead, bool) {
	opts, err := s.parseQuery(c, rt, getRules)
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	connectionID := c.Param("connectionId")
	q := &operationRead{connectionID: connectionID, contextURL: s.operationContext(c, rt, connectionID), selects: opts.Select}
	q.wait.NoneMatch, q.anyTag = parseIfNoneMatch(c)
	q.wait.For = s.waitFor(c)
	q.applied = q.wait.For
	return q, true
}

func (s *server) answerOperation(c *gin.Context, rt route, q *operationRead, op connections.Operation, err error) {
	var status int
	var body []byte
	if err == nil {
		status, body, err = operationReply(c.Writer.Header(), rt, q, op)
	}
	switch {
	case err != nil:
		s.writeError(c, err)
	case body == nil:
		c.Status(status)
	default:
		c.Data(status, graphJSON, body)
	}
}

// operationReply puts the answer to a read of op in h and returns its
// status and body (nil for a 304). It needs no gin.Context: a parked wait
// answers with it too.
func operationReply(h http.Header, rt route, q *operationRead, op connections.Operation) (int, []byte, error) {
	if q.applied > 0 {
		h.Add("Preference-Applied", "wait="+strconv.Itoa(int(q.applied/time.Second)))
	}
	h.Set("ETag", etag(op.Version))
	if q.anyTag || slices.Contains(q.wait.NoneMatch, op.Version) {
		// The caller holds this version already (RFC 9110 If-None-Match).
		h.Set("Cache-Control", "no-cache")
		return http.StatusNotModified, nil, nil
	}
	body, err := encodeBody(renderOperation(rt, q.contextURL, op, q.selects))
	if err != nil {
		return 0, nil, err
	}
	setODataHeaders(h)
	h.Set("Content-Type", graphJSON)
	return http.StatusOK, body, nil
}

func (s *server) listOperations(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if longLived(c) {
			s.streamChanges(c, rt, c.Param("connectionId"))
			return
		}
		opts, err := s.parseQuery(c, rt, listRules)
		if err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		page, err := s.svc.ListOperations(c.Request.Context(), mustCaller(c), connectionID, opts.list)
		if err != nil {
			s.writeError(c, err)
			return
		}
		list := collection{Context: s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/operations"), Count: page.Count, Value: []any{}}
		for _, op := range page.Items {
			list.Value = append(list.Value, renderOperation(rt, "", op, opts.Select))
		}
		if page.Next != nil {
			list.NextLink = s.nextLink(c, opts, page.Next)
		}
		s.respond(c, http.StatusOK, list)
	}
}

// waitFor is the wait a Prefer: wait=N asks for, capped at WAIT_MAX, or 0.
// A held answer may take longer than the server's write timeout, so the
// deadline moves past the wait.
func (s *server) waitFor(c *gin.Context) time.Duration {
	if !longLived(c) {
		return 0
	}
	d := min(time.Duration(parsePrefer(c).wait)*time.Second, s.cfg.WaitMax)
	if d > 0 {
		_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(d + writeSlack))
	}
	return d
}

// writeSlack is the time past a wait, or a stream's heartbeat, the
// answer may take to write.
const writeSlack = 30 * time.Second

// countOperations answers the $count segment with a bare integer.
func (s *server) countOperations(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		opts, err := s.parseQuery(c, rt, countRules)
		if err != nil {
			s.writeError(c, err)
			return
		}
		n, err := s.svc.CountOperations(c.Request.Context(), mustCaller(c), c.Param("connectionId"), opts.list.Filter)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("OData-Version", "4.0")
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(strconv.FormatInt(n, 10)))
	}
}

// updateOperation answers 204, or 200 with the entity when the client
// prefers a representation.
func (s *server) updateOperation(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		patch, err := decodeOperationPatch(rt, body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		op, err := s.svc.UpdateOperation(c.Request.Context(), mustCaller(c), connectionID, c.Param("operationId"), patch, parseIfMatch(c))
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("ETag", etag(op.Version))
		if parsePrefer(c).representation {
			c.Writer.Header().Add("Preference-Applied", "return=representation")
			s.respond(c, http.StatusOK, renderOperation(rt, s.operationContext(c, rt, connectionID), op, nil))
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func (s *server) deleteOperation(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.svc.DeleteOperation(c.Request.Context(), mustCaller(c), c.Param("connectionId"), c.Param("operationId")); err != nil {
			s.writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func (s *server) operationContext(c *gin.Context, rt route, connectionID string) string {
	return s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/operations/$entity")
}

// decodeOperationPatch reads a PATCH body: status and error may change; id is
// read-only. Graph's evolvable-enum rule makes unknownFutureValue in a PATCH
// mean "leave it alone", so it decodes to no status at all.
func decodeOperationPatch(rt route, body []byte) (connections.OperationPatch, error) {
	var p connections.OperationPatch
	var status string
	var e errorInput
	errFields := e.publicFields()
	if rt.legacy {
		errFields = e.legacyFields()
	}
	var errPresent bool
	err := decodeObject("", body, fields{
		"@odata.type": odataTypeField(typeOperation, typeLegacyOperation),
		"id":          readOnlyField,
		"status":      stringField(&status),
		"error": func(path string, raw json.RawMessage) error {
			p.SetError = true
			return objectField(&errPresent, errFields)(path, raw)
		},
	})
	if connections.Status(status) != connections.StatusUnknownFutureValue {
		p.Status = connections.Status(status)
	}
	if errPresent {
		p.Error = e.canonical()
	}
	return p, err
}
