package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

func renderGroup(context string, g connections.ExternalGroup) object {
	body := make(object, 0, 5)
	if context != "" {
		body = body.add("@odata.context", context)
	}
	var name, desc *string
	if g.DisplayName != "" {
		name = &g.DisplayName
	}
	if g.Description != "" {
		desc = &g.Description
	}
	return body.add("@odata.etag", etag(g.Version)).add("id", g.ID).add("displayName", name).add("description", desc)
}

// renderMember builds a member's body with the selected properties.
func renderMember(context string, m connections.Member, selects []string) object {
	body := make(object, 0, 5)
	if context != "" {
		body = body.add("@odata.context", context)
	}
	body = body.add("@odata.type", "#"+typeIdentity).add("id", m.ID)
	if selected(selects, "type") {
		body = body.add("type", m.Type)
	}
	if m.IdentitySource != "" && selected(selects, "identitySource") {
		body = body.add("identitySource", m.IdentitySource)
	}
	return body
}

func (s *server) groupContext(c *gin.Context, rt route, connectionID string) string {
	return s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/groups/$entity")
}

func (s *server) createGroup(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		var g connections.ExternalGroup
		if err := decodeObject("", body, fields{
			"@odata.type": odataTypeField(typeExternalGroup),
			"id":          stringField(&g.ID),
			"displayName": stringField(&g.DisplayName),
			"description": stringField(&g.Description),
		}); err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		created, err := s.svc.CreateGroup(c.Request.Context(), mustCaller(c), connectionID, g)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("Location", s.entityURL(c, rt, connectionID, "groups", created.ID))
		c.Header("ETag", etag(created.Version))
		s.respond(c, http.StatusCreated, renderGroup(s.groupContext(c, rt, connectionID), created))
	}
}

func (s *server) getGroup(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := s.parseQuery(c, rt, nil); err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		g, err := s.svc.GetGroup(c.Request.Context(), mustCaller(c), connectionID, c.Param("groupId"))
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("ETag", etag(g.Version))
		s.respond(c, http.StatusOK, renderGroup(s.groupContext(c, rt, connectionID), g))
	}
}

// updateGroup answers 204, or 200 with the group when the client prefers
// a representation.
func (s *server) updateGroup(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		var p connections.GroupPatch
		set := func(dst **string) field {
			return func(path string, raw json.RawMessage) error {
				v := ""
				if err := stringField(&v)(path, raw); err != nil {
					return err
				}
				*dst = &v
				return nil
			}
		}
		if err := decodeObject("", body, fields{
			"@odata.type": odataTypeField(typeExternalGroup),
			"id":          readOnlyField,
			"displayName": set(&p.DisplayName),
			"description": set(&p.Description),
		}); err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		g, err := s.svc.UpdateGroup(c.Request.Context(), mustCaller(c), connectionID, c.Param("groupId"), p)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("ETag", etag(g.Version))
		if parsePrefer(c).representation {
			c.Writer.Header().Add("Preference-Applied", "return=representation")
			s.respond(c, http.StatusOK, renderGroup(s.groupContext(c, rt, connectionID), g))
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func (s *server) deleteGroup(c *gin.Context) {
	if err := s.svc.DeleteGroup(c.Request.Context(), mustCaller(c), c.Param("connectionId"), c.Param("groupId")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *server) memberContext(c *gin.Context, rt route, connectionID, groupID string) string {
	return s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/groups"+odataKey(groupID)+"/members/$entity")
}

func (s *server) addMember(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		var m connections.Member
		if err := decodeObject("", body, fields{
			"@odata.type":    odataTypeField(typeIdentity),
			"id":             stringField(&m.ID),
			"type":           stringField(&m.Type),
			"identitySource": stringField(&m.IdentitySource),
		}); err != nil {
			s.writeError(c, err)
			return
		}
		connectionID, groupID := c.Param("connectionId"), c.Param("groupId")
		added, err := s.svc.AddMember(c.Request.Context(), mustCaller(c), connectionID, groupID, m)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("Location", s.entityURL(c, rt, connectionID, "groups", groupID, "members", added.ID))
		s.respond(c, http.StatusCreated, renderMember(s.memberContext(c, rt, connectionID, groupID), added, nil))
	}
}

func (s *server) getMember(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := s.parseQuery(c, rt, nil); err != nil {
			s.writeError(c, err)
			return
		}
		connectionID, groupID := c.Param("connectionId"), c.Param("groupId")
		m, err := s.svc.GetMember(c.Request.Context(), mustCaller(c), connectionID, groupID, c.Param("memberId"))
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.respond(c, http.StatusOK, renderMember(s.memberContext(c, rt, connectionID, groupID), m, nil))
	}
}

func (s *server) listMembers(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		opts, err := s.parseQuery(c, rt, listRules)
		if err != nil {
			s.writeError(c, err)
			return
		}
		connectionID, groupID := c.Param("connectionId"), c.Param("groupId")
		page, err := s.svc.ListMembers(c.Request.Context(), mustCaller(c), connectionID, groupID, opts.list)
		if err != nil {
			s.writeError(c, err)
			return
		}
		list := collection{Context: s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/groups"+odataKey(groupID)+"/members"),
			Count: page.Count, Value: []any{}}
		for _, m := range page.Items {
			list.Value = append(list.Value, renderMember("", m, opts.Select))
		}
		if page.Next != nil {
			list.NextLink = s.nextLink(c, opts, page.Next)
		}
		s.respond(c, http.StatusOK, list)
	}
}

func (s *server) deleteMember(c *gin.Context) {
	if err := s.svc.DeleteMember(c.Request.Context(), mustCaller(c), c.Param("connectionId"), c.Param("groupId"), c.Param("memberId")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
