package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
)

// healthz answers while the process runs; it never touches the database, so a
// database outage does not make an orchestrator restart healthy processes.
func (s *server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers from the readiness check's last result: a probe, or a flood
// of unauthenticated callers, costs the database nothing.
func (s *server) readyz(c *gin.Context) {
	if err := s.ready.Ready(); err != nil {
		s.log.DebugContext(c.Request.Context(), "not ready", slog.String("error", err.Error()))
		respondError(c, http.StatusServiceUnavailable, codeUnavailable,
			"The service is not ready: its database is unreachable or not migrated.", "")
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
