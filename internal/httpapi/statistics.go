package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// statisticsBody is the connops extension GET …/{id}/statistics: a
// connection's last hour per minute, for dashboards. Not a Graph resource.
type statisticsBody struct {
	WindowStart         string    `json:"windowStart"`
	MinuteCount         int       `json:"minuteCount"`
	OperationsStarted   []int64   `json:"operationsStarted"`
	OperationsCompleted []int64   `json:"operationsCompleted"`
	OperationsFailed    []int64   `json:"operationsFailed"`
	ItemsWritten        []int64   `json:"itemsWritten"`
	ProvisioningSeconds []float64 `json:"provisioningSeconds"`
}

func (s *server) getStatistics(c *gin.Context) {
	if !rejectQueryOptions(c, onMethod(c)) {
		return
	}
	st, err := s.svc.ConnectionStatistics(c.Request.Context(), mustCaller(c), c.Param("connectionId"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.respond(c, http.StatusOK, statisticsBody{
		WindowStart: st.WindowStart.UTC().Format(time.RFC3339), MinuteCount: st.Minutes,
		OperationsStarted: st.OperationsStarted, OperationsCompleted: st.OperationsCompleted,
		OperationsFailed: st.OperationsFailed, ItemsWritten: st.ItemsWritten, ProvisioningSeconds: st.ProvisioningSeconds,
	})
}
