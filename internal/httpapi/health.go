package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz answers while the process runs; it never touches the database, so a
// database outage does not make an orchestrator restart healthy processes.
func (s *server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyzTimeout bounds the readiness query so a hung database reads as not
// ready rather than as a hung probe.
const readyzTimeout = 2 * time.Second

func (s *server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyzTimeout)
	defer cancel()
	if err := s.ready.Check(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", slog.String("error", err.Error()))
		respondError(c, http.StatusServiceUnavailable, codeUnavailable,
			"The service is not ready: its database is unreachable or not migrated.", "")
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
