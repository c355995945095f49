package httpapi

import (
	"encoding/json"
	"time"

	"github.com/connops/connops/internal/connections"
)

const typeSubscription = "microsoft.graph.subscription"

// decodeNewSubscription reads a create body in Graph's shape. The values
// are the domain's to judge; properties connops does not support (rich
// notifications, query options) are refused here, where the shape is.
func decodeNewSubscription(body []byte) (connections.NewSubscription, error) {
	var n connections.NewSubscription
	var clientState *string
	err := decodeObject("", body, fields{
		"@odata.type":               odataTypeField(typeSubscription),
		"changeType":                stringField(&n.ChangeType),
		"notificationUrl":           stringField(&n.NotificationURL),
		"lifecycleNotificationUrl":  stringField(&n.LifecycleNotificationURL),
		"resource":                  stringField(&n.Resource),
		"expirationDateTime":        stringField(&n.ExpirationDateTime),
		"clientState":               optionalStringField(&clientState),
		"latestSupportedTlsVersion": stringField(&n.LatestSupportedTLSVersion),
		"includeResourceData":       boolField(&n.IncludeResourceData),
		"notificationContentType":   stringField(&n.NotificationContentType),
		"encryptionCertificate":     unsupportedField("connops does not encrypt notifications"),
		"encryptionCertificateId":   unsupportedField("connops does not encrypt notifications"),
		"notificationQueryOptions":  unsupportedField("connops sends every change of the resource"),
		"notificationUrlAppId":      unsupportedField("connops signs its notifications itself (validationTokens)"),
		"id":                        readOnlyField,
		"applicationId":             readOnlyField,
		"creatorId":                 readOnlyField,
	})
	n.ClientState = clientState
	return n, err
}

// decodeSubscriptionPatch reads a renewal: Graph lets a PATCH change the
// expiry and the notification URL, nothing else.
func decodeSubscriptionPatch(body []byte) (connections.SubscriptionPatch, error) {
	var p connections.SubscriptionPatch
	fixed := fixedField("is set when the subscription is created and cannot be changed; create a new subscription")
	err := decodeObject("", body, fields{
		"@odata.type":               odataTypeField(typeSubscription),
		"expirationDateTime":        optionalStringField(&p.ExpirationDateTime),
		"notificationUrl":           optionalStringField(&p.NotificationURL),
		"lifecycleNotificationUrl":  fixedField("can only be set when the subscription is created"),
		"changeType":                fixed,
		"resource":                  fixed,
		"clientState":               fixed,
		"latestSupportedTlsVersion": fixed,
		"includeResourceData":       fixed,
		"notificationContentType":   fixed,
		"encryptionCertificate":     fixed,
		"encryptionCertificateId":   fixed,
		"notificationQueryOptions":  fixed,
		"notificationUrlAppId":      fixed,
		"id":                        readOnlyField,
		"applicationId":             readOnlyField,
		"creatorId":                 readOnlyField,
	})
	return p, err
}

// optionalStringField stores a JSON string as a pointer (nil for null or
// absent), so an empty string stays distinguishable from none.
func optionalStringField(dst **string) field {
	return func(path string, raw json.RawMessage) error {
		var v string
		if isNull(raw) {
			return nil
		}
		if err := stringField(&v)(path, raw); err != nil {
			return err
		}
		*dst = &v
		return nil
	}
}

// unsupportedField refuses a Graph property connops does not implement,
// unless it is null.
func unsupportedField(why string) field {
	return func(path string, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		return badRequest(path, "Property '%s' is not supported: %s.", path, why)
	}
}

// fixedField refuses a property a PATCH may not send.
func fixedField(reason string) field {
	return func(path string, _ json.RawMessage) error {
		return badRequest(path, "Property '%s' %s.", path, reason)
	}
}

// graphTime writes a DateTimeOffset as Graph does: UTC, seven digits.
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// renderSubscription is a subscription's body, with Graph's properties.
// creatorId is the creating app: connops's callers are apps.
func renderSubscription(context string, sub connections.Subscription) object {
	body := make(object, 0, 16)
	if context != "" {
		body = body.add("@odata.context", context)
	}
	var lifecycle *string
	if sub.LifecycleNotificationURL != "" {
		lifecycle = &sub.LifecycleNotificationURL
	}
	return body.add("@odata.type", "#"+typeSubscription).
		add("id", sub.ID).
		add("resource", sub.Resource).
		add("applicationId", sub.AppID).
		add("changeType", sub.ChangeTypeList()).
		add("clientState", sub.ClientState).
		add("notificationUrl", sub.NotificationURL).
		add("lifecycleNotificationUrl", lifecycle).
		add("expirationDateTime", graphTime(sub.ExpiresAt)).
		add("creatorId", sub.AppID).
		add("includeResourceData", false).
		add("latestSupportedTlsVersion", sub.TLSVersion).
		add("encryptionCertificate", nil).
		add("encryptionCertificateId", nil).
		add("notificationQueryOptions", nil).
		add("notificationUrlAppId", nil).
		add("notificationContentType", connections.NotificationContentType)
}
