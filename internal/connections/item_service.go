package connections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ActiveSchema is the schema items of a connection are checked against.
// Version 0 means the connection has none yet.
type ActiveSchema struct {
	Schema  Schema
	Version int
	State   State
}

// ItemQuota is a connection's item quota, as Graph's beta connectionQuota
// reports it.
type ItemQuota struct {
	ItemsRemaining int64
}

// DefaultMaxItemsPerConnection is Graph's item limit per connection.
const DefaultMaxItemsPerConnection = 5_000_000

// schemaCache keeps each connection's active schema, so an item write
// checks its values without reading the schema first. A cached schema can
// be stale (another replica completed a registration): the write statement
// checks the version, and a mismatch (ErrSchemaChanged) refreshes it.
type schemaCache struct {
	mu      sync.Mutex
	entries map[schemaKey]ActiveSchema
}

type schemaKey struct {
	scope      Scope
	connection string
}

// maxCachedSchemas bounds the cache; past it, it starts over.
const maxCachedSchemas = 10_000

func (c *schemaCache) get(k schemaKey) (ActiveSchema, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[k]
	return v, ok
}

func (c *schemaCache) put(k schemaKey, v ActiveSchema) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCachedSchemas {
		c.entries = map[schemaKey]ActiveSchema{}
	}
	c.entries[k] = v
}

// activeSchema returns the connection's active schema, from the cache
// unless fresh is set. A connection without one is an ErrConflict naming
// its state.
func (s *Service) activeSchema(ctx context.Context, scope Scope, connectionID string, fresh bool) (ActiveSchema, error) {
	key := schemaKey{scope, connectionID}
	if v, ok := s.schemas.get(key); ok && !fresh {
		return v, nil
	}
	v, err := s.store.ActiveSchema(ctx, scope, connectionID)
	if err != nil {
		return ActiveSchema{}, connectionError(err, connectionID)
	}
	if v.Version == 0 {
		return ActiveSchema{}, &Error{Kind: ErrConflict, Target: "state", Message: fmt.Sprintf(
			"The connection '%s' is %s and has no active schema yet; items can be ingested once its schema registration completes.",
			truncate(connectionID, 64), v.State)}
	}
	s.schemas.put(key, v)
	return v, nil
}

// PutItem creates or replaces an item, checked against the connection's
// active schema. created reports a new item.
func (s *Service) PutItem(ctx context.Context, caller Caller, connectionID, itemID string, in ItemInput) (created bool, err error) {
	scope, err := caller.itemWriteScope()
	if err != nil {
		return false, err
	}
	if err := ValidateItemID(itemID); err != nil {
		return false, err
	}
	if in.ID != "" && in.ID != itemID {
		return false, invalidField("id", "must be the id in the request's path, '%s'", truncate(itemID, 128))
	}
	acl, err := validateACL(in.ACL)
	if err != nil {
		return false, err
	}
	content, err := validateContent(in.Content)
	if err != nil {
		return false, err
	}
	results, ok := checkActivities(in.Activities, time.Now())
	for i, r := range results {
		if r.Error != nil {
			return false, invalidField(fmt.Sprintf("activities[%d]", i), "is refused: %s", r.Error.Message)
		}
	}
	for attempt := range 2 {
		active, err := s.activeSchema(ctx, scope, connectionID, attempt > 0)
		if err != nil {
			return false, err
		}
		props, err := active.Schema.CheckProperties(in.Properties, true)
		if err != nil {
			return false, err
		}
		item := Item{ID: itemID, Properties: props, ACL: acl, Content: content}
		created, err = s.store.PutItem(ctx, scope, connectionID, item, active.Version, s.opts.MaxItemsPerConnection)
		if errors.Is(err, ErrSchemaChanged) && attempt == 0 {
			continue
		}
		if err != nil {
			return false, s.itemWriteError(err, connectionID)
		}
		break
	}
	if len(ok) > 0 {
		if err := s.store.AddActivities(ctx, scope, connectionID, itemID, ok); err != nil {
			return created, itemError(err, connectionID, itemID)
		}
	}
	return created, nil
}

func (s *Service) itemWriteError(err error, connectionID string) error {
	switch {
	case errors.Is(err, ErrQuotaExceeded):
		return describe(ErrQuotaExceeded, err, "The connection '%s' holds its maximum of %d items; delete some before adding more.",
			truncate(connectionID, 64), s.opts.MaxItemsPerConnection)
	case errors.Is(err, ErrSchemaChanged):
		return describe(ErrConflict, err, "The connection's schema changed while the item was written; send it again.")
	}
	return connectionError(err, connectionID)
}

// GetItem returns one item. fields is its $select, checked here; the
// caller renders the selection.
func (s *Service) GetItem(ctx context.Context, caller Caller, connectionID, itemID string, fields []string) (Item, error) {
	scope, err := caller.itemReadScope()
	if err != nil {
		return Item{}, err
	}
	if err := validateFields(fields, itemFields); err != nil {
		return Item{}, err
	}
	item, err := s.store.GetItem(ctx, scope, connectionID, itemID)
	if err != nil {
		return Item{}, itemError(err, connectionID, itemID)
	}
	return item, nil
}

// UpdateItem applies a PATCH: given properties replace theirs, the others
// stay; a given acl or content replaces the stored one. The result is
// checked against the active schema as a PUT would be.
func (s *Service) UpdateItem(ctx context.Context, caller Caller, connectionID, itemID string, p ItemPatch) (Item, error) {
	scope, err := caller.itemWriteScope()
	if err != nil {
		return Item{}, err
	}
	var acl []ACLEntry
	if p.SetACL {
		if acl, err = validateACL(p.ACL); err != nil {
			return Item{}, err
		}
	}
	content, err := validateContent(p.Content)
	if err != nil {
		return Item{}, err
	}
	for attempt := range 2 {
		active, err := s.activeSchema(ctx, scope, connectionID, attempt > 0)
		if err != nil {
			return Item{}, err
		}
		props, err := active.Schema.CheckProperties(p.Properties, false)
		if err != nil {
			return Item{}, err
		}
		item, err := s.store.UpdateItem(ctx, scope, connectionID, itemID, active.Version, func(it *Item) error {
			for name, v := range props {
				it.Properties[name] = v
			}
			if p.SetACL {
				it.ACL = acl
			}
			if p.SetContent {
				it.Content = content
			}
			return nil
		})
		if errors.Is(err, ErrSchemaChanged) && attempt == 0 {
			continue
		}
		if err != nil {
			return Item{}, itemError(err, connectionID, itemID)
		}
		return item, nil
	}
	return Item{}, errors.New("unreachable")
}

// DeleteItem deletes one item.
func (s *Service) DeleteItem(ctx context.Context, caller Caller, connectionID, itemID string) error {
	scope, err := caller.itemWriteScope()
	if err != nil {
		return err
	}
	if err := s.store.DeleteItem(ctx, scope, connectionID, itemID, s.opts.MaxItemsPerConnection); err != nil {
		return itemError(err, connectionID, itemID)
	}
	return nil
}

// itemFields are the properties of an item, for $select.
var itemFields = []string{FieldID, "properties", "acl", "content"}

// ListItems returns one page of a connection's items, by id: a connops
// extension for tests that check what a connector ingested.
func (s *Service) ListItems(ctx context.Context, caller Caller, connectionID string, q ListQuery) (Page[Item], error) {
	scope, err := caller.itemReadScope()
	if err != nil {
		return Page[Item]{}, err
	}
	if err := validateIDQuery(&q, itemFields, "items"); err != nil {
		return Page[Item]{}, err
	}
	page, err := s.store.ListItems(ctx, scope, connectionID, q)
	if err != nil {
		return Page[Item]{}, connectionError(err, connectionID)
	}
	return page, nil
}

// CountItems counts a connection's items matching f (by id).
func (s *Service) CountItems(ctx context.Context, caller Caller, connectionID string, f Filter) (int64, error) {
	scope, err := caller.itemReadScope()
	if err != nil {
		return 0, err
	}
	q := ListQuery{Filter: f}
	if err := validateIDQuery(&q, itemFields, "items"); err != nil {
		return 0, err
	}
	n, err := s.store.CountItems(ctx, scope, connectionID, f)
	if err != nil {
		return 0, connectionError(err, connectionID)
	}
	return n, nil
}

// AddActivities records activities on an item. Each activity is checked on
// its own; results say which were refused.
func (s *Service) AddActivities(ctx context.Context, caller Caller, connectionID, itemID string, activities []Activity) ([]ActivityResult, error) {
	scope, err := caller.itemWriteScope()
	if err != nil {
		return nil, err
	}
	if len(activities) == 0 || len(activities) > MaxActivities {
		return nil, invalidField("activities", "must hold 1 to %d activities", MaxActivities)
	}
	results, ok := checkActivities(activities, time.Now())
	if len(ok) == 0 {
		// Nothing to record, but the item must exist for the answer to mean
		// anything.
		if _, err := s.store.GetItem(ctx, scope, connectionID, itemID); err != nil {
			return nil, itemError(err, connectionID, itemID)
		}
		return results, nil
	}
	if err := s.store.AddActivities(ctx, scope, connectionID, itemID, ok); err != nil {
		return nil, itemError(err, connectionID, itemID)
	}
	return results, nil
}

// ItemQuota reports how many more items the connection may hold.
func (s *Service) ItemQuota(ctx context.Context, caller Caller, connectionID string) (ItemQuota, error) {
	scope, err := caller.readScope()
	if err != nil {
		return ItemQuota{}, err
	}
	used, err := s.store.ItemsUsed(ctx, scope, connectionID)
	if err != nil {
		return ItemQuota{}, connectionError(err, connectionID)
	}
	return ItemQuota{ItemsRemaining: max(s.opts.MaxItemsPerConnection-used, 0)}, nil
}

func itemError(err error, connectionID, itemID string) error {
	if errors.Is(err, ErrNotFound) {
		return describe(ErrNotFound, err, "The item '%s' does not exist on connection '%s'.", truncate(itemID, 128), truncate(connectionID, 64))
	}
	return err
}

// validateIDQuery checks a list over id only: $filter on id, $orderby id
// ascending, paging and $select.
func validateIDQuery(q *ListQuery, fields []string, what string) error {
	if err := validatePaging(q); err != nil {
		return err
	}
	if err := validateFields(q.Fields, fields); err != nil {
		return err
	}
	for _, k := range q.OrderBy {
		if k.Field != FieldID || k.Descending {
			return invalid("$orderby", "Query option '$orderby' on %s supports only 'id asc'.", what)
		}
	}
	q.OrderBy = []OrderKey{{Field: FieldID}}
	if q.Filter != nil {
		terms := 0
		if err := validateIDFilter(q.Filter, &terms, what); err != nil {
			return err
		}
	}
	return validateCursor(q)
}

func validateIDFilter(f Filter, terms *int, what string) error {
	*terms++
	if *terms > MaxFilterTerms {
		return invalid("$filter", "Query option '$filter' is too complex: more than %d comparisons and logical operators together.", MaxFilterTerms)
	}
	switch n := f.(type) {
	case Comparison:
		if n.Field != FieldID {
			return invalid("$filter", "Query option '$filter' on %s filters on id only.", what)
		}
		return nil
	case In:
		if n.Field != FieldID {
			return invalid("$filter", "Query option '$filter' on %s filters on id only.", what)
		}
		if len(n.Values) == 0 || len(n.Values) > MaxInValues {
			return invalid("$filter", "Query option '$filter' has an 'in' list with %d values; 1 to %d are allowed.", len(n.Values), MaxInValues)
		}
		return nil
	case And:
		if err := validateIDFilter(n.Left, terms, what); err != nil {
			return err
		}
		return validateIDFilter(n.Right, terms, what)
	case Or:
		if err := validateIDFilter(n.Left, terms, what); err != nil {
			return err
		}
		return validateIDFilter(n.Right, terms, what)
	case Not:
		return validateIDFilter(n.Operand, terms, what)
	}
	return invalid("$filter", "Query option '$filter' is not supported.")
}
