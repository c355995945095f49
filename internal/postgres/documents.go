package postgres

import (
	"encoding/json"
	"fmt"

	"github.com/connops/connops/internal/connections"
)

// The JSONB documents the store keeps: a connection's settings and a
// schema. Their JSON names are a storage format, kept stable across
// releases; the domain types carry no tags of their own.

type activitySettingsDoc struct {
	Resolvers []resolverDoc `json:"urlToItemResolvers"`
}

type resolverDoc struct {
	BaseURLs   []string `json:"baseUrls"`
	URLPattern string   `json:"urlPattern"`
	ItemID     string   `json:"itemId"`
	Priority   int64    `json:"priority"`
}

type searchSettingsDoc struct {
	Templates []templateDoc `json:"searchResultTemplates"`
}

type templateDoc struct {
	ID       string          `json:"id"`
	Priority int64           `json:"priority"`
	Layout   json.RawMessage `json:"layout"`
	Rules    []ruleDoc       `json:"rules,omitempty"`
}

type ruleDoc struct {
	Property       string   `json:"property"`
	Operation      string   `json:"operation"`
	ValuesJoinedBy string   `json:"valuesJoinedBy,omitempty"`
	Values         []string `json:"values,omitempty"`
}

type schemaDoc struct {
	BaseType   string        `json:"baseType"`
	Properties []propertyDoc `json:"properties"`
}

type propertyDoc struct {
	Name                 string   `json:"name"`
	Type                 string   `json:"type"`
	IsSearchable         bool     `json:"isSearchable,omitempty"`
	IsQueryable          bool     `json:"isQueryable,omitempty"`
	IsRetrievable        bool     `json:"isRetrievable,omitempty"`
	IsRefinable          bool     `json:"isRefinable,omitempty"`
	IsExactMatchRequired bool     `json:"isExactMatchRequired,omitempty"`
	Labels               []string `json:"labels,omitempty"`
	Aliases              []string `json:"aliases,omitempty"`
}

// jsonText renders v as JSON text for a jsonb parameter (see encodeError
// for why text), nil when isNil.
func jsonText(v any, isNil bool) (*string, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	s := string(b)
	return &s, nil
}

func encodeActivitySettings(a *connections.ActivitySettings) (*string, error) {
	if a == nil {
		return nil, nil
	}
	doc := activitySettingsDoc{Resolvers: []resolverDoc{}}
	for _, r := range a.URLToItemResolvers {
		doc.Resolvers = append(doc.Resolvers, resolverDoc(r))
	}
	return jsonText(doc, false)
}

func decodeActivitySettings(b []byte) (*connections.ActivitySettings, error) {
	if b == nil {
		return nil, nil
	}
	var doc activitySettingsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode activity settings: %w", err)
	}
	a := &connections.ActivitySettings{}
	for _, r := range doc.Resolvers {
		a.URLToItemResolvers = append(a.URLToItemResolvers, connections.ItemIDResolver(r))
	}
	return a, nil
}

func encodeSearchSettings(s *connections.SearchSettings) (*string, error) {
	if s == nil {
		return nil, nil
	}
	doc := searchSettingsDoc{Templates: []templateDoc{}}
	for _, t := range s.SearchResultTemplates {
		td := templateDoc{ID: t.ID, Priority: t.Priority, Layout: t.Layout}
		for _, r := range t.Rules {
			td.Rules = append(td.Rules, ruleDoc(r))
		}
		doc.Templates = append(doc.Templates, td)
	}
	return jsonText(doc, false)
}

func decodeSearchSettings(b []byte) (*connections.SearchSettings, error) {
	if b == nil {
		return nil, nil
	}
	var doc searchSettingsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode search settings: %w", err)
	}
	s := &connections.SearchSettings{}
	for _, t := range doc.Templates {
		dt := connections.DisplayTemplate{ID: t.ID, Priority: t.Priority, Layout: t.Layout}
		for _, r := range t.Rules {
			dt.Rules = append(dt.Rules, connections.PropertyRule(r))
		}
		s.SearchResultTemplates = append(s.SearchResultTemplates, dt)
	}
	return s, nil
}

func encodeSchema(s connections.Schema) (string, error) {
	doc := schemaDoc{BaseType: s.BaseType, Properties: []propertyDoc{}}
	for _, p := range s.Properties {
		pd := propertyDoc{Name: p.Name, Type: string(p.Type), IsSearchable: p.IsSearchable, IsQueryable: p.IsQueryable,
			IsRetrievable: p.IsRetrievable, IsRefinable: p.IsRefinable, IsExactMatchRequired: p.IsExactMatchRequired, Aliases: p.Aliases}
		for _, l := range p.Labels {
			pd.Labels = append(pd.Labels, string(l))
		}
		doc.Properties = append(doc.Properties, pd)
	}
	text, err := jsonText(doc, false)
	if err != nil {
		return "", err
	}
	return *text, nil
}

func decodeSchema(b []byte) (connections.Schema, error) {
	var doc schemaDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return connections.Schema{}, fmt.Errorf("decode schema: %w", err)
	}
	s := connections.Schema{BaseType: doc.BaseType}
	for _, pd := range doc.Properties {
		p := connections.Property{Name: pd.Name, Type: connections.PropertyType(pd.Type), IsSearchable: pd.IsSearchable,
			IsQueryable: pd.IsQueryable, IsRetrievable: pd.IsRetrievable, IsRefinable: pd.IsRefinable,
			IsExactMatchRequired: pd.IsExactMatchRequired, Aliases: pd.Aliases}
		for _, l := range pd.Labels {
			p.Labels = append(p.Labels, connections.Label(l))
		}
		s.Properties = append(s.Properties, p)
	}
	return s, nil
}
