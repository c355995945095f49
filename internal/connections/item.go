package connections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Item is an externalItem: what a connector ingests.
type Item struct {
	ID string
	// Properties are the values by their schema names, as canonical JSON,
	// with the @odata.type annotation Graph puts beside each collection
	// ("tags@odata.type": "Collection(String)").
	Properties map[string]json.RawMessage
	ACL        []ACLEntry
	Content    *ItemContent
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ACLEntry is one entry of an item's acl.
type ACLEntry struct {
	Type           string
	Value          string
	AccessType     string
	IdentitySource string
}

// ItemContent is an item's content.
type ItemContent struct {
	Type  string
	Value string
}

// PropertyValue is one property of an item as a client sent it: the JSON
// value and its @odata.type annotation, if any.
type PropertyValue struct {
	Raw       json.RawMessage
	ODataType string
}

// ItemInput is an item as a PUT sends it.
type ItemInput struct {
	// ID is the id in the body; when given it must be the one in the path.
	ID         string
	Properties map[string]PropertyValue
	ACL        []ACLEntry
	Content    *ItemContent
	// Activities are sent inline by some connectors; they are recorded as
	// addActivities records them.
	Activities []Activity
}

// ItemPatch is a PATCH of an item: properties merge key by key; acl and
// content, when given, replace.
type ItemPatch struct {
	Properties map[string]PropertyValue
	ACL        []ACLEntry
	SetACL     bool
	Content    *ItemContent
	SetContent bool
}

// Item limits.
const (
	MaxItemIDLen     = 128
	MaxACLEntries    = 512
	MaxACLValueLen   = 256
	MaxItemBodyBytes = 4 << 20 // Graph's item size limit
)

var itemIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ValidateItemID checks an item id as real connectors send them: letters,
// digits, '-', '_' and '.', at most 128. (Graph documents alphanumeric ids;
// the samples use slugs with hyphens.)
func ValidateItemID(id string) error {
	if !itemIDPattern.MatchString(id) {
		return invalidField("id", "must be 1 to %d characters: letters, digits, '.', '_' or '-'", MaxItemIDLen)
	}
	return nil
}

var (
	aclTypes        = []string{"user", "group", "everyone", "everyoneExceptGuests", "externalGroup"}
	aclAccessTypes  = []string{"grant", "deny"}
	identitySources = []string{"azureActiveDirectory", "external"}
	contentTypes    = []string{"text", "html"}
)

// oneOf returns the member of set equal to v without regard to case.
func oneOf(set []string, v string) (string, bool) {
	for _, m := range set {
		if strings.EqualFold(m, v) {
			return m, true
		}
	}
	return v, false
}

// validateACL checks and normalises an acl, which Graph requires.
func validateACL(acl []ACLEntry) ([]ACLEntry, error) {
	if len(acl) == 0 {
		return nil, invalidField("acl", "is required and must hold at least one entry")
	}
	if len(acl) > MaxACLEntries {
		return nil, invalidField("acl", "has more than %d entries", MaxACLEntries)
	}
	out := make([]ACLEntry, len(acl))
	for i, e := range acl {
		path := fmt.Sprintf("acl[%d]", i)
		var ok bool
		if e.Type, ok = oneOf(aclTypes, e.Type); !ok {
			return nil, invalidField(path+".type", "must be user, group, everyone, everyoneExceptGuests or externalGroup")
		}
		if e.AccessType, ok = oneOf(aclAccessTypes, e.AccessType); !ok {
			return nil, invalidField(path+".accessType", "must be grant or deny")
		}
		if e.IdentitySource != "" {
			if e.IdentitySource, ok = oneOf(identitySources, e.IdentitySource); !ok {
				return nil, invalidField(path+".identitySource", "must be azureActiveDirectory or external")
			}
		}
		if err := checkLen(path+".value", e.Value, MaxACLValueLen); err != nil {
			return nil, err
		}
		if e.Value == "" {
			return nil, invalidField(path+".value", "is required: a user, group or tenant id, or an external group id")
		}
		out[i] = e
	}
	return out, nil
}

func validateContent(c *ItemContent) (*ItemContent, error) {
	if c == nil {
		return nil, nil
	}
	t, ok := oneOf(contentTypes, c.Type)
	if !ok {
		return nil, invalidField("content.type", "must be text or html")
	}
	if err := checkText("content.value", c.Value); err != nil {
		return nil, err
	}
	return &ItemContent{Type: t, Value: c.Value}, nil
}

// collectionAnnotations are the @odata.type a collection property must
// carry, as Graph requires; dateTime collections use DateTimeOffset.
var collectionAnnotations = map[PropertyType]string{
	TypeStringCollection:   "Collection(String)",
	TypeInt64Collection:    "Collection(Int64)",
	TypeDoubleCollection:   "Collection(Double)",
	TypeDateTimeCollection: "Collection(DateTimeOffset)",
}

// Annotation is the @odata.type an item property of this type carries on
// the wire: required for collections, none otherwise.
func (t PropertyType) Annotation() string { return collectionAnnotations[t] }

// CheckProperties validates item properties against the schema and returns
// them by the schema's names, as canonical JSON.
func (s Schema) CheckProperties(props map[string]PropertyValue, atLeastOne bool) (map[string]json.RawMessage, error) {
	if atLeastOne && len(props) == 0 {
		return nil, invalidField("properties", "must hold at least one property")
	}
	out := make(map[string]json.RawMessage, len(props))
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	slices.Sort(names) // the first problem found is the same on every try
	for _, name := range names {
		v := props[name]
		path := "properties." + name
		i := slices.IndexFunc(s.Properties, func(p Property) bool { return strings.EqualFold(p.Name, name) })
		if i < 0 {
			return nil, invalidField(path, "is not a property of the connection's schema")
		}
		p := s.Properties[i]
		if _, twice := out[p.Name]; twice {
			// Names match the schema without regard to case, so "title"
			// and "Title" are one property: keeping either would drop the
			// other's value unseen.
			return nil, invalidField(path, "is the schema property '%s', which another property of the item names too", p.Name)
		}
		if err := checkAnnotation(path, p.Type, v.ODataType); err != nil {
			return nil, err
		}
		canonical, err := checkValue(path, p.Type, v.Raw)
		if err != nil {
			return nil, err
		}
		out[p.Name] = canonical
		// Stored beside the value, so a read renders it as Graph does.
		if a := p.Type.Annotation(); a != "" {
			out[p.Name+"@odata.type"] = json.RawMessage(`"` + a + `"`)
		}
	}
	return out, nil
}

func checkAnnotation(path string, t PropertyType, annotation string) error {
	want := t.Annotation()
	switch {
	case want != "" && annotation == "":
		return invalidField(path, "is a %s and needs '%s@odata.type': '%s'", t, path[len("properties."):], want)
	case want != "" && !strings.EqualFold(strings.TrimPrefix(annotation, "#"), want):
		return invalidField(path+"@odata.type", "must be '%s' for a %s property", want, t)
	case want == "" && annotation != "" && !strings.EqualFold(strings.TrimPrefix(annotation, "#"), odataScalar(t)):
		return invalidField(path+"@odata.type", "must be '%s' for a %s property, or left out", odataScalar(t), t)
	}
	return nil
}

func odataScalar(t PropertyType) string {
	switch t {
	case TypeInt64:
		return "Int64"
	case TypeDouble:
		return "Double"
	case TypeDateTime:
		return "DateTimeOffset"
	case TypeBoolean:
		return "Boolean"
	}
	return "String"
}

// checkValue checks one JSON value against its type and returns it
// compacted. null is refused: a property is left out to have no value.
func checkValue(path string, t PropertyType, raw json.RawMessage) (json.RawMessage, error) {
	if t.IsCollection() {
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil || elems == nil {
			return nil, invalidField(path, "must be an array of %s values", strings.TrimSuffix(string(t), "Collection"))
		}
		elem := PropertyType(strings.TrimSuffix(string(t), "Collection"))
		for j, e := range elems {
			if _, err := checkValue(fmt.Sprintf("%s[%d]", path, j), elem, e); err != nil {
				return nil, err
			}
		}
	} else if err := checkScalar(path, t, raw); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, invalidField(path, "is not valid JSON")
	}
	return buf.Bytes(), nil
}

func checkScalar(path string, t PropertyType, raw json.RawMessage) error {
	switch t {
	case TypeString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return invalidField(path, "must be a string")
		}
		return checkText(path, s)
	case TypeInt64:
		var n int64
		if json.Unmarshal(raw, &n) != nil || bytes.ContainsAny(raw, ".eE") {
			return invalidField(path, "must be a 64-bit integer")
		}
	case TypeDouble:
		var f float64
		if json.Unmarshal(raw, &f) != nil {
			return invalidField(path, "must be a number")
		}
	case TypeBoolean:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return invalidField(path, "must be true or false")
		}
	case TypeDateTime:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return invalidField(path, "must be an ISO 8601 date and time string")
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return invalidField(path, "must be an ISO 8601 date and time with a time zone, such as 2026-12-01T09:30:00Z")
		}
	}
	return nil
}
