package connections

// Work is one item of the engine's queue: a service-started operation to
// finish once it is due.
type Work struct {
	TenantID, ConnectionID, OperationID string
	// Attempts counts the claims of the item, this one included: above one,
	// an earlier worker lost its claim.
	Attempts int
}
