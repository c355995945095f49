package connections

import (
	"context"
	"errors"
	"fmt"
)

// feedBatch bounds the changes one read of a feed returns.
const feedBatch = 200

// Feed follows the change log for one caller: every change it may see,
// after a position, in order, with no gap and no repeat.
type Feed struct {
	svc          *Service
	scope        Scope
	connectionID string
	watch        Watch
	after        int64
	start        int64
	ended        bool
}

// FollowChanges opens a feed of the changes caller may see: of one
// connection and its operations when connectionID is set (the feed ends
// after the connection's deletion), else of every connection and operation
// in scope. It starts after the change lastEventID when that is
// set, else at the newest change. ErrGone: retention has removed changes
// after lastEventID. Close the feed when done.
func (s *Service) FollowChanges(ctx context.Context, caller Caller, connectionID string, lastEventID *int64) (*Feed, error) {
	scope, err := caller.readScope()
	if err != nil {
		return nil, err
	}
	if s.opts.Changes == nil {
		return nil, &Error{Kind: ErrUnavailable, Message: "Change streams are not available on this server."}
	}
	f := &Feed{svc: s, scope: scope, connectionID: connectionID}
	// Registered before the position is read, so nothing committed in
	// between goes unannounced.
	f.watch, err = s.opts.Changes.Watch(ctx, ChangeKey{TenantID: scope.TenantID, ConnectionID: connectionID})
	if err != nil {
		return nil, err
	}
	err = s.boundedRead(ctx, scope.TenantID, func(ctx context.Context) error {
		if connectionID != "" {
			if _, err := s.store.GetConnection(ctx, scope, connectionID); err != nil {
				return connectionError(err, connectionID)
			}
		}
		latest, err := s.store.LatestChange(ctx, scope.TenantID)
		if err != nil {
			return err
		}
		f.after = latest
		if lastEventID == nil {
			return nil
		}
		if *lastEventID < 0 || *lastEventID > latest {
			return invalid("Last-Event-ID", "Last-Event-ID %d is no event of this stream.", *lastEventID)
		}
		horizon, err := s.store.ChangeHorizon(ctx, scope.TenantID)
		if err != nil {
			return err
		}
		if *lastEventID < horizon {
			return &Error{Kind: ErrGone, Target: "Last-Event-ID", Message: fmt.Sprintf(
				"The change log no longer holds every change after event %d (retention has removed changes up to %d). "+
					"Read the collection again and open a new stream.", *lastEventID, horizon)}
		}
		f.after = *lastEventID
		return nil
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	f.start = f.after
	return f, nil
}

// Start is the position the feed started after: the change the client
// has seen last.
func (f *Feed) Start() int64 { return f.start }

// Next returns the next changes, waiting until some commit or ctx ends
// (then with ctx's error and no changes). After the followed connection's
// deletion it returns ErrNotFound.
func (f *Feed) Next(ctx context.Context) ([]Change, error) {
	for {
		if f.ended {
			return nil, connectionError(ErrNotFound, f.connectionID)
		}
		var changes []Change
		err := f.svc.boundedRead(ctx, f.scope.TenantID, func(ctx context.Context) error {
			var err error
			changes, err = f.svc.store.ListChanges(ctx, f.scope, f.connectionID, f.after, feedBatch)
			return err
		})
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if len(changes) > 0 {
			f.after = changes[len(changes)-1].ID
			for i, c := range changes {
				if f.connectionID != "" && c.Connection != nil && c.Type == ChangeDeleted {
					f.ended = true
					return changes[:i+1], nil
				}
			}
			return changes, nil
		}
		select {
		case <-f.watch.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close ends the feed's watch.
func (f *Feed) Close() {
	if f.watch.Stop != nil {
		f.watch.Stop()
	}
}
