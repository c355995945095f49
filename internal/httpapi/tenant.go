package httpapi

import (
	"github.com/gin-gonic/gin"
)

// tenantSlot holds one of the caller's tenant slots while the request runs
// (tenantgate). Routes whose writes go through the store's write queues
// (operation creates, item PUTs) do not take one here: the queue holds a
// slot only while it writes, so queued creates can still share statements.
//
// A wait or an event stream takes none either: it would hold the slot
// while it waits. The service takes one around each read it makes.
func (s *server) tenantSlot(c *gin.Context) {
	if longLived(c) {
		c.Next()
		return
	}
	release, err := s.cfg.TenantGate.Acquire(c.Request.Context(), mustCaller(c).TenantID)
	if err != nil {
		c.Header("Retry-After", "1")
		s.writeError(c, err)
		return
	}
	defer release()
	c.Next()
}
