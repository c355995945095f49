package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/connops/connops/internal/connections"
)

// connectionStatisticsSQL counts a visible connection's operations and
// items per minute from $5 for $6 minutes, and lists the durations of its
// latest $7 finished schema registrations, in one round trip. The
// operation counts read operations_updated_idx, the item counts
// items_updated_idx: only the window's rows; an invisible connection
// answers no row.
const connectionStatisticsSQL = `
WITH conn AS (
  SELECT c.tenant_id, c.id, c.uid FROM connections c WHERE ` + visibleConnection + ` AND c.id = $4
), minutes AS (
  SELECT generate_series(0, $6 - 1) AS m
), ops AS (
  SELECT o.status, o.kind, o.created_at, o.updated_at FROM operations o, conn
  WHERE o.tenant_id = conn.tenant_id AND o.connection_id = conn.id
    AND o.updated_at >= $5 -- created in the window implies updated in it
)
SELECT
  (SELECT array_agg((SELECT count(*) FROM ops WHERE ops.created_at >= $5 + make_interval(mins => m) AND ops.created_at < $5 + make_interval(mins => m + 1)) ORDER BY m) FROM minutes),
  (SELECT array_agg((SELECT count(*) FROM ops WHERE ops.status = 'completed' AND ops.updated_at >= $5 + make_interval(mins => m) AND ops.updated_at < $5 + make_interval(mins => m + 1)) ORDER BY m) FROM minutes),
  (SELECT array_agg((SELECT count(*) FROM ops WHERE ops.status = 'failed' AND ops.updated_at >= $5 + make_interval(mins => m) AND ops.updated_at < $5 + make_interval(mins => m + 1)) ORDER BY m) FROM minutes),
  (SELECT array_agg(coalesce(i.n, 0) ORDER BY m) FROM minutes LEFT JOIN (
     SELECT floor(extract(epoch FROM x.updated_at - $5) / 60)::int AS minute, count(*) AS n FROM items x, conn
     WHERE x.tenant_id = conn.tenant_id AND x.connection_uid = conn.uid AND x.updated_at >= $5 GROUP BY 1) i ON i.minute = m),
  coalesce((SELECT array_agg(d ORDER BY v DESC) FROM (
     SELECT extract(epoch FROM o.updated_at - o.created_at)::float8 AS d, sv.version AS v FROM schema_versions sv, conn, operations o
     WHERE sv.tenant_id = conn.tenant_id AND sv.connection_id = conn.id
       AND o.tenant_id = sv.tenant_id AND o.connection_id = sv.connection_id AND o.id = sv.operation_id
       AND o.status IN ('completed', 'failed')
     ORDER BY sv.version DESC LIMIT $7) r), '{}')
FROM conn`

// ConnectionStatistics reads a connection's activity per minute.
func (s *Store) ConnectionStatistics(ctx context.Context, scope connections.Scope, connectionID string, windowStart time.Time, minutes, durations int) (connections.Statistics, error) {
	st := connections.Statistics{WindowStart: windowStart, Minutes: minutes}
	err := s.pool.QueryRow(ctx, connectionStatisticsSQL, scopeArgs(scope, connectionID, windowStart, minutes, durations)...).
		Scan(&st.OperationsStarted, &st.OperationsCompleted, &st.OperationsFailed, &st.ItemsWritten, &st.ProvisioningSeconds)
	if err != nil {
		return st, fmt.Errorf("statistics of %s: %w", connectionID, domainError(err))
	}
	return st, nil
}
