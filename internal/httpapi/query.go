package httpapi

import (
	"context"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
	"github.com/connops/connops/internal/odata"
)

// The system query options each kind of request accepts. Anything else is
// a 400 that names it.
var (
	listRules  = []string{odata.Top, odata.Skip, odata.Count, odata.Filter, odata.OrderBy, odata.Select, odata.SkipToken}
	getRules   = []string{odata.Select}
	countRules = []string{odata.Filter}
)

// queryOptions are one request's parsed options and the list query they
// make.
type queryOptions struct {
	odata.Options
	list connections.ListQuery
}

// parseQuery reads the query string under the allowed options and opens
// the page token, if any.
func (s *server) parseQuery(c *gin.Context, rt route, allowed []string) (queryOptions, error) {
	opts, err := odata.Parse(c.Request.URL.RawQuery, odata.Rules{Allowed: allowed, BarePrefix: rt.version == "beta"})
	q := queryOptions{Options: opts}
	if err != nil {
		return q, err
	}
	q.list = connections.ListQuery{Filter: opts.Filter, OrderBy: opts.OrderBy, Top: opts.Top, Skip: opts.Skip,
		Count: opts.Count, Fields: opts.Select, MaxBytes: s.pageBudget(c.Request.Context())}
	if opts.SkipToken != "" {
		if q.list.After, err = s.cfg.PageTokens.Open(opts.SkipToken, q.bound(c)); err != nil {
			return q, err
		}
	}
	return q, nil
}

// bound is what a page token is sealed to: the collection and the options
// that decide which rows come in which order. Another query's token, or a
// token moved to another collection, does not open.
func (q queryOptions) bound(c *gin.Context) string {
	return c.Request.URL.EscapedPath() + "\x00" + q.Given[odata.Filter] + "\x00" + q.Given[odata.OrderBy]
}

// nextLink is the absolute URL of the page after this one: the same options
// without $skip (already applied) plus the new $skiptoken.
func (s *server) nextLink(c *gin.Context, q queryOptions, next connections.Cursor) string {
	v := url.Values{}
	for k, val := range q.Given {
		if k != odata.Skip && k != odata.SkipToken {
			v.Set(k, val)
		}
	}
	v.Set(odata.SkipToken, s.cfg.PageTokens.Seal(next, q.bound(c)))
	return s.baseURL(c) + c.Request.URL.EscapedPath() + "?" + strings.ReplaceAll(v.Encode(), "%24", "$")
}

type pageBudgetKey struct{}

// withPageBudget gives the requests of a batch each a share of the batch's
// byte budget, so the batch's answer is bounded as a whole.
func withPageBudget(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, pageBudgetKey{}, n)
}

// pageBudget is the byte budget of a page for this request.
func (s *server) pageBudget(ctx context.Context) int {
	budget := s.cfg.PageMaxBytes
	if budget <= 0 {
		budget = connections.DefaultPageBytes
	}
	if n, ok := ctx.Value(pageBudgetKey{}).(int); ok && n < budget {
		budget = n
	}
	return budget
}
