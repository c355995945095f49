package httpapi

import (
	"encoding/json"
	"strings"

	"github.com/connops/connops/internal/connections"
)

const (
	typeExternalItem   = "microsoft.graph.externalConnectors.externalItem"
	typeProperties     = "microsoft.graph.externalConnectors.properties"
	typeACL            = "microsoft.graph.externalConnectors.acl"
	typeContent        = "microsoft.graph.externalConnectors.externalItemContent"
	typeActivity       = "microsoft.graph.externalConnectors.externalActivity"
	typeActivityResult = "microsoft.graph.externalConnectors.externalActivityResult"
	typeIdentity       = "microsoft.graph.externalConnectors.identity"
	typeExternalGroup  = "microsoft.graph.externalConnectors.externalGroup"
)

// itemFields decodes an item body into in; the same fields serve PUT and
// PATCH (a PATCH records which of acl and content were given).
func itemFields(in *connections.ItemInput, aclGiven, contentGiven *bool) fields {
	var contentPresent bool
	content := &connections.ItemContent{}
	return fields{
		"@odata.type": odataTypeField(typeExternalItem),
		"id":          stringField(&in.ID),
		"properties":  propertiesField(&in.Properties),
		"acl": func(path string, raw json.RawMessage) error {
			*aclGiven = true
			return arrayField(func(i int) fields {
				in.ACL = append(in.ACL, connections.ACLEntry{})
				e := &in.ACL[i]
				return fields{
					"@odata.type":    odataTypeField(typeACL),
					"type":           stringField(&e.Type),
					"value":          stringField(&e.Value),
					"accessType":     stringField(&e.AccessType),
					"identitySource": stringField(&e.IdentitySource),
				}
			})(path, raw)
		},
		"content": func(path string, raw json.RawMessage) error {
			*contentGiven = true
			if err := objectField(&contentPresent, fields{
				"@odata.type": odataTypeField(typeContent),
				"type":        stringField(&content.Type),
				"value":       stringField(&content.Value),
			})(path, raw); err != nil {
				return err
			}
			if contentPresent {
				in.Content = content
			}
			return nil
		},
		"activities": arrayField(func(i int) fields {
			in.Activities = append(in.Activities, connections.Activity{})
			return activityFields(&in.Activities[i])
		}),
	}
}

func activityFields(a *connections.Activity) fields {
	var present bool
	return fields{
		"@odata.type":   stringField(&a.ODataType),
		"type":          stringField(&a.Type),
		"startDateTime": stringField(&a.StartDateTime),
		"performedBy": objectField(&present, fields{
			"@odata.type":    odataTypeField(typeIdentity),
			"id":             stringField(&a.PerformedBy.ID),
			"type":           stringField(&a.PerformedBy.Type),
			"identitySource": stringField(&a.PerformedBy.IdentitySource),
		}),
	}
}

func decodeItem(body []byte) (connections.ItemInput, error) {
	var in connections.ItemInput
	var aclGiven, contentGiven bool
	err := decodeObject("", body, itemFields(&in, &aclGiven, &contentGiven))
	return in, err
}

func decodeItemPatch(body []byte) (connections.ItemPatch, error) {
	var in connections.ItemInput
	var p connections.ItemPatch
	fs := itemFields(&in, &p.SetACL, &p.SetContent)
	fs["id"] = readOnlyField
	delete(fs, "activities")
	err := decodeObject("", body, fs)
	p.Properties, p.ACL, p.Content = in.Properties, in.ACL, in.Content
	return p, err
}

// propertiesField reads an item's open properties object: each value with
// its "<name>@odata.type" annotation, if one was sent. Names are the
// client's; the domain matches them to the schema.
func propertiesField(dst *map[string]connections.PropertyValue) field {
	return func(path string, raw json.RawMessage) error {
		if isNull(raw) {
			return nil
		}
		props := map[string]connections.PropertyValue{}
		annotations := map[string]string{}
		seen := map[string]bool{}
		isObject, err := walkObject(raw, func(key string, value json.RawMessage) error {
			name := path + "." + key
			if seen[key] {
				return badRequest(name, "Property '%s' appears more than once.", truncate(name, 96))
			}
			seen[key] = true
			switch prop, annotation, isAnnotation := strings.Cut(key, "@"); {
			case key == "@odata.type":
				return odataTypeField(typeProperties)(name, value)
			case isAnnotation && annotation == "odata.type":
				var t string
				if err := stringField(&t)(name, value); err != nil {
					return err
				}
				annotations[prop] = t
			case isAnnotation:
				return badRequest(name, "Property '%s' is an annotation connops does not know.", truncate(name, 96))
			default:
				if isNull(value) {
					return badRequest(name, "Property '%s' is null; leave a property out to give it no value.", truncate(name, 96))
				}
				props[key] = connections.PropertyValue{Raw: value}
			}
			return nil
		})
		if !isObject {
			return badRequest(path, "Property '%s' must be a JSON object.", path)
		}
		if err != nil {
			return err
		}
		for prop, t := range annotations {
			v, ok := props[prop]
			if !ok {
				return badRequest(path+"."+prop+"@odata.type", "Property '%s' annotates a property that is not sent.", truncate(path+"."+prop+"@odata.type", 96))
			}
			v.ODataType = t
			props[prop] = v
		}
		*dst = props
		return nil
	}
}

type aclBody struct {
	Type           string `json:"type"`
	Value          string `json:"value"`
	AccessType     string `json:"accessType"`
	IdentitySource string `json:"identitySource,omitempty"`
}

type contentBody struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// renderItem builds an item's body with the selected properties.
func renderItem(context string, it connections.Item, selects []string) object {
	body := make(object, 0, 6)
	if context != "" {
		body = body.add("@odata.context", context)
	}
	body = body.add("id", it.ID)
	if selected(selects, "properties") {
		props := it.Properties
		if props == nil {
			props = map[string]json.RawMessage{}
		}
		body = body.add("properties", props)
	}
	if selected(selects, "acl") {
		acl := make([]aclBody, len(it.ACL))
		for i, e := range it.ACL {
			acl[i] = aclBody(e)
		}
		body = body.add("acl", acl)
	}
	if selected(selects, "content") {
		var content *contentBody
		if it.Content != nil {
			content = &contentBody{Type: it.Content.Type, Value: it.Content.Value}
		}
		body = body.add("content", content)
	}
	return body
}

type identityBody struct {
	Type           string `json:"@odata.type"`
	ID             string `json:"id"`
	IdentityType   string `json:"type"`
	IdentitySource string `json:"identitySource,omitempty"`
}

type activityResultBody struct {
	Type          string                   `json:"@odata.type"`
	ActivityType  string                   `json:"type"`
	StartDateTime string                   `json:"startDateTime"`
	PerformedBy   identityBody             `json:"performedBy"`
	Error         *connections.PublicError `json:"error"`
}

func renderActivityResult(r connections.ActivityResult) activityResultBody {
	a := r.Activity
	return activityResultBody{Type: "#" + typeActivityResult, ActivityType: a.Type, StartDateTime: a.StartDateTime,
		PerformedBy: identityBody{Type: "#" + typeIdentity, ID: a.PerformedBy.ID, IdentityType: a.PerformedBy.Type,
			IdentitySource: a.PerformedBy.IdentitySource},
		Error: r.Error}
}
