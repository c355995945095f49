package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// readClients is the concurrency of the read steps.
const readClients = 8

// listQuery is the first page of a filtered list, as a Graph client asks it.
const listQuery = "?$filter=status%20eq%20'completed'&$top=50"

// bulkLoadSQL stores $3 operations in one statement. Ids look like version 7
// UUIDs whose time part is the row number, so they sort in insert order as
// the service's own ids do; statuses cycle so a quarter are completed.
const bulkLoadSQL = `
INSERT INTO operations (tenant_id, connection_id, id, status, error)
SELECT $1, $2,
       substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7000-8000-000000000000',
       (ARRAY['inprogress', 'completed', 'failed', 'unspecified'])[1 + i % 4]::operation_status,
       NULL
FROM (SELECT i, lpad(to_hex(i), 12, '0') AS h FROM generate_series(1, $3::bigint) AS i) s`

// loadedID is the id bulkLoadSQL gives row i.
func loadedID(i int) string {
	h := fmt.Sprintf("%012x", i)
	return h[:8] + "-" + h[8:] + "-7000-8000-000000000000"
}

// loadOperations fills connection with n operations and refreshes the
// planner's statistics, as autovacuum would have long since done in use.
func loadOperations(ctx context.Context, pool *pgxpool.Pool, tenant, connection string, n int) (time.Duration, error) {
	start := time.Now()
	if _, err := pool.Exec(ctx, bulkLoadSQL, tenant, connection, n); err != nil {
		return 0, fmt.Errorf("load %d operations: %w", n, err)
	}
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) operations"); err != nil {
		return 0, fmt.Errorf("vacuum operations: %w", err)
	}
	return time.Since(start), nil
}

// readResult is the reads measured at one store size.
type readResult struct {
	size      int
	loadTook  time.Duration
	get, list stepResult
}

func measureReads(ctx context.Context, b *bench, size int) (readResult, error) {
	res := readResult{size: size}
	connection := fmt.Sprintf("reads%d", size)
	clients := newAPIClients(b.svc.base, b.token, readClients)
	defer closeAll(clients)
	if err := clients[0].createConnection(ctx, connection); err != nil {
		return res, err
	}
	fmt.Fprintf(b.progress, "loading %d operations into %s\n", size, connection)
	var err error
	if res.loadTook, err = loadOperations(ctx, b.db.service, b.tenant, connection, size); err != nil {
		return res, err
	}
	fmt.Fprintf(b.progress, "  loaded in %s\n", res.loadTook.Round(time.Millisecond))

	base := connectionsSet + "/" + connection + "/operations"
	rngs := make([]*rand.Rand, readClients)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(size), uint64(i)))
	}
	fmt.Fprintf(b.progress, "  GET by id, %d clients\n", readClients)
	res.get, err = drive(ctx, loadSpec{
		clients: readClients, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe,
		do: func(ctx context.Context, w int) (int, error) {
			return clients[w].get(ctx, base+"/"+loadedID(1+rngs[w].IntN(size)))
		},
	})
	if err != nil {
		return res, err
	}
	fmt.Fprintf(b.progress, "  GET filtered first page, %d clients\n", readClients)
	res.list, err = drive(ctx, loadSpec{
		clients: readClients, warmup: b.opts.warmup, window: b.opts.duration, probe: b.probe,
		do: func(ctx context.Context, w int) (int, error) {
			return clients[w].get(ctx, base+listQuery)
		},
	})
	return res, err
}

func closeAll(clients []*apiClient) {
	for _, c := range clients {
		c.close()
	}
}

// printReads reports the read steps and how latency grows with the store.
func printReads(w io.Writer, results []readResult) {
	printReadsOf(w, "stored ops", "GET by id", "GET filtered first page ($top=50)", results)
}

// printReadsOf prints reads of stored things with the get and list steps
// named as given.
func printReadsOf(w io.Writer, stored, getName, listName string, results []readResult) {
	t := table{header: []string{stored, "request", "req/s", "p50 ms", "p99 ms",
		"service CPU µs/req", "DB CPU µs/req", "errors"}}
	for _, r := range results {
		for _, s := range []struct {
			name string
			res  stepResult
		}{{getName, r.get}, {listName, r.list}} {
			t.add(fmt.Sprint(r.size), s.name, fmtRate(s.res.requestRate()), fmtMS(s.res.p50), fmtMS(s.res.p99),
				fmtPer(s.res.cpu.service, s.res.requests, true), fmtPer(s.res.cpu.db, s.res.requests, s.res.cpu.dbKnown),
				fmtErrors(s.res))
		}
	}
	t.print(w)
	if len(results) < 2 {
		return
	}
	small, large := results[0], results[len(results)-1]
	fmt.Fprintf(w, "\np50 ratio %d / %d stored: %s %s, %s %s\n",
		large.size, small.size, getName, fmtRatio(ratio(large.get.p50, small.get.p50)), listName, fmtRatio(ratio(large.list.p50, small.list.p50)))
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
