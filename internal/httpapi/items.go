package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

// putItem creates or replaces an item: 200 with no body, as Graph answers.
func (s *server) putItem(c *gin.Context) {
	body, ok := s.readJSON(c)
	if !ok {
		return
	}
	in, err := decodeItem(body)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if _, err := s.svc.PutItem(c.Request.Context(), mustCaller(c), c.Param("connectionId"), c.Param("itemId"), in); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusOK)
}

func (s *server) itemContext(c *gin.Context, rt route, connectionID string) string {
	return s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/items/$entity")
}

func (s *server) getItem(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		opts, err := s.parseQuery(c, rt, getRules)
		if err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		it, err := s.svc.GetItem(c.Request.Context(), mustCaller(c), connectionID, c.Param("itemId"), opts.Select)
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.respond(c, http.StatusOK, renderItem(s.itemContext(c, rt, connectionID), it, opts.Select))
	}
}

// updateItem applies a PATCH and answers 200 with the item.
func (s *server) updateItem(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		p, err := decodeItemPatch(body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		it, err := s.svc.UpdateItem(c.Request.Context(), mustCaller(c), connectionID, c.Param("itemId"), p)
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.respond(c, http.StatusOK, renderItem(s.itemContext(c, rt, connectionID), it, nil))
	}
}

func (s *server) deleteItem(c *gin.Context) {
	if err := s.svc.DeleteItem(c.Request.Context(), mustCaller(c), c.Param("connectionId"), c.Param("itemId")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listItems is a connops extension: what a connector ingested, by id.
func (s *server) listItems(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		opts, err := s.parseQuery(c, rt, listRules)
		if err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		page, err := s.svc.ListItems(c.Request.Context(), mustCaller(c), connectionID, opts.list)
		if err != nil {
			s.writeError(c, err)
			return
		}
		list := collection{Context: s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/items"), Count: page.Count, Value: []any{}}
		for _, it := range page.Items {
			list.Value = append(list.Value, renderItem("", it, opts.Select))
		}
		if page.Next != nil {
			list.NextLink = s.nextLink(c, opts, page.Next)
		}
		s.respond(c, http.StatusOK, list)
	}
}

func (s *server) countItems(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		opts, err := s.parseQuery(c, rt, countRules)
		if err != nil {
			s.writeError(c, err)
			return
		}
		n, err := s.svc.CountItems(c.Request.Context(), mustCaller(c), c.Param("connectionId"), opts.list.Filter)
		if err != nil {
			s.writeError(c, err)
			return
		}
		respondCount(c, n)
	}
}

// respondCount answers a $count segment with a bare integer.
func respondCount(c *gin.Context, n int64) {
	c.Header("OData-Version", "4.0")
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(strconv.FormatInt(n, 10)))
}

// addActivities answers Graph's action: 200 with a result per activity, or
// 207 when some were refused.
func (s *server) addActivities(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSON(c)
		if !ok {
			return
		}
		var activities []connections.Activity
		err := decodeObject("", body, fields{
			"activities": arrayField(func(i int) fields {
				activities = append(activities, connections.Activity{})
				return activityFields(&activities[i])
			}),
		})
		if err != nil {
			s.writeError(c, err)
			return
		}
		results, err := s.svc.AddActivities(c.Request.Context(), mustCaller(c), c.Param("connectionId"), c.Param("itemId"), activities)
		if err != nil {
			s.writeError(c, err)
			return
		}
		status := http.StatusOK
		list := collection{Context: s.contextURL(c, rt, "Collection("+typeActivityResult+")"), Value: []any{}}
		for _, r := range results {
			if r.Error != nil {
				status = http.StatusMultiStatus
			}
			list.Value = append(list.Value, renderActivityResult(r))
		}
		s.respond(c, status, list)
	}
}

// getQuota answers beta's quota navigation.
func (s *server) getQuota(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := s.parseQuery(c, rt, nil); err != nil {
			s.writeError(c, err)
			return
		}
		connectionID := c.Param("connectionId")
		q, err := s.svc.ItemQuota(c.Request.Context(), mustCaller(c), connectionID)
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.respond(c, http.StatusOK, struct {
			Context        string          `json:"@odata.context"`
			ItemsRemaining json.RawMessage `json:"itemsRemaining"`
		}{s.contextURL(c, rt, rt.set+odataKey(connectionID)+"/quota/$entity"), json.RawMessage(strconv.FormatInt(q.ItemsRemaining, 10))})
	}
}
