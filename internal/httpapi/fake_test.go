package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/httpapi"
	"github.com/connops/connops/internal/odata"
)

// fakeService stands in for the domain in tests of the HTTP layer alone:
// decoding, negotiation, routing, the error envelope, query options. It
// records every call, so a test can tell that a refused request never
// reached the domain, and answers each call with err (nil: success with
// an echo of the input).
type fakeService struct {
	mu     sync.Mutex
	calls  []string
	err    error
	panics bool
}

func (f *fakeService) call(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if f.panics {
		panic("secret internal detail")
	}
	return f.err
}

func (f *fakeService) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var fakeTime = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func (f *fakeService) CreateConnection(_ context.Context, _ connections.Caller, n connections.NewConnection, _ *connections.IdempotencyKey) (connections.Connection, bool, error) {
	return connections.Connection{ID: n.ID, Name: n.Name, State: connections.StateDraft, Version: 1, CreatedAt: fakeTime}, false, f.call("CreateConnection")
}

func (f *fakeService) GetConnection(_ context.Context, _ connections.Caller, id string, _ []string) (connections.Connection, error) {
	return connections.Connection{ID: id, Name: "n", State: connections.StateDraft, Version: 1}, f.call("GetConnection")
}

func (f *fakeService) ListConnections(context.Context, connections.Caller, connections.ListQuery) (connections.Page[connections.Connection], error) {
	return connections.Page[connections.Connection]{}, f.call("ListConnections")
}

func (f *fakeService) UpdateConnection(_ context.Context, _ connections.Caller, id string, _ connections.ConnectionPatch, _ *connections.Precondition) (connections.Connection, error) {
	return connections.Connection{ID: id, Version: 2}, f.call("UpdateConnection")
}

func (f *fakeService) DeleteConnection(context.Context, connections.Caller, string) error {
	return f.call("DeleteConnection")
}

func (f *fakeService) CreateOperation(_ context.Context, _ connections.Caller, connectionID string, n connections.NewOperation, _ *connections.IdempotencyKey) (connections.Operation, bool, error) {
	return connections.Operation{ConnectionID: connectionID, ID: n.ID, Status: n.Status, Error: n.Error, Version: 1}, false, f.call("CreateOperation")
}

func (f *fakeService) WaitOperation(_ context.Context, _ connections.Caller, connectionID, id string, _ []string, _ connections.WaitCondition) (connections.Operation, error) {
	return connections.Operation{ConnectionID: connectionID, ID: id, Status: connections.StatusInProgress, Version: 1}, f.call("WaitOperation")
}

func (f *fakeService) ConnectionStatistics(context.Context, connections.Caller, string) (connections.Statistics, error) {
	return connections.Statistics{}, f.call("ConnectionStatistics")
}

func (f *fakeService) FollowChanges(context.Context, connections.Caller, string, *int64) (*connections.Feed, error) {
	if err := f.call("FollowChanges"); err != nil {
		return nil, err
	}
	// The fake has no change log; a stream it opened would have nothing
	// to follow.
	return nil, connections.ErrUnavailable
}

func (f *fakeService) ListOperations(context.Context, connections.Caller, string, connections.ListQuery) (connections.Page[connections.Operation], error) {
	return connections.Page[connections.Operation]{}, f.call("ListOperations")
}

func (f *fakeService) CountOperations(context.Context, connections.Caller, string, connections.Filter) (int64, error) {
	return 0, f.call("CountOperations")
}

func (f *fakeService) UpdateOperation(_ context.Context, _ connections.Caller, connectionID, id string, _ connections.OperationPatch, _ *connections.Precondition) (connections.Operation, error) {
	return connections.Operation{ConnectionID: connectionID, ID: id, Version: 2}, f.call("UpdateOperation")
}

func (f *fakeService) DeleteOperation(context.Context, connections.Caller, string, string) error {
	return f.call("DeleteOperation")
}

// fakeReady is a readiness check that says what it is told.
type fakeReady struct{ err error }

func (r fakeReady) Ready() error { return r.err }

// testTokens is a page token codec for handlers built in tests.
func testTokens(t *testing.T) *odata.TokenCodec {
	t.Helper()
	codec, err := odata.NewTokenCodec([]byte("fake-env-page-token-key"))
	if err != nil {
		t.Fatal(err)
	}
	return codec
}

// newFakeHandler is the real router over fake, with no database behind it.
func newFakeHandler(t *testing.T, fake *fakeService) http.Handler {
	t.Helper()
	h, err := httpapi.New(httpapi.Config{PageTokens: testTokens(t)}, fake, auth.NewHS256([]byte(testSecret)), fakeReady{},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newFakeEnv serves newFakeHandler over real HTTP.
func newFakeEnv(t *testing.T, fake *fakeService) *env {
	t.Helper()
	t.Parallel()
	srv := httptest.NewServer(newFakeHandler(t, fake))
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL}
}

func (f *fakeService) RegisterSchema(_ context.Context, _ connections.Caller, connectionID string, _ connections.Schema) (connections.Operation, error) {
	return connections.Operation{ConnectionID: connectionID, ID: "op-1", Kind: connections.KindSchema, Status: connections.StatusInProgress, Version: 1}, f.call("RegisterSchema")
}

func (f *fakeService) GetSchema(context.Context, connections.Caller, string) (connections.SchemaVersion, error) {
	return connections.SchemaVersion{}, f.call("GetSchema")
}

func (f *fakeService) PutItem(context.Context, connections.Caller, string, string, connections.ItemInput) (bool, error) {
	return true, f.call("PutItem")
}

func (f *fakeService) GetItem(_ context.Context, _ connections.Caller, _, id string, _ []string) (connections.Item, error) {
	return connections.Item{ID: id}, f.call("GetItem")
}

func (f *fakeService) UpdateItem(_ context.Context, _ connections.Caller, _, id string, _ connections.ItemPatch) (connections.Item, error) {
	return connections.Item{ID: id}, f.call("UpdateItem")
}

func (f *fakeService) DeleteItem(context.Context, connections.Caller, string, string) error {
	return f.call("DeleteItem")
}

func (f *fakeService) ListItems(context.Context, connections.Caller, string, connections.ListQuery) (connections.Page[connections.Item], error) {
	return connections.Page[connections.Item]{}, f.call("ListItems")
}

func (f *fakeService) CountItems(context.Context, connections.Caller, string, connections.Filter) (int64, error) {
	return 0, f.call("CountItems")
}

func (f *fakeService) AddActivities(context.Context, connections.Caller, string, string, []connections.Activity) ([]connections.ActivityResult, error) {
	return nil, f.call("AddActivities")
}

func (f *fakeService) ItemQuota(context.Context, connections.Caller, string) (connections.ItemQuota, error) {
	return connections.ItemQuota{}, f.call("ItemQuota")
}

func (f *fakeService) CreateGroup(_ context.Context, _ connections.Caller, _ string, g connections.ExternalGroup) (connections.ExternalGroup, error) {
	return g, f.call("CreateGroup")
}

func (f *fakeService) GetGroup(_ context.Context, _ connections.Caller, _, id string) (connections.ExternalGroup, error) {
	return connections.ExternalGroup{ID: id}, f.call("GetGroup")
}

func (f *fakeService) UpdateGroup(_ context.Context, _ connections.Caller, _, id string, _ connections.GroupPatch) (connections.ExternalGroup, error) {
	return connections.ExternalGroup{ID: id}, f.call("UpdateGroup")
}

func (f *fakeService) DeleteGroup(context.Context, connections.Caller, string, string) error {
	return f.call("DeleteGroup")
}

func (f *fakeService) AddMember(_ context.Context, _ connections.Caller, _, _ string, m connections.Member) (connections.Member, error) {
	return m, f.call("AddMember")
}

func (f *fakeService) GetMember(_ context.Context, _ connections.Caller, _, _, id string) (connections.Member, error) {
	return connections.Member{ID: id}, f.call("GetMember")
}

func (f *fakeService) ListMembers(context.Context, connections.Caller, string, string, connections.ListQuery) (connections.Page[connections.Member], error) {
	return connections.Page[connections.Member]{}, f.call("ListMembers")
}

func (f *fakeService) DeleteMember(context.Context, connections.Caller, string, string, string) error {
	return f.call("DeleteMember")
}

func (f *fakeService) CreateSubscription(_ context.Context, c connections.Caller, n connections.NewSubscription) (connections.Subscription, error) {
	return connections.Subscription{ID: "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", TenantID: c.TenantID, AppID: c.AppID,
		Resource: n.Resource, ChangeTypes: []connections.ChangeType{connections.ChangeUpdated}, NotificationURL: n.NotificationURL,
		TLSVersion: connections.DefaultTLSVersion, ExpiresAt: fakeTime}, f.call("CreateSubscription")
}

func (f *fakeService) GetSubscription(_ context.Context, c connections.Caller, id string) (connections.Subscription, error) {
	return connections.Subscription{ID: id, TenantID: c.TenantID, AppID: c.AppID, ExpiresAt: fakeTime}, f.call("GetSubscription")
}

func (f *fakeService) ListSubscriptions(context.Context, connections.Caller, connections.ListQuery) (connections.Page[connections.Subscription], error) {
	return connections.Page[connections.Subscription]{}, f.call("ListSubscriptions")
}

func (f *fakeService) UpdateSubscription(_ context.Context, c connections.Caller, id string, _ connections.SubscriptionPatch) (connections.Subscription, error) {
	return connections.Subscription{ID: id, TenantID: c.TenantID, AppID: c.AppID, ExpiresAt: fakeTime}, f.call("UpdateSubscription")
}

func (f *fakeService) DeleteSubscription(context.Context, connections.Caller, string) error {
	return f.call("DeleteSubscription")
}

func (f *fakeService) ReauthorizeSubscription(context.Context, connections.Caller, string) error {
	return f.call("ReauthorizeSubscription")
}
