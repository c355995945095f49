package webhooks

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/connops/connops/internal/connections"
)

// The bodies connops POSTs are Graph's changeNotificationCollection.
type notificationCollection struct {
	Value            []any    `json:"value"`
	ValidationTokens []string `json:"validationTokens,omitempty"`
}

type changeNotification struct {
	ID                             string       `json:"id"`
	SubscriptionID                 string       `json:"subscriptionId"`
	SubscriptionExpirationDateTime string       `json:"subscriptionExpirationDateTime"`
	ClientState                    *string      `json:"clientState"`
	ChangeType                     string       `json:"changeType"`
	Resource                       string       `json:"resource"`
	TenantID                       string       `json:"tenantId"`
	ResourceData                   resourceData `json:"resourceData"`
}

// resourceData is Graph's, with the operation's status (or the
// connection's state) beside the id: unencrypted, as Graph's own connector
// notification carries a state.
type resourceData struct {
	Type   string  `json:"@odata.type"`
	ID     string  `json:"@odata.id"`
	ETag   string  `json:"@odata.etag"`
	Key    string  `json:"id"`
	Status *string `json:"status,omitempty"`
	State  *string `json:"state,omitempty"`
}

type lifecycleNotification struct {
	SubscriptionID                 string  `json:"subscriptionId"`
	SubscriptionExpirationDateTime string  `json:"subscriptionExpirationDateTime"`
	TenantID                       string  `json:"tenantId"`
	ClientState                    *string `json:"clientState"`
	LifecycleEvent                 string  `json:"lifecycleEvent"`
}

const (
	typeOperation  = "#microsoft.graph.externalConnectors.connectionOperation"
	typeConnection = "#microsoft.graph.externalConnectors.externalConnection"
)

// graphTime is a DateTimeOffset as Graph writes it: UTC, seven digits.
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// notificationID is stable per subscription and change: a change sent
// twice (a retry after a lost answer, a worker taken over) keeps its id,
// so a receiver can drop the duplicate.
func notificationID(subscriptionID string, changeID int64) string {
	sum := sha256.Sum256([]byte(subscriptionID + "/" + strconv.FormatInt(changeID, 10)))
	id, _ := uuid.FromBytes(sum[:16])
	return id.String()
}

// odataKey quotes a key as OData does: ('it”s').
func odataKey(id string) string { return "('" + strings.ReplaceAll(id, "'", "''") + "')" }

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// notification renders one change for a subscription. resource is the
// changed entity's path relative to the version root.
func notification(sub connections.Subscription, ch connections.Change) changeNotification {
	n := changeNotification{ID: notificationID(sub.ID, ch.ID), SubscriptionID: sub.ID,
		SubscriptionExpirationDateTime: graphTime(sub.ExpiresAt), ClientState: sub.ClientState,
		ChangeType: string(ch.Type), TenantID: sub.TenantID}
	if op := ch.Operation; op != nil {
		status := string(op.Status)
		n.Resource = "external/connections/" + ch.ConnectionID + "/operations/" + op.ID
		n.ResourceData = resourceData{Type: typeOperation, ETag: etag(op.Version), Key: op.ID, Status: &status,
			ID: "external/connections" + odataKey(ch.ConnectionID) + "/operations" + odataKey(op.ID)}
		return n
	}
	c := ch.Connection
	state := string(c.State)
	n.Resource = "external/connections/" + c.ID
	n.ResourceData = resourceData{Type: typeConnection, ETag: etag(c.Version), Key: c.ID, State: &state,
		ID: "external/connections" + odataKey(c.ID)}
	return n
}

// encode writes a collection without HTML escaping (ids may hold &).
func encode(c notificationCollection) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(c) // only strings and slices: cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// changesBody is the POST of a batch of a subscription's changes.
func changesBody(sub connections.Subscription, changes []connections.Change, token string) []byte {
	c := notificationCollection{Value: make([]any, len(changes)), ValidationTokens: []string{token}}
	for i, ch := range changes {
		c.Value[i] = notification(sub, ch)
	}
	return encode(c)
}

// lifecycleBody is the POST of one lifecycle event.
func lifecycleBody(e connections.LifecycleEvent, token string) []byte {
	return encode(notificationCollection{ValidationTokens: []string{token}, Value: []any{lifecycleNotification{
		SubscriptionID: e.SubscriptionID, SubscriptionExpirationDateTime: graphTime(e.ExpiresAt),
		TenantID: e.TenantID, ClientState: e.ClientState, LifecycleEvent: e.Event}}})
}
