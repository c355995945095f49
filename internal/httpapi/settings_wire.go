package httpapi

import (
	"encoding/json"

	"github.com/connops/connops/internal/connections"
)

// Type names of a connection's settings, as the pnp samples annotate them.
const (
	typeActivitySettings = "microsoft.graph.externalConnectors.activitySettings"
	typeItemIDResolver   = "microsoft.graph.externalConnectors.itemIdResolver"
	typeURLMatchInfo     = "microsoft.graph.externalConnectors.urlMatchInfo"
	typeSearchSettings   = "microsoft.graph.externalConnectors.searchSettings"
	typeDisplayTemplate  = "microsoft.graph.externalConnectors.displayTemplate"
	typePropertyRule     = "microsoft.graph.externalConnectors.propertyRule"
)

// activitySettingsField decodes activitySettings into *dst (left nil for
// null); given, if set, records that the property was sent at all, null
// included, which in a PATCH clears it.
func activitySettingsField(dst **connections.ActivitySettings, given *bool) field {
	return func(path string, raw json.RawMessage) error {
		if given != nil {
			*given = true
		}
		if isNull(raw) {
			return nil
		}
		a := &connections.ActivitySettings{URLToItemResolvers: []connections.ItemIDResolver{}}
		err := decodeObject(path, raw, fields{
			"@odata.type": odataTypeField(typeActivitySettings),
			"urlToItemResolvers": arrayField(func(i int) fields {
				a.URLToItemResolvers = append(a.URLToItemResolvers, connections.ItemIDResolver{})
				r := &a.URLToItemResolvers[i]
				var present bool
				return fields{
					"@odata.type": odataTypeField(typeItemIDResolver),
					"itemId":      stringField(&r.ItemID),
					"priority":    intField(&r.Priority),
					"urlMatchInfo": objectField(&present, fields{
						"@odata.type": odataTypeField(typeURLMatchInfo),
						"baseUrls":    stringArrayField(&r.BaseURLs),
						"urlPattern":  stringField(&r.URLPattern),
					}),
				}
			}),
		})
		*dst = a
		return err
	}
}

// searchSettingsField decodes searchSettings as activitySettingsField does.
func searchSettingsField(dst **connections.SearchSettings, given *bool) field {
	return func(path string, raw json.RawMessage) error {
		if given != nil {
			*given = true
		}
		if isNull(raw) {
			return nil
		}
		s := &connections.SearchSettings{SearchResultTemplates: []connections.DisplayTemplate{}}
		err := decodeObject(path, raw, fields{
			"@odata.type": odataTypeField(typeSearchSettings),
			"searchResultTemplates": arrayField(func(i int) fields {
				s.SearchResultTemplates = append(s.SearchResultTemplates, connections.DisplayTemplate{})
				t := &s.SearchResultTemplates[i]
				return fields{
					"@odata.type": odataTypeField(typeDisplayTemplate),
					"id":          stringField(&t.ID),
					"priority":    intField(&t.Priority),
					"layout":      rawObjectField(&t.Layout),
					"rules": arrayField(func(j int) fields {
						t.Rules = append(t.Rules, connections.PropertyRule{})
						r := &t.Rules[j]
						return fields{
							"@odata.type":    odataTypeField(typePropertyRule),
							"property":       stringField(&r.Property),
							"operation":      stringField(&r.Operation),
							"valuesJoinedBy": stringField(&r.ValuesJoinedBy),
							"values":         stringArrayField(&r.Values),
						}
					}),
				}
			}),
		})
		*dst = s
		return err
	}
}

type activitySettingsBody struct {
	Resolvers []resolverBody `json:"urlToItemResolvers"`
}

type resolverBody struct {
	Type         string           `json:"@odata.type"`
	URLMatchInfo urlMatchInfoBody `json:"urlMatchInfo"`
	ItemID       string           `json:"itemId"`
	Priority     int64            `json:"priority"`
}

type urlMatchInfoBody struct {
	BaseURLs   []string `json:"baseUrls"`
	URLPattern string   `json:"urlPattern"`
}

type searchSettingsBody struct {
	Templates []templateBody `json:"searchResultTemplates"`
}

type templateBody struct {
	ID       string          `json:"id"`
	Priority int64           `json:"priority"`
	Layout   json.RawMessage `json:"layout"`
	Rules    []ruleBody      `json:"rules,omitempty"`
}

type ruleBody struct {
	Property       string   `json:"property"`
	Operation      string   `json:"operation"`
	ValuesJoinedBy string   `json:"valuesJoinedBy,omitempty"`
	Values         []string `json:"values"`
}

func renderActivitySettings(a *connections.ActivitySettings) *activitySettingsBody {
	if a == nil {
		return nil
	}
	body := &activitySettingsBody{Resolvers: []resolverBody{}}
	for _, r := range a.URLToItemResolvers {
		body.Resolvers = append(body.Resolvers, resolverBody{Type: "#" + typeItemIDResolver,
			URLMatchInfo: urlMatchInfoBody{BaseURLs: r.BaseURLs, URLPattern: r.URLPattern}, ItemID: r.ItemID, Priority: r.Priority})
	}
	return body
}

func renderSearchSettings(s *connections.SearchSettings) *searchSettingsBody {
	if s == nil {
		return nil
	}
	body := &searchSettingsBody{Templates: []templateBody{}}
	for _, t := range s.SearchResultTemplates {
		tb := templateBody{ID: t.ID, Priority: t.Priority, Layout: t.Layout}
		for _, r := range t.Rules {
			rb := ruleBody(r)
			if rb.Values == nil {
				rb.Values = []string{}
			}
			tb.Rules = append(tb.Rules, rb)
		}
		body.Templates = append(body.Templates, tb)
	}
	return body
}
