package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/odata"
)

// subscriptionListRules are the options GET /subscriptions takes: paging
// only, as the list is always every subscription of the caller by id.
var subscriptionListRules = []string{odata.Top, odata.Count, odata.SkipToken}

// KeySet publishes the public keys of the notifications' validationTokens.
type KeySet interface {
	JWKS() []byte
}

// registerSubscriptions mounts Graph's subscription routes under a version
// root. A create or a renewal may wait on a receiver's handshake for up to
// 10 s, so those two hold no tenant slot and no request deadline: the
// service bounds each of their database steps itself.
func (s *server) registerSubscriptions(r *gin.Engine, version string) {
	rt := route{version: version, set: "subscriptions"}
	g := r.Group("/"+version+"/subscriptions", withRoute(rt), s.authenticate, s.rateLimit, negotiate)
	slot := s.tenantSlot
	g.POST("", s.requireJSONBody, s.createSubscription(rt))
	get(g, "", slot, s.listSubscriptions(rt))
	get(g, "/:subscriptionId", slot, s.getSubscription(rt))
	g.PATCH("/:subscriptionId", s.requireJSONBody, s.updateSubscription(rt))
	g.DELETE("/:subscriptionId", s.requireJSONBody, slot, s.deleteSubscription)
	// Graph's action takes no body; the SDK sends none and no Content-Type.
	g.POST("/:subscriptionId/reauthorize", rejectWriteOptions, slot, s.reauthorizeSubscription)
}

func (s *server) createSubscription(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSONBody(c)
		if !ok {
			return
		}
		n, err := decodeNewSubscription(body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		sub, err := s.svc.CreateSubscription(c.Request.Context(), mustCaller(c), n)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Header("Location", s.entityURL(c, rt, sub.ID))
		s.respond(c, http.StatusCreated, renderSubscription(s.contextURL(c, rt, "subscriptions/$entity"), sub))
	}
}

func (s *server) getSubscription(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := s.parseQuery(c, rt, nil); err != nil {
			s.writeError(c, err)
			return
		}
		sub, err := s.svc.GetSubscription(c.Request.Context(), mustCaller(c), c.Param("subscriptionId"))
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.respond(c, http.StatusOK, renderSubscription(s.contextURL(c, rt, "subscriptions/$entity"), sub))
	}
}

func (s *server) listSubscriptions(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		opts, err := s.parseQuery(c, rt, subscriptionListRules)
		if err != nil {
			s.writeError(c, err)
			return
		}
		page, err := s.svc.ListSubscriptions(c.Request.Context(), mustCaller(c), opts.list)
		if err != nil {
			s.writeError(c, err)
			return
		}
		list := collection{Context: s.contextURL(c, rt, "subscriptions"), Count: page.Count, Value: []any{}}
		for _, sub := range page.Items {
			list.Value = append(list.Value, renderSubscription("", sub))
		}
		if page.Next != nil {
			list.NextLink = s.nextLink(c, opts, page.Next)
		}
		s.respond(c, http.StatusOK, list)
	}
}

// updateSubscription renews a subscription and answers it, 200, as Graph
// documents.
func (s *server) updateSubscription(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := s.readJSONBody(c)
		if !ok {
			return
		}
		p, err := decodeSubscriptionPatch(body)
		if err != nil {
			s.writeError(c, err)
			return
		}
		sub, err := s.svc.UpdateSubscription(c.Request.Context(), mustCaller(c), c.Param("subscriptionId"), p)
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.respond(c, http.StatusOK, renderSubscription(s.contextURL(c, rt, "subscriptions/$entity"), sub))
	}
}

func (s *server) deleteSubscription(c *gin.Context) {
	if err := s.svc.DeleteSubscription(c.Request.Context(), mustCaller(c), c.Param("subscriptionId")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *server) reauthorizeSubscription(c *gin.Context) {
	if err := s.svc.ReauthorizeSubscription(c.Request.Context(), mustCaller(c), c.Param("subscriptionId")); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// rejectWriteOptions refuses query options on a write that has no body
// check to do it (rejectQueryOptions runs inside requireJSONBody).
func rejectWriteOptions(c *gin.Context) { rejectQueryOptions(c, onMethod(c)) }

// jwks serves the public keys of the validationTokens, for receivers to
// verify notifications with. It needs no token: the keys are public.
func (s *server) jwks(c *gin.Context) {
	if s.cfg.WebhookKeys == nil {
		respondError(c, http.StatusNotFound, codeResourceNotFound, "No resource was found at this path.", "")
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", s.cfg.WebhookKeys.JWKS())
}
