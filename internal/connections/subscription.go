package connections

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Subscription is a Graph change-notification subscription: where to send
// which changes of which resource, until when. It belongs to the tenant and
// app that created it and sees what that app could read then (Scope).
type Subscription struct {
	ID        string
	TenantID  string
	AppID     string
	OwnedOnly bool
	// Resource is the path as the creator gave it; ConnectionID and
	// OperationID are what it names: both empty for every connection,
	// OperationID empty for all of one connection's operations.
	Resource     string
	ConnectionID string
	OperationID  string
	ChangeTypes  []ChangeType
	// NotificationURL receives the change notifications,
	// LifecycleNotificationURL (optional) the lifecycle events.
	NotificationURL          string
	LifecycleNotificationURL string
	ClientState              *string
	TLSVersion               string
	ExpiresAt                time.Time
	// ReminderAt is when reauthorizationRequired is due; nil once sent, or
	// without a lifecycle URL.
	ReminderAt *time.Time
	CreatedAt  time.Time
}

// Scope is what the subscription may be sent: what its creator could read.
func (s Subscription) Scope() Scope {
	return Scope{TenantID: s.TenantID, OwnerApp: s.AppID, OwnedOnly: s.OwnedOnly}
}

// ChangeTypeList is changeType as Graph spells it: "created,updated".
func (s Subscription) ChangeTypeList() string {
	parts := make([]string, len(s.ChangeTypes))
	for i, t := range s.ChangeTypes {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}

// Endpoint is the host and port a URL's requests go to, the key of the
// delivery workers' per-endpoint bound.
func Endpoint(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// Subscription limits and defaults.
const (
	// DefaultMaxSubscriptionLifetime is Graph's maximum for Outlook
	// resources (4230 minutes); Graph has none for connectors, which it
	// cannot subscribe to.
	DefaultMaxSubscriptionLifetime = 4230 * time.Minute
	// expirySkew tolerates a client clock a little ahead of ours when it
	// asks for the maximum lifetime exactly.
	expirySkew = time.Minute
	// MaxSubscriptionsPerTenant bounds the deliveries one tenant can cause.
	MaxSubscriptionsPerTenant = 1000
	// MaxClientStateLength is Graph's limit on subscription.clientState.
	MaxClientStateLength = 128
	// maxURLLength bounds a notification URL; browsers and proxies agree
	// on little beyond 2048 characters.
	maxURLLength = 2048
	// DefaultTLSVersion is what Graph stores when latestSupportedTlsVersion
	// is not given.
	DefaultTLSVersion = "v1_2"
	// NotificationContentType is the only content type connops sends.
	NotificationContentType = "application/json"
)

// tlsVersions are the values of latestSupportedTlsVersion.
var tlsVersions = []string{"v1_0", "v1_1", "v1_2", "v1_3"}

// NewSubscription is a create request as the client sent it: values to be
// checked.
type NewSubscription struct {
	ChangeType                string
	NotificationURL           string
	LifecycleNotificationURL  string
	Resource                  string
	ExpirationDateTime        string
	ClientState               *string
	LatestSupportedTLSVersion string
	IncludeResourceData       bool
	NotificationContentType   string
}

// validate checks every value and returns the subscription they describe
// (without id, owner or scope).
func (n NewSubscription) validate(now time.Time, maxLifetime time.Duration) (Subscription, error) {
	var sub Subscription
	var err error
	if sub.ChangeTypes, err = parseChangeTypes(n.ChangeType); err != nil {
		return sub, err
	}
	if err := checkNotificationURL("notificationUrl", n.NotificationURL, true); err != nil {
		return sub, err
	}
	if err := checkNotificationURL("lifecycleNotificationUrl", n.LifecycleNotificationURL, false); err != nil {
		return sub, err
	}
	if sub.ConnectionID, sub.OperationID, err = parseResource(n.Resource); err != nil {
		return sub, err
	}
	if sub.ExpiresAt, err = parseExpiration(n.ExpirationDateTime, now, maxLifetime); err != nil {
		return sub, err
	}
	if err := checkClientState(n.ClientState); err != nil {
		return sub, err
	}
	if sub.TLSVersion, err = parseTLSVersion(n.LatestSupportedTLSVersion); err != nil {
		return sub, err
	}
	if n.IncludeResourceData {
		return sub, invalidField("includeResourceData", "cannot be true: connops does not encrypt resource data; "+
			"its notifications carry the status in resourceData unencrypted, as Graph's connector notification does")
	}
	if n.NotificationContentType != "" && !strings.EqualFold(n.NotificationContentType, NotificationContentType) {
		return sub, invalidField("notificationContentType", "must be %s, the only content type connops sends", NotificationContentType)
	}
	sub.Resource = n.Resource
	sub.NotificationURL = n.NotificationURL
	sub.LifecycleNotificationURL = n.LifecycleNotificationURL
	sub.ClientState = n.ClientState
	return sub, nil
}

// parseChangeTypes reads changeType: created, updated and deleted,
// comma-separated, in any case; repeats count once.
func parseChangeTypes(v string) ([]ChangeType, error) {
	if strings.TrimSpace(v) == "" {
		return nil, invalidField("changeType", "is required: a comma-separated list of created, updated and deleted")
	}
	var out []ChangeType
	for _, part := range strings.Split(v, ",") {
		t := ChangeType(strings.ToLower(strings.TrimSpace(part)))
		switch t {
		case ChangeCreated, ChangeUpdated, ChangeDeleted:
		default:
			return nil, invalidField("changeType", "must be a comma-separated list of created, updated and deleted; '%s' is none of them", truncate(part, 32))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// checkNotificationURL checks a URL's form; which addresses and schemes
// connops delivers to is the webhook client's rule, checked with the
// handshake. Credentials in a URL would end up in logs, so they are refused.
func checkNotificationURL(field, v string, required bool) error {
	if v == "" {
		if required {
			return invalidField(field, "is required: the https URL notifications are sent to")
		}
		return nil
	}
	if err := checkLen(field, v, maxURLLength); err != nil {
		return err
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		return invalidField(field, "must be an absolute https URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return invalidField(field, "must be an https URL, not %s", truncate(u.Scheme, 16))
	case u.User != nil:
		return invalidField(field, "must not carry a user name or password; use clientState or a query parameter to recognise connops")
	case u.Fragment != "" || strings.Contains(v, "#"):
		return invalidField(field, "must not have a fragment (#...)")
	}
	return nil
}

// parseResource reads resource: external/connections, or one connection's
// operations, or one operation, with or without a leading slash, and with
// the beta spelling connections/... as well.
func parseResource(v string) (connectionID, operationID string, err error) {
	bad := invalidField("resource", "must be external/connections, external/connections/{id}/operations or "+
		"external/connections/{id}/operations/{operationId}, not '%s'", truncate(v, 128))
	if strings.TrimSpace(v) == "" {
		return "", "", invalidField("resource", "is required: external/connections, external/connections/{id}/operations "+
			"or external/connections/{id}/operations/{operationId}")
	}
	if err := checkText("resource", v); err != nil {
		return "", "", err
	}
	path := strings.TrimPrefix(v, "/")
	if strings.ContainsAny(path, "?#") {
		return "", "", bad
	}
	segments := strings.Split(path, "/")
	if segments[0] == "external" {
		segments = segments[1:]
	}
	for i, s := range segments {
		if segments[i], err = url.PathUnescape(s); err != nil || segments[i] == "" {
			return "", "", bad
		}
	}
	switch {
	case len(segments) == 1 && segments[0] == "connections":
		return "", "", nil
	case len(segments) == 3 && segments[0] == "connections" && segments[2] == "operations":
		return segments[1], "", nil
	case len(segments) == 4 && segments[0] == "connections" && segments[2] == "operations":
		return segments[1], segments[3], nil
	}
	return "", "", bad
}

// parseExpiration reads expirationDateTime: an RFC 3339 time in the
// future, at most maxLifetime away.
func parseExpiration(v string, now time.Time, maxLifetime time.Duration) (time.Time, error) {
	if v == "" {
		return time.Time{}, invalidField("expirationDateTime", "is required: when the subscription expires, at most %d minutes from now",
			int(maxLifetime.Minutes()))
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalidField("expirationDateTime", "must be a date and time with an offset, such as 2026-03-20T11:00:00.0000000Z")
	}
	return t.UTC(), checkExpiration(t, now, maxLifetime)
}

// checkExpiration is the lifetime rule, for creates and renewals alike.
func checkExpiration(t, now time.Time, maxLifetime time.Duration) error {
	if !t.After(now) {
		return invalidField("expirationDateTime", "must be in the future")
	}
	if t.Sub(now) > maxLifetime+expirySkew {
		return invalidField("expirationDateTime", "must be at most %d minutes from now (the maximum lifetime of a subscription)",
			int(maxLifetime.Minutes()))
	}
	return nil
}

func checkClientState(v *string) error {
	if v == nil {
		return nil
	}
	return checkLen("clientState", *v, MaxClientStateLength)
}

// parseTLSVersion reads latestSupportedTlsVersion. connops always dials
// with TLS 1.2 or later; the value is kept and echoed, as Graph does.
func parseTLSVersion(v string) (string, error) {
	if v == "" {
		return DefaultTLSVersion, nil
	}
	if !slices.Contains(tlsVersions, strings.ToLower(v)) {
		return "", invalidField("latestSupportedTlsVersion", "must be one of %s", strings.Join(tlsVersions, ", "))
	}
	return strings.ToLower(v), nil
}

// reminderLead is how long before expiry reauthorizationRequired goes out:
// 15 minutes, or a tenth of the lifetime when that is longer, so a
// subscription renewed every few days hears of it hours ahead.
func reminderLead(lifetime time.Duration) time.Duration {
	return max(15*time.Minute, lifetime/10)
}

// firstReminder is when reauthorizationRequired is due for a subscription
// given (or renewed to) expiresAt at now; nil without a lifecycle URL.
func firstReminder(s Subscription, now time.Time) *time.Time {
	if s.LifecycleNotificationURL == "" {
		return nil
	}
	at := s.ExpiresAt.Add(-reminderLead(s.ExpiresAt.Sub(now)))
	if at.Before(now) {
		at = now
	}
	return &at
}

// nextReminder is when the reminder comes again after a reauthorize: a
// lead's time from now, if that is before expiry. Re-arming it at once would
// answer a receiver that reauthorizes on every reminder with another
// reminder, in a loop.
func nextReminder(s Subscription, now time.Time) *time.Time {
	if s.LifecycleNotificationURL == "" {
		return nil
	}
	at := now.Add(reminderLead(s.ExpiresAt.Sub(now)))
	if !at.Before(s.ExpiresAt) {
		return nil
	}
	return &at
}
