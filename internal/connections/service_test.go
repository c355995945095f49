package connections_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/connops/connops/internal/connections"
)

// fakeStore keeps one operation in memory: enough to exercise the rules the
// service applies before and around the store. The real store is tested on
// PostgreSQL in internal/postgres and internal/httpapi.
type fakeStore struct {
	connections.Store
	op     connections.Operation
	scopes []connections.Scope
}

func (f *fakeStore) UpdateOperation(_ context.Context, scope connections.Scope, _, _ string, change func(*connections.Operation) error) (connections.Operation, error) {
	f.scopes = append(f.scopes, scope)
	op := f.op
	if err := change(&op); err != nil {
		return connections.Operation{}, err
	}
	op.Version++
	f.op = op
	return op, nil
}

func (f *fakeStore) GetOperation(_ context.Context, scope connections.Scope, _, _ string) (connections.Operation, error) {
	f.scopes = append(f.scopes, scope)
	return f.op, nil
}

func (f *fakeStore) CreateOperation(_ context.Context, scope connections.Scope, op connections.Operation, _ int64, _ *connections.Idempotency) (connections.Operation, bool, error) {
	f.scopes = append(f.scopes, scope)
	return op, false, nil
}

func newService(f *fakeStore) *connections.Service {
	return connections.NewService(f, slog.New(slog.NewTextHandler(io.Discard, nil)), connections.Options{})
}

var writer = connections.Caller{TenantID: "t1", AppID: "app", Permissions: []string{connections.PermReadWriteAll}}

func TestStatusStateMachine(t *testing.T) {
	tests := []struct {
		from, to connections.Status
		wantErr  error
	}{
		{connections.StatusUnspecified, connections.StatusInProgress, nil},
		{connections.StatusInProgress, connections.StatusUnspecified, nil},
		{connections.StatusInProgress, connections.StatusCompleted, nil},
		{connections.StatusInProgress, connections.StatusFailed, nil},
		{connections.StatusCompleted, connections.StatusCompleted, nil},
		{connections.StatusFailed, connections.StatusFailed, nil},
		{connections.StatusCompleted, connections.StatusInProgress, connections.ErrConflict},
		{connections.StatusCompleted, connections.StatusFailed, connections.ErrConflict},
		{connections.StatusFailed, connections.StatusUnspecified, connections.ErrConflict},
		{connections.StatusFailed, "String", connections.ErrInvalid},
		// The evolvable-enum sentinel never reaches the domain as a status to
		// store: the decoder turns it into "no change" (see httpapi).
		{connections.StatusCompleted, connections.StatusUnknownFutureValue, connections.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			f := &fakeStore{op: connections.Operation{ID: "op", Status: tt.from, Version: 1}}
			got, err := newService(f).UpdateOperation(context.Background(), writer, "c", "op", connections.OperationPatch{Status: tt.to}, nil)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && got.Status != tt.to {
				t.Errorf("status = %s, want %s", got.Status, tt.to)
			}
		})
	}
}

func TestPreconditions(t *testing.T) {
	f := &fakeStore{op: connections.Operation{ID: "op", Status: connections.StatusInProgress, Version: 7}}
	svc := newService(f)
	patch := connections.OperationPatch{Status: connections.StatusCompleted}
	for _, pre := range []*connections.Precondition{{Versions: []int64{6}}, {Versions: []int64{}}} {
		if _, err := svc.UpdateOperation(context.Background(), writer, "c", "op", patch, pre); !errors.Is(err, connections.ErrPreconditionFailed) {
			t.Errorf("precondition %+v: err = %v, want ErrPreconditionFailed", pre, err)
		}
	}
	if _, err := svc.UpdateOperation(context.Background(), writer, "c", "op", patch, &connections.Precondition{Versions: []int64{3, 7}}); err != nil {
		t.Errorf("matching version: %v", err)
	}
	if _, err := svc.UpdateOperation(context.Background(), writer, "c", "op", patch, &connections.Precondition{Any: true}); err != nil {
		t.Errorf("If-Match *: %v", err)
	}
}

func TestScopesFollowPermissions(t *testing.T) {
	tests := []struct {
		name      string
		perms     []string
		wantScope connections.Scope
		wantErr   error
	}{
		{"read-write all", []string{connections.PermReadWriteAll}, connections.Scope{TenantID: "t1"}, nil},
		{"owned by", []string{connections.PermReadWriteOwnedBy}, connections.Scope{TenantID: "t1", OwnerApp: "app", OwnedOnly: true}, nil},
		{"read only", []string{connections.PermReadAll}, connections.Scope{}, connections.ErrForbidden},
		{"nothing", []string{"User.Read"}, connections.Scope{}, connections.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeStore{}
			caller := connections.Caller{TenantID: "t1", AppID: "app", Permissions: tt.perms}
			_, _, err := newService(f).CreateOperation(context.Background(), caller, "c", connections.NewOperation{}, nil)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (len(f.scopes) != 1 || f.scopes[0] != tt.wantScope) {
				t.Errorf("scopes = %+v, want %+v", f.scopes, tt.wantScope)
			}
			if err != nil && len(f.scopes) != 0 {
				t.Errorf("a refused create reached the store")
			}
		})
	}
}

func TestConnectionIDRules(t *testing.T) {
	for id, ok := range map[string]bool{
		"contosohr": true, "abc": true, "A1b2C3": true,
		"ab": false, "contoso-hr": false, "MicrosoftThing": false, "microsoftthing": false,
		"SharePoint": false, "teams": false, "MSFTAllConnectors": true,
		"abcdefghijabcdefghijabcdefghij12": true, "abcdefghijabcdefghijabcdefghij123": false,
	} {
		if err := connections.ValidateConnectionID(id); (err == nil) != ok {
			t.Errorf("%q: err = %v, want ok=%v", id, err, ok)
		}
	}
}
