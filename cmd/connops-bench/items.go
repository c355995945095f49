package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The items step: item PUTs of a realistic shape through the service
// against the same upsert straight into the database, then item reads at
// two store sizes.
const (
	itemsPutConnection = "itemsput"
	// itemTemplateID is the item bulk loads copy; it sorts after the
	// loaded ids, so the first page of a list is loaded items only.
	itemTemplateID = "template"
	// itemListQuery is the first page of a list, as a test reading what a
	// connector ingested would ask it.
	itemListQuery = "?$top=50"
)

// itemSchemaJSON has 8 properties of the kinds real connectors register.
const itemSchemaJSON = `{"baseType":"microsoft.graph.externalItem","properties":[
 {"name":"title","type":"String","isQueryable":true,"isSearchable":true,"isRetrievable":true,"labels":["title"]},
 {"name":"excerpt","type":"String","isSearchable":true,"isRetrievable":true},
 {"name":"url","type":"String","isRetrievable":true,"labels":["url"]},
 {"name":"author","type":"String","isQueryable":true,"isRetrievable":true,"isRefinable":true},
 {"name":"tags","type":"StringCollection","isQueryable":true,"isRetrievable":true,"isRefinable":true},
 {"name":"lastModified","type":"DateTime","isQueryable":true,"isRetrievable":true,"labels":["lastModifiedDateTime"]},
 {"name":"priority","type":"Int64","isQueryable":true,"isRetrievable":true,"isRefinable":true},
 {"name":"score","type":"Double","isRetrievable":true}]}`

// itemBody is the PUT body of item id: the 8 properties, a 2 KB text
// content and 2 ACL entries. The content is English-like text that
// PostgreSQL's TOAST compression shrinks as it would a real page's.
type itemBody struct{ prefix, suffix string }

func newItemBody() itemBody {
	words := strings.Fields("the connector ingests pages from the wiki and posts them to search with their access " +
		"lists so that people find what they may read; each page has a title an excerpt tags and a body of plain text")
	var content strings.Builder
	rng := rand.New(rand.NewPCG(1, 2))
	for content.Len() < 2048 {
		content.WriteString(words[rng.IntN(len(words))])
		content.WriteByte(' ')
	}
	text := content.String()[:2048]
	return itemBody{
		prefix: `{"id":"`,
		suffix: `","properties":{"title":"Throttling limits for connector apps","excerpt":"What to do when an app is throttled",` +
			`"url":"https://wiki.example.com/pages/throttling","author":"Adele Vance",` +
			`"tags@odata.type":"Collection(String)","tags":["throttling","apps","limits"],` +
			`"lastModified":"2026-11-30T09:15:00Z","priority":3,"score":0.87},` +
			`"content":{"type":"text","value":"` + text + `"},` +
			`"acl":[{"accessType":"grant","type":"everyone","value":"everyone"},` +
			`{"accessType":"deny","type":"externalGroup","value":"contractors"}]}`,
	}
}

func (b itemBody) of(id string) []byte { return []byte(b.prefix + id + b.suffix) }

func (c *apiClient) putItem(ctx context.Context, connection, id string, body []byte) (int, error) {
	_, err := c.call(ctx, http.MethodPut, connectionsSet+"/"+connection+"/items/"+id, body, http.StatusOK, false)
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// readyItemsConnection creates connection, registers itemSchemaJSON and
// waits until the connection is ready for items (the bench's service
// completes schema operations at once: PROVISIONING_DELAY=0s).
func (c *apiClient) readyItemsConnection(ctx context.Context, connection string) error {
	if err := c.createConnection(ctx, connection); err != nil {
		return err
	}
	if _, err := c.call(ctx, http.MethodPatch, connectionsSet+"/"+connection+"/schema", []byte(itemSchemaJSON), http.StatusAccepted, false); err != nil {
		return fmt.Errorf("register schema of %s: %w", connection, err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		body, err := c.call(ctx, http.MethodGet, connectionsSet+"/"+connection+"?$select=state", nil, http.StatusOK, true)
		if err != nil {
			return err
		}
		if strings.Contains(string(body), `"state":"ready"`) {
			return nil
		}
		sleep(ctx, 50*time.Millisecond)
	}
	return fmt.Errorf("connection %s not ready after a minute", connection)
}

// itemRow is the stored form of one item, as the service wrote it.
type itemRow struct {
	properties, acl, contentType, content string
}

const storedItemSQL = `SELECT i.properties::text, i.acl::text, i.content_type, i.content
FROM items i JOIN connections c ON c.tenant_id = i.tenant_id AND c.uid = i.connection_uid
WHERE c.tenant_id = $1 AND c.id = $2 AND i.id = $3`

// rawUpsertSQL is the baseline: the durable single-row upsert a PUT needs,
// with nothing around it.
const rawUpsertSQL = `INSERT INTO items AS i (tenant_id, connection_uid, id, properties, acl, content_type, content)
VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)
ON CONFLICT (tenant_id, connection_uid, id) DO UPDATE SET properties = EXCLUDED.properties, acl = EXCLUDED.acl,
  content_type = EXCLUDED.content_type, content = EXCLUDED.content, version = i.version + 1, updated_at = now()
RETURNING version`

const rawItemsConnectionSQL = `INSERT INTO connections (tenant_id, id, name) VALUES ($1, $2, $2)
ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name RETURNING uid`

// runItemPuts compares item PUTs with raw upserts at every -item-clients
// count. Every PUT writes a new item (ids are per worker and step), as a
// connector's first crawl does; both sides write the same rows.
func (b *bench) runItemPuts(ctx context.Context) ([]createRow, error) {
	c := newAPIClients(b.svc.base, b.token, 1)[0]
	defer c.close()
	if err := c.readyItemsConnection(ctx, itemsPutConnection); err != nil {
		return nil, err
	}
	body := newItemBody()
	if _, err := c.putItem(ctx, itemsPutConnection, itemTemplateID, body.of(itemTemplateID)); err != nil {
		return nil, fmt.Errorf("put the template item: %w", err)
	}
	var stored itemRow
	if err := b.db.service.QueryRow(ctx, storedItemSQL, b.tenant, itemsPutConnection, itemTemplateID).
		Scan(&stored.properties, &stored.acl, &stored.contentType, &stored.content); err != nil {
		return nil, fmt.Errorf("read the template item back: %w", err)
	}
	raw, err := pgxpool.New(ctx, b.db.rawDSN)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", rawDB, err)
	}
	var rawUID int64
	err = raw.QueryRow(ctx, rawItemsConnectionSQL, b.tenant, itemsPutConnection).Scan(&rawUID)
	raw.Close()
	if err != nil {
		return nil, fmt.Errorf("baseline items connection: %w", err)
	}

	var rows []createRow
	for step, n := range b.opts.itemClients {
		row := createRow{clients: n}
		fmt.Fprintf(b.progress, "item PUTs: service, %d clients\n", n)
		clients := newAPIClients(b.svc.base, b.token, n)
		seq := make([]atomic.Int64, n)
		id := func(side string, w int) string { return fmt.Sprintf("%s%d-w%d-%d", side, step, w, seq[w].Add(1)) }
		spec := loadSpec{clients: n, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe,
			do: func(ctx context.Context, w int) (int, error) {
				item := id("s", w)
				return clients[w].putItem(ctx, itemsPutConnection, item, body.of(item))
			},
		}
		if n == slices.Max(b.opts.itemClients) {
			spec.during = func(ctx context.Context) {
				if err := <-b.profile(ctx, withSuffix(b.opts.cpuProfile, "-items")); err != nil {
					fmt.Fprintln(b.progress, "warning: CPU profile:", err)
				}
			}
		}
		row.service, err = drive(ctx, spec)
		closeAll(clients)
		if err != nil {
			return rows, err
		}
		fmt.Fprintf(b.progress, "item PUTs: raw, %d clients\n", n)
		row.raw, err = rawUpserts(ctx, b.db.rawDSN, loadSpec{clients: n, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe},
			func(ctx context.Context, pool *pgxpool.Pool, w int) error {
				var version int64
				return pool.QueryRow(ctx, rawUpsertSQL, b.tenant, rawUID, id("r", w), stored.properties, stored.acl,
					stored.contentType, stored.content).Scan(&version)
			})
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// rawUpserts runs upsert on a pool of spec.clients connections, one
// autocommit statement per call, as rawInserts does for creates.
func rawUpserts(ctx context.Context, dsn string, spec loadSpec, upsert func(context.Context, *pgxpool.Pool, int) error) (stepResult, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return stepResult{}, fmt.Errorf("parse baseline URL: %w", err)
	}
	cfg.MaxConns, cfg.MinConns = int32(spec.clients), int32(spec.clients)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return stepResult{}, fmt.Errorf("open %s: %w", rawDB, err)
	}
	defer pool.Close()
	spec.do = func(ctx context.Context, w int) (int, error) {
		if err := upsert(ctx, pool, w); err != nil {
			return 0, err
		}
		return 1, nil
	}
	return drive(ctx, spec)
}

// loadItemsSQL copies connection $2's template item into $3 items with ids
// item-00000001 on, then counts them on the connection as the service's
// writes would have.
const loadItemsSQL = `
WITH c AS (SELECT uid FROM connections WHERE tenant_id = $1 AND id = $2),
loaded AS (
  INSERT INTO items (tenant_id, connection_uid, id, properties, acl, content_type, content)
  SELECT $1, t.connection_uid, 'item-' || lpad(g.i::text, 8, '0'), t.properties, t.acl, t.content_type, t.content
  FROM items t JOIN c ON t.tenant_id = $1 AND t.connection_uid = c.uid AND t.id = '` + itemTemplateID + `',
       generate_series(1, $3::bigint) AS g(i)
  RETURNING 1
)
UPDATE connection_counts SET items = items + (SELECT count(*) FROM loaded) WHERE tenant_id = $1 AND connection_id = $2`

func loadedItemID(i int) string { return fmt.Sprintf("item-%08d", i) }

// runItemReads times GET item and the first page of the list at every
// -sizes count (-skip-large as for operations).
func (b *bench) runItemReads(ctx context.Context) ([]readResult, error) {
	body := newItemBody()
	var out []readResult
	for _, size := range b.opts.sizes {
		if b.opts.skipLarge && size >= largeSize {
			fmt.Fprintf(b.progress, "item reads: skipping %d stored items (-skip-large)\n", size)
			continue
		}
		res := readResult{size: size}
		connection := fmt.Sprintf("itemreads%d", size)
		clients := newAPIClients(b.svc.base, b.token, readClients)
		if err := clients[0].readyItemsConnection(ctx, connection); err != nil {
			closeAll(clients)
			return out, err
		}
		if _, err := clients[0].putItem(ctx, connection, itemTemplateID, body.of(itemTemplateID)); err != nil {
			closeAll(clients)
			return out, fmt.Errorf("put the template item: %w", err)
		}
		fmt.Fprintf(b.progress, "loading %d items into %s\n", size, connection)
		start := time.Now()
		if _, err := b.db.service.Exec(ctx, loadItemsSQL, b.tenant, connection, size); err != nil {
			closeAll(clients)
			return out, fmt.Errorf("load %d items: %w", size, err)
		}
		if _, err := b.db.service.Exec(ctx, "VACUUM (ANALYZE) items"); err != nil {
			closeAll(clients)
			return out, fmt.Errorf("vacuum items: %w", err)
		}
		res.loadTook = time.Since(start)
		fmt.Fprintf(b.progress, "  loaded in %s\n", res.loadTook.Round(time.Millisecond))
		base := connectionsSet + "/" + connection + "/items"
		rngs := make([]*rand.Rand, readClients)
		for i := range rngs {
			rngs[i] = rand.New(rand.NewPCG(uint64(size), uint64(i)))
		}
		var err error
		fmt.Fprintf(b.progress, "  GET item, %d clients\n", readClients)
		res.get, err = drive(ctx, loadSpec{clients: readClients, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe,
			do: func(ctx context.Context, w int) (int, error) {
				return clients[w].get(ctx, base+"/"+loadedItemID(1+rngs[w].IntN(size)))
			},
		})
		if err == nil {
			fmt.Fprintf(b.progress, "  GET first page of items, %d clients\n", readClients)
			res.list, err = drive(ctx, loadSpec{clients: readClients, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe,
				do: func(ctx context.Context, w int) (int, error) {
					return clients[w].get(ctx, base+itemListQuery)
				},
			})
		}
		closeAll(clients)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}
