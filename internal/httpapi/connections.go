package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

const (
	typeConnection       = "microsoft.graph.externalConnectors.externalConnection"
	typeLegacyConnection = "microsoft.graph.externalConnection"
)

type connectionBody struct {
	Context       string            `json:"@odata.context,omitempty"`
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Description   *string           `json:"description"`
	State         connections.State `json:"state"`
	Configuration configurationBody `json:"configuration"`
}

type configurationBody struct {
	AuthorizedAppIDs []string `json:"authorizedAppIds"`
}

func renderConnection(context string, c connections.Connection) connectionBody {
	body := connectionBody{Context: context, ID: c.ID, Name: c.Name, State: c.State,
		Configuration: configurationBody{AuthorizedAppIDs: c.AuthorizedAppIDs}}
	if c.Description != "" {
		body.Description = &c.Description
	}
	if body.Configuration.AuthorizedAppIDs == nil {
		body.Configuration.AuthorizedAppIDs = []string{}
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
			"@odata.type":      odataTypeField("microsoft.graph.externalConnectors.configuration", "microsoft.graph.configuration"),
			"authorizedAppIds": stringArrayField(&n.AuthorizedAppIDs),
		}),
	})
	if err != nil {
		return n, err
	}
	return n, n.Validate()
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
		conn, err := s.svc.CreateConnection(c.Request.Context(), mustCaller(c), n)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("Location", s.entityURL(c, rt, conn.ID))
		s.respond(c, http.StatusCreated, renderConnection(s.contextURL(c, rt, rt.set+"/$entity"), conn))
	}
}

func (s *server) getConnection(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		conn, err := s.svc.GetConnection(c.Request.Context(), mustCaller(c), c.Param("connectionId"))
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.respond(c, http.StatusOK, renderConnection(s.contextURL(c, rt, rt.set+"/$entity"), conn))
	}
}

type connectionList struct {
	Context string           `json:"@odata.context"`
	Value   []connectionBody `json:"value"`
}

func (s *server) listConnections(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		conns, err := s.svc.ListConnections(c.Request.Context(), mustCaller(c))
		if err != nil {
			s.writeError(c, err)
			return
		}
		list := connectionList{Context: s.contextURL(c, rt, rt.set), Value: []connectionBody{}}
		for _, conn := range conns {
			list.Value = append(list.Value, renderConnection("", conn))
		}
		s.respond(c, http.StatusOK, list)
	}
}

// deleteConnection answers 202 Accepted, as Graph documents for this call.
func (s *server) deleteConnection(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.svc.DeleteConnection(c.Request.Context(), mustCaller(c), c.Param("connectionId")); err != nil {
			s.writeError(c, err)
			return
		}
		c.Status(http.StatusAccepted)
	}
}
