package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

const (
	typeConnection       = "microsoft.graph.externalConnectors.externalConnection"
	typeLegacyConnection = "microsoft.graph.externalConnection"
	typeConfiguration    = "microsoft.graph.externalConnectors.configuration"
)

type configurationBody struct {
	AuthorizedAppIDs []string `json:"authorizedAppIds"`
}

// renderConnection builds a connection's body with the selected properties.
func renderConnection(context string, c connections.Connection, selects []string) object {
	body := make(object, 0, 8)
	if context != "" {
		body = body.add("@odata.context", context)
	}
	body = body.add("@odata.etag", etag(c.Version)).add("id", c.ID)
	if selected(selects, "name") {
		body = body.add("name", c.Name)
	}
	if selected(selects, "description") {
		var d *string
		if c.Description != "" {
			d = &c.Description
		}
		body = body.add("description", d)
	}
	if selected(selects, "state") {
		body = body.add("state", c.State)
	}
	if selected(selects, "configuration") {
		apps := c.AuthorizedAppIDs
		if apps == nil {
			apps = []string{}
		}
		body = body.add("configuration", configurationBody{AuthorizedAppIDs: apps})
	}
	if selected(selects, "connectorId") {
		var id *string
		if c.ConnectorID != "" {
			id = &c.ConnectorID
		}
		body = body.add("connectorId", id)
	}
	if selected(selects, "activitySettings") {
		body = body.add("activitySettings", renderActivitySettings(c.ActivitySettings))
	}
	if selected(selects, "searchSettings") {
		body = body.add("searchSettings", renderSearchSettings(c.SearchSettings))
	}
	return body
}

func decodeNewConnection(body []byte) (connections.NewConnection, error) {
	var n connections.NewConnection
	var configPresent bool
	err := decodeObject("", body, fields{
		"@odata.type": odataTypeField(typeConnection, typeLegacyConnection),
		"id":          stringField(&n.ID),
		"name":        stringField(&n.Name),
		"description": stringField(&n.Description),
		"configuration": objectField(&configPresent, fields{
			"@odata.type":      odataTypeField(typeConfiguration, "microsoft.graph.configuration"),
			"authorizedAppIds": stringArrayField(&n.AuthorizedAppIDs),
		}),
		"connectorId":      stringField(&n.ConnectorID),
		"activitySettings": activitySettingsField(&n.ActivitySettings, nil),
		"searchSettings":   searchSettingsField(&n.SearchSettings, nil),
	})
	return n, err
}

// decodeConnectionPatch reads a PATCH body; the id and state are not the
// caller's to change.
func decodeConnectionPatch(body []byte) (connections.ConnectionPatch, error) {
	var p connections.ConnectionPatch
	var configPresent bool
	var apps []string
	set := func(dst **string) field {
		return func(path string, raw json.RawMessage) error {
			var v string
			if err := stringField(&v)(path, raw); err != nil {
				return err
			}
			*dst = &v
			return nil
		}
	}
	err := decodeObject("", body, fields{
		"@odata.type": odataTypeField(typeConnection, typeLegacyConnection),
		"id":          readOnlyField,
		"state":       readOnlyField,
		"name":        set(&p.Name),
		"description": set(&p.Description),
		"configuration": objectField(&configPresent, fields{
			"@odata.type":      odataTypeField(typeConfiguration, "microsoft.graph.configuration"),
			"authorizedAppIds": stringArrayField(&apps),
		}),
		"connectorId":      readOnlyField,
		"activitySettings": activitySettingsField(&p.ActivitySettings, &p.SetActivitySettings),
		"searchSettings":   searchSettingsField(&p.SearchSettings, &p.SetSearchSettings),
	})
	if configPresent {
		p.AuthorizedAppIDs = &apps
	}
	return p, err
}

func (s *server) createConnection(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		n, err := decodeNewConnection(body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		key, err := idempotencyKey(c, "connection", "", body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		conn, replayed, err := s.svc.CreateConnection(c.Request.Context(), mustCaller(c), n, key)
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.markReplay(c, replayed)
		c.Header("Location", s.entityURL(c, rt, conn.ID))
		c.Header("ETag", etag(conn.Version))
		s.respond(c, http.StatusCreated, renderConnection(s.contextURL(c, rt, rt.set+"/$entity"), conn, nil))
	}
}

func (s *server) getConnection(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		opts, err := s.parseQuery(c, rt, getRules)
		if err != nil {
			s.writeError(c, err)
			return
		}
		conn, err := s.svc.GetConnection(c.Request.Context(), mustCaller(c), c.Param("connectionId"), opts.Select)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("ETag", etag(conn.Version))
		s.respond(c, http.StatusOK, renderConnection(s.contextURL(c, rt, rt.set+"/$entity"), conn, opts.Select))
	}
}

func (s *server) listConnections(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if longLived(c) {
			s.streamChanges(c, rt, "")
			return
		}
		opts, err := s.parseQuery(c, rt, listRules)
		if err != nil {
			s.writeError(c, err)
			return
		}
		page, err := s.svc.ListConnections(c.Request.Context(), mustCaller(c), opts.list)
		if err != nil {
			s.writeError(c, err)
			return
		}
		list := collection{Context: s.contextURL(c, rt, rt.set), Count: page.Count, Value: []any{}}
		for _, conn := range page.Items {
			list.Value = append(list.Value, renderConnection("", conn, opts.Select))
		}
		if page.Next != nil {
			list.NextLink = s.nextLink(c, opts, page.Next)
		}
		s.respond(c, http.StatusOK, list)
	}
}

// updateConnection answers 204 No Content, as Graph documents for this call.
func (s *server) updateConnection(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		patch, err := decodeConnectionPatch(body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		conn, err := s.svc.UpdateConnection(c.Request.Context(), mustCaller(c), c.Param("connectionId"), patch, parseIfMatch(c))
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("ETag", etag(conn.Version))
		if parsePrefer(c).representation {
			c.Writer.Header().Add("Preference-Applied", "return=representation")
			s.respond(c, http.StatusOK, renderConnection(s.contextURL(c, rt, rt.set+"/$entity"), conn, nil))
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// deleteConnection answers 202 Accepted, as Graph documents for this call.
func (s *server) deleteConnection(c *gin.Context) {
	if err := s.svc.DeleteConnection(c.Request.Context(), mustCaller(c), c.Param("connectionId")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusAccepted)
}
