package connections

import (
	"context"
	"time"
)

// Statistics is a connops extension for dashboards (the console's plots):
// one connection's activity over the last hour, per minute, and how long
// its recent schema registrations took.
type Statistics struct {
	// WindowStart is the start of the first minute; the series hold one
	// count per minute from it, oldest first.
	WindowStart time.Time
	Minutes     int
	// OperationsStarted counts operations created per minute;
	// OperationsCompleted and OperationsFailed those that ended so (by
	// their last update).
	OperationsStarted, OperationsCompleted, OperationsFailed []int64
	// ItemsWritten counts items by the minute of their last write: an item
	// written twice in the hour counts once, at its latest write.
	ItemsWritten []int64
	// ProvisioningSeconds are the durations of the most recent finished
	// schema registrations (at most StatisticsDurations), newest first.
	ProvisioningSeconds []float64
}

// Statistics window and bounds.
const (
	StatisticsMinutes   = 60
	StatisticsDurations = 500
)

// StatisticsStore reads what Statistics reports.
type StatisticsStore interface {
	// ConnectionStatistics fills the series from windowStart on, one per
	// minute for minutes minutes. ErrNotFound: no connection in scope.
	ConnectionStatistics(ctx context.Context, scope Scope, connectionID string, windowStart time.Time, minutes, durations int) (Statistics, error)
}

// ConnectionStatistics reports a connection's last hour.
func (s *Service) ConnectionStatistics(ctx context.Context, caller Caller, connectionID string) (Statistics, error) {
	scope, err := caller.readScope()
	if err != nil {
		return Statistics{}, err
	}
	start := time.Now().UTC().Truncate(time.Minute).Add(-(StatisticsMinutes - 1) * time.Minute)
	st, err := s.store.ConnectionStatistics(ctx, scope, connectionID, start, StatisticsMinutes, StatisticsDurations)
	if err != nil {
		return Statistics{}, connectionError(err, connectionID)
	}
	return st, nil
}
