package connections

import (
	"slices"
	"time"
)

// Permission names as Microsoft Graph defines them, valid both as application
// roles and as delegated scopes.
const (
	PermReadAll          = "ExternalConnection.Read.All"
	PermReadWriteAll     = "ExternalConnection.ReadWrite.All"
	PermReadWriteOwnedBy = "ExternalConnection.ReadWrite.OwnedBy"
	// PermOperationsControl is connops's own application role: it lets a
	// test harness finish or fail the operations connops starts, with no
	// change to the client under test.
	PermOperationsControl = "Connops.Operations.Control"

	// Items and external groups have permissions of their own in Graph.
	PermItemReadAll          = "ExternalItem.Read.All"
	PermItemReadWriteAll     = "ExternalItem.ReadWrite.All"
	PermItemReadWriteOwnedBy = "ExternalItem.ReadWrite.OwnedBy"
)

// Caller is the authenticated identity behind a request.
type Caller struct {
	TenantID    string
	AppID       string
	Permissions []string
	// ExpiresAt is when the caller's token expires (zero: never). A
	// long-lived answer, an event stream, ends there.
	ExpiresAt time.Time
}

// Scope is what a store query may see: one tenant, and within it either every
// connection or only those an app owns (created it, or is listed in the
// connection's authorizedAppIds).
type Scope struct {
	TenantID string
	// OwnerApp, when non-empty, restricts the scope to that app's connections.
	OwnerApp string
	// OwnedOnly is set when the caller holds only the OwnedBy permission; with an
	// empty OwnerApp it then sees nothing, which is the safe answer.
	OwnedOnly bool
}

func (c Caller) has(p string) bool { return slices.Contains(c.Permissions, p) }

func (c Caller) ownedScope() Scope {
	return Scope{TenantID: c.TenantID, OwnerApp: c.AppID, OwnedOnly: true}
}

func (c Caller) readScope() (Scope, error) {
	switch {
	case c.has(PermReadAll) || c.has(PermReadWriteAll):
		return Scope{TenantID: c.TenantID}, nil
	case c.has(PermReadWriteOwnedBy):
		return c.ownedScope(), nil
	}
	return Scope{}, &Error{Kind: ErrForbidden, Message: "Reading connections requires " +
		PermReadAll + ", " + PermReadWriteAll + " or " + PermReadWriteOwnedBy + "."}
}

func (c Caller) writeScope() (Scope, error) {
	switch {
	case c.has(PermReadWriteAll):
		return Scope{TenantID: c.TenantID}, nil
	case c.has(PermReadWriteOwnedBy):
		return c.ownedScope(), nil
	}
	return Scope{}, &Error{Kind: ErrForbidden, Message: "Changing connections requires " +
		PermReadWriteAll + " or " + PermReadWriteOwnedBy + "."}
}

// itemReadScope is the scope for reading items and external groups.
func (c Caller) itemReadScope() (Scope, error) {
	switch {
	case c.has(PermItemReadAll) || c.has(PermItemReadWriteAll):
		return Scope{TenantID: c.TenantID}, nil
	case c.has(PermItemReadWriteOwnedBy):
		return c.ownedScope(), nil
	}
	return Scope{}, &Error{Kind: ErrForbidden, Message: "Reading items and external groups requires " +
		PermItemReadAll + ", " + PermItemReadWriteAll + " or " + PermItemReadWriteOwnedBy + "."}
}

// itemWriteScope is the scope for writing items and external groups.
func (c Caller) itemWriteScope() (Scope, error) {
	switch {
	case c.has(PermItemReadWriteAll):
		return Scope{TenantID: c.TenantID}, nil
	case c.has(PermItemReadWriteOwnedBy):
		return c.ownedScope(), nil
	}
	return Scope{}, &Error{Kind: ErrForbidden, Message: "Writing items and external groups requires " +
		PermItemReadWriteAll + " or " + PermItemReadWriteOwnedBy + "."}
}
