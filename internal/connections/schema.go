package connections

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// PropertyType is a schema property's type, in Graph's lower camel case.
type PropertyType string

// The property types of Graph's externalConnectors.propertyType.
const (
	TypeString             PropertyType = "string"
	TypeInt64              PropertyType = "int64"
	TypeDouble             PropertyType = "double"
	TypeDateTime           PropertyType = "dateTime"
	TypeBoolean            PropertyType = "boolean"
	TypeStringCollection   PropertyType = "stringCollection"
	TypeInt64Collection    PropertyType = "int64Collection"
	TypeDoubleCollection   PropertyType = "doubleCollection"
	TypeDateTimeCollection PropertyType = "dateTimeCollection"
)

var propertyTypes = []PropertyType{TypeString, TypeInt64, TypeDouble, TypeDateTime, TypeBoolean,
	TypeStringCollection, TypeInt64Collection, TypeDoubleCollection, TypeDateTimeCollection}

// ParsePropertyType reads a type name as clients send it, in any case
// ("String", "DateTime", "stringcollection"). ok is false for an unknown name.
func ParsePropertyType(s string) (PropertyType, bool) {
	for _, t := range propertyTypes {
		if strings.EqualFold(s, string(t)) {
			return t, true
		}
	}
	return PropertyType(s), false
}

// IsCollection reports whether values of the type are arrays.
func (t PropertyType) IsCollection() bool { return strings.HasSuffix(string(t), "Collection") }

// Label is a semantic label a schema property may carry.
type Label string

// labelTypes are Graph's labels and the property type each needs ("the
// properties and their assigned labels must have the same datatype").
var labelTypes = map[Label]PropertyType{
	"title": TypeString, "url": TypeString, "createdBy": TypeString, "lastModifiedBy": TypeString,
	"authors": TypeStringCollection, "createdDateTime": TypeDateTime, "lastModifiedDateTime": TypeDateTime,
	"fileName": TypeString, "fileExtension": TypeString, "iconUrl": TypeString,
	"containerName": TypeString, "containerUrl": TypeString,
}

// ParseLabel reads a label in any case; ok is false for an unknown one.
func ParseLabel(s string) (Label, bool) {
	for l := range labelTypes {
		if strings.EqualFold(s, string(l)) {
			return l, true
		}
	}
	return Label(s), false
}

// Property is one property of a connection's schema.
type Property struct {
	Name                 string
	Type                 PropertyType
	IsSearchable         bool
	IsQueryable          bool
	IsRetrievable        bool
	IsRefinable          bool
	IsExactMatchRequired bool
	Labels               []Label
	Aliases              []string
}

// Schema is a connection's item schema.
type Schema struct {
	BaseType   string
	Properties []Property
}

// SchemaVersion is a submitted schema and the operation registering it.
type SchemaVersion struct {
	Schema      Schema
	OperationID string
	// Active is set once its operation completed; until then the schema is
	// pending (a failed one is not returned).
	Active      bool
	SubmittedAt time.Time
}

// Schema limits, as Graph documents them.
const (
	BaseTypeExternalItem = "microsoft.graph.externalItem"
	MaxSchemaProperties  = 128
	MaxPropertyNameLen   = 32
	MaxAliases           = 32
)

var propertyNamePattern = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)

// Validate checks a schema on its own: Graph's rules for names, types,
// flags and labels. Each problem names the property.
func (s Schema) Validate() error {
	if s.BaseType != BaseTypeExternalItem {
		return invalidField("baseType", "must be '%s'", BaseTypeExternalItem)
	}
	if len(s.Properties) == 0 || len(s.Properties) > MaxSchemaProperties {
		return invalidField("properties", "must hold 1 to %d properties, not %d", MaxSchemaProperties, len(s.Properties))
	}
	names := map[string]string{} // lower-cased name or alias -> whose it is
	labelled := map[Label]string{}
	for i, p := range s.Properties {
		path := fmt.Sprintf("properties[%d]", i)
		if err := p.validate(path, names, labelled); err != nil {
			return err
		}
	}
	return nil
}

func (p Property) validate(path string, names map[string]string, labelled map[Label]string) error {
	if !propertyNamePattern.MatchString(p.Name) {
		return invalidField(path+".name", "must be 1 to %d letters or digits", MaxPropertyNameLen)
	}
	named := fmt.Sprintf(" (property '%s')", p.Name)
	if err := claimName(names, p.Name, path+".name", fmt.Sprintf("property '%s'", p.Name)); err != nil {
		return err
	}
	if !slices.Contains(propertyTypes, p.Type) {
		return invalidField(path+".type", "has the unknown type '%s'%s; use string, int64, double, dateTime, boolean or a collection of these",
			truncate(string(p.Type), 32), named)
	}
	searchable := p.Type == TypeString || p.Type == TypeStringCollection
	switch {
	case p.IsSearchable && !searchable:
		return invalidField(path+".isSearchable", "must be false for a property of type %s%s; only string types are searchable", p.Type, named)
	case p.IsRefinable && p.IsSearchable:
		return invalidField(path+".isRefinable", "must be false for a searchable property%s; a property cannot be both", named)
	case p.IsExactMatchRequired && p.IsSearchable:
		return invalidField(path+".isExactMatchRequired", "must be false for a searchable property%s", named)
	}
	if len(p.Aliases) > MaxAliases {
		return invalidField(path+".aliases", "has more than %d entries%s", MaxAliases, named)
	}
	for j, a := range p.Aliases {
		apath := fmt.Sprintf("%s.aliases[%d]", path, j)
		if !propertyNamePattern.MatchString(a) {
			return invalidField(apath, "must be 1 to %d letters or digits%s", MaxPropertyNameLen, named)
		}
		if err := claimName(names, a, apath, fmt.Sprintf("the alias '%s' of property '%s'", a, p.Name)); err != nil {
			return err
		}
	}
	for j, l := range p.Labels {
		lpath := fmt.Sprintf("%s.labels[%d]", path, j)
		want, known := labelTypes[l]
		switch {
		case !known:
			return invalidField(lpath, "has the unknown label '%s'%s", truncate(string(l), 32), named)
		case labelled[l] != "":
			return invalidField(lpath, "repeats the label '%s', already on %s; each label goes on one property", l, labelled[l])
		case want != p.Type:
			return invalidField(lpath, "puts the label '%s' on a property of type %s%s; it needs type %s", l, p.Type, named, want)
		case !p.IsRetrievable:
			return invalidField(path+".isRetrievable", "must be true for a labelled property%s", named)
		}
		labelled[l] = fmt.Sprintf("property '%s'", p.Name)
	}
	return nil
}

// claimName records a name or alias (owner says whose, for messages),
// refusing one already used in any case.
func claimName(names map[string]string, name, path, owner string) error {
	key := strings.ToLower(name)
	if prev, taken := names[key]; taken {
		return invalidField(path, "makes '%s' repeat %s; names and aliases are unique without regard to case", owner, prev)
	}
	names[key] = owner
	return nil
}

// ValidateUpdate checks a schema that replaces the active one: Graph lets a
// schema grow, not shrink. No property may go, change type, lose a search
// attribute or become refinable, since items already ingested were indexed
// without that.
func (s Schema) ValidateUpdate(active Schema) error {
	for _, old := range active.Properties {
		i := slices.IndexFunc(s.Properties, func(p Property) bool { return strings.EqualFold(p.Name, old.Name) })
		if i < 0 {
			return invalidField("properties", "lacks the property '%s' of the active schema; properties cannot be removed", old.Name)
		}
		p, path := s.Properties[i], fmt.Sprintf("properties[%d]", i)
		named := fmt.Sprintf(" (property '%s')", p.Name)
		switch {
		case p.Type != old.Type:
			return invalidField(path+".type", "changes the type from %s to %s%s; a property's type cannot change", old.Type, p.Type, named)
		case old.IsSearchable && !p.IsSearchable:
			return invalidField(path+".isSearchable", "removes a search attribute%s; search attributes cannot be removed", named)
		case old.IsQueryable && !p.IsQueryable:
			return invalidField(path+".isQueryable", "removes a search attribute%s; search attributes cannot be removed", named)
		case old.IsRetrievable && !p.IsRetrievable:
			return invalidField(path+".isRetrievable", "removes a search attribute%s; search attributes cannot be removed", named)
		case old.IsRefinable && !p.IsRefinable:
			return invalidField(path+".isRefinable", "removes a search attribute%s; search attributes cannot be removed", named)
		case !old.IsRefinable && p.IsRefinable:
			return invalidField(path+".isRefinable", "makes an existing property refinable%s; only a new property can be refinable", named)
		}
	}
	return nil
}
