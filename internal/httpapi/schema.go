package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

const (
	typeSchema   = "microsoft.graph.externalConnectors.schema"
	typeProperty = "microsoft.graph.externalConnectors.property"
)

// decodeSchema reads a schema as real clients send it: type names and
// labels in any case, booleans as JSON booleans or strings, @odata.type
// annotations. Names are normalised here; the rules are the domain's.
func decodeSchema(body []byte) (connections.Schema, error) {
	var s connections.Schema
	err := decodeObject("", body, fields{
		"@odata.type": odataTypeField(typeSchema, "microsoft.graph.schema"),
		"id":          ignoredField,
		"baseType":    stringField(&s.BaseType),
		"properties": arrayField(func(i int) fields {
			s.Properties = append(s.Properties, connections.Property{})
			return propertyFields(&s.Properties[i])
		}),
	})
	return s, err
}

func propertyFields(p *connections.Property) fields {
	return fields{
		"@odata.type": odataTypeField(typeProperty, "microsoft.graph.property"),
		"name":        stringField(&p.Name),
		"type": func(path string, raw json.RawMessage) error {
			var t string
			if err := stringField(&t)(path, raw); err != nil {
				return err
			}
			p.Type, _ = connections.ParsePropertyType(t)
			return nil
		},
		"isSearchable":         boolField(&p.IsSearchable),
		"isQueryable":          boolField(&p.IsQueryable),
		"isRetrievable":        boolField(&p.IsRetrievable),
		"isRefinable":          boolField(&p.IsRefinable),
		"isExactMatchRequired": boolField(&p.IsExactMatchRequired),
		"aliases":              stringArrayField(&p.Aliases),
		"labels": func(path string, raw json.RawMessage) error {
			var labels []string
			if err := stringArrayField(&labels)(path, raw); err != nil {
				return err
			}
			for _, l := range labels {
				label, _ := connections.ParseLabel(l)
				p.Labels = append(p.Labels, label)
			}
			return nil
		},
	}
}

type propertyBody struct {
	Name                 string              `json:"name"`
	Type                 string              `json:"type"`
	IsSearchable         bool                `json:"isSearchable"`
	IsQueryable          bool                `json:"isQueryable"`
	IsRetrievable        bool                `json:"isRetrievable"`
	IsRefinable          bool                `json:"isRefinable"`
	IsExactMatchRequired bool                `json:"isExactMatchRequired"`
	Labels               []connections.Label `json:"labels"`
	Aliases              []string            `json:"aliases"`
}

type schemaBody struct {
	Context string `json:"@odata.context"`
	// State and OperationID are connops instance annotations (Graph
	// clients ignore annotations they do not know): whether this is the
	// active schema or one being registered, and by which operation.
	State       string         `json:"@connops.state,omitempty"`
	OperationID string         `json:"@connops.operationId,omitempty"`
	BaseType    string         `json:"baseType"`
	Properties  []propertyBody `json:"properties"`
}

func renderSchema(context string, s connections.Schema) schemaBody {
	body := schemaBody{Context: context, BaseType: s.BaseType, Properties: []propertyBody{}}
	for _, p := range s.Properties {
		pb := propertyBody{Name: p.Name, Type: string(p.Type), IsSearchable: p.IsSearchable, IsQueryable: p.IsQueryable,
			IsRetrievable: p.IsRetrievable, IsRefinable: p.IsRefinable, IsExactMatchRequired: p.IsExactMatchRequired,
			Labels: p.Labels, Aliases: p.Aliases}
		if pb.Labels == nil {
			pb.Labels = []connections.Label{}
		}
		if pb.Aliases == nil {
			pb.Aliases = []string{}
		}
		body.Properties = append(body.Properties, pb)
	}
	return body
}

// registerSchema answers PATCH and POST .../schema, with or without Prefer:
// respond-async, as Graph's asynchronous registration does: 202, no body,
// and the operation's absolute URL on this mount in Location, whose last
// segment is the operation id.
func (s *server) registerSchema(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		schema, err := decodeSchema(body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		op, err := s.svc.RegisterSchema(c.Request.Context(), mustCaller(c), connectionID, schema)
		if err != nil {
			s.writeError(c, err)
			return
		}
		if parsePrefer(c).respondAsync {
			c.Writer.Header().Add("Preference-Applied", "respond-async")
		}
		c.Header("Location", s.entityURL(c, rt, connectionID, "operations", op.ID))
		c.Status(http.StatusAccepted)
	}
}

func (s *server) getSchema(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := s.parseQuery(c, rt, nil); err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		v, err := s.svc.GetSchema(c.Request.Context(), mustCaller(c), connectionID)
		if err != nil {
			s.writeError(c, err)
			return
		}
		body := renderSchema(s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/schema/$entity"), v.Schema)
		body.State, body.OperationID = "pending", v.OperationID
		if v.Active {
			body.State = "active"
		}
		s.respond(c, http.StatusOK, body)
	}
}
