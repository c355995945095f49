package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

// queryOptions are the OData system query options of one request.
type queryOptions struct {
	list    connections.ListQuery
	filter  string // raw $filter, for the page token fingerprint
	order   string // raw $orderby, likewise
	selects []string
	raw     url.Values
}

// The system query options each kind of request accepts. Anything else is a
// 400 that names it: a client must never think an option took effect when it
// was ignored.
var (
	listOptions  = []string{"$top", "$skip", "$count", "$filter", "$orderby", "$select", "$skiptoken"}
	getOptions   = []string{"$select"}
	countOptions = []string{"$filter"}
)

// parseQuery reads the query string against the allowed options. On beta the
// `$` prefix may be left out, as Graph's beta endpoint tolerates.
func parseQuery(c *gin.Context, rt route, allowed []string, selectable []string) (queryOptions, error) {
	opts := queryOptions{raw: url.Values{}}
	values, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		return opts, badRequest("", "The query string is malformed.")
	}
	for key, vals := range values {
		name := key
		if rt.version == "beta" && !strings.HasPrefix(name, "$") && slices.Contains(allowed, "$"+name) {
			name = "$" + name
		}
		if !slices.Contains(allowed, name) {
			return opts, badRequest(key, "Query option '%s' is not supported on this request.", truncate(key, 64))
		}
		if len(vals) != 1 {
			return opts, badRequest(name, "Query option '%s' is given more than once.", name)
		}
		opts.raw.Set(name, vals[0])
	}
	if err := opts.parseValues(selectable); err != nil {
		return opts, err
	}
	return opts, nil
}

func (o *queryOptions) parseValues(selectable []string) error {
	var err error
	if v, ok := o.lookup("$top"); ok {
		if o.list.Top, err = strconv.Atoi(v); err != nil || o.list.Top < 1 || o.list.Top > connections.MaxPageSize {
			return badRequest("$top", "Query option '$top' must be an integer from 1 to %d.", connections.MaxPageSize)
		}
	}
	if v, ok := o.lookup("$skip"); ok {
		if o.list.Skip, err = strconv.Atoi(v); err != nil || o.list.Skip < 0 {
			return badRequest("$skip", "Query option '$skip' must be a non-negative integer.")
		}
	}
	if v, ok := o.lookup("$count"); ok {
		if v != "true" && v != "false" {
			return badRequest("$count", "Query option '$count' must be true or false.")
		}
		o.list.Count = v == "true"
	}
	if v, ok := o.lookup("$filter"); ok {
		o.filter = v
		if o.list.Filter, err = parseFilter(v); err != nil {
			return err
		}
	}
	if v, ok := o.lookup("$orderby"); ok {
		o.order = v
		if o.list.OrderBy, err = parseOrderBy(v); err != nil {
			return err
		}
	}
	if v, ok := o.lookup("$select"); ok {
		if o.selects, err = parseSelect(v, selectable); err != nil {
			return err
		}
	}
	if v, ok := o.lookup("$skiptoken"); ok {
		if o.list.After, err = o.decodeSkipToken(v); err != nil {
			return err
		}
	}
	return nil
}

func (o *queryOptions) lookup(name string) (string, bool) {
	v, ok := o.raw[name]
	if !ok {
		return "", false
	}
	return v[0], true
}

func parseOrderBy(s string) ([]connections.OrderKey, error) {
	var keys []connections.OrderKey
	for _, term := range strings.Split(s, ",") {
		words := strings.Fields(term)
		if len(words) == 0 || len(words) > 2 {
			return nil, badRequest("$orderby", "Query option '$orderby' is malformed: expected 'property [asc|desc]' terms separated by commas.")
		}
		key := connections.OrderKey{Field: words[0]}
		if len(words) == 2 {
			switch words[1] {
			case "asc":
			case "desc":
				key.Descending = true
			default:
				return nil, badRequest("$orderby", "Query option '$orderby' has the direction '%s'; use asc or desc.", truncate(words[1], 32))
			}
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func parseSelect(s string, selectable []string) ([]string, error) {
	var props []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(selectable, p) {
			return nil, badRequest("$select", "Query option '$select' names '%s', which is not a property here; use %s.",
				truncate(p, 64), strings.Join(selectable, ", "))
		}
		if !slices.Contains(props, p) {
			props = append(props, p)
		}
	}
	return props, nil
}

// pageToken is what a $skiptoken carries: where the last page ended and a
// fingerprint of the query it belongs to. It is only a position: the request
// that presents it is authenticated and scoped again like any other.
type pageToken struct {
	After []string `json:"a"`
	Query string   `json:"q"`
}

func (o *queryOptions) fingerprint() string {
	sum := sha256.Sum256([]byte(o.filter + "\x00" + o.order))
	return hex.EncodeToString(sum[:8])
}

func (o *queryOptions) encodeSkipToken(after connections.Cursor) string {
	b, _ := json.Marshal(pageToken{After: after, Query: o.fingerprint()})
	return base64.RawURLEncoding.EncodeToString(b)
}

func (o *queryOptions) decodeSkipToken(s string) (connections.Cursor, error) {
	bad := badRequest("$skiptoken", "Query option '$skiptoken' is not valid for this request; use the @odata.nextLink exactly as it was returned.")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || len(t.After) == 0 {
		return nil, bad
	}
	// The filter and order are parsed before the token (parseValues order),
	// so the fingerprint compares the query the token is used with.
	if t.Query != o.fingerprint() {
		return nil, bad
	}
	return t.After, nil
}

// nextLink is the absolute URL of the page after this one: the same options
// without $skip (already applied) plus the new $skiptoken.
func (s *server) nextLink(c *gin.Context, o queryOptions, next connections.Cursor) string {
	q := url.Values{}
	for k, v := range o.raw {
		if k != "$skip" && k != "$skiptoken" {
			q[k] = v
		}
	}
	q.Set("$skiptoken", o.encodeSkipToken(next))
	return s.baseURL(c) + c.Request.URL.Path + "?" + strings.ReplaceAll(q.Encode(), "%24", "$")
}

// project keeps only the selected properties of an entity body (all of them
// when nothing was selected). OData control information (@odata.*) stays.
func project(body any, selects []string) any {
	if len(selects) == 0 {
		return body
	}
	b, _ := json.Marshal(body)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	for k := range m {
		if !strings.HasPrefix(k, "@") && k != "id" && !slices.Contains(selects, k) {
			delete(m, k)
		}
	}
	return m
}
