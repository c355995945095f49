package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
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
		op, err := s.svc.CreateOperation(c.Request.Context(), mustCaller(c), connectionID, n)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("Location", s.entityURL(c, rt, connectionID, "operations", op.ID))
		s.respond(c, http.StatusCreated, renderOperation(rt, s.operationContext(c, rt, connectionID), op))
	}
}

func (s *server) getOperation(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		connectionID := c.Param("connectionId")
		op, err := s.svc.GetOperation(c.Request.Context(), mustCaller(c), connectionID, c.Param("operationId"))
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.respond(c, http.StatusOK, renderOperation(rt, s.operationContext(c, rt, connectionID), op))
	}
}

func (s *server) operationContext(c *gin.Context, rt route, connectionID string) string {
	return s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/operations/$entity")
}
