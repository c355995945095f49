package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/pgtest"
)

// TestFaultStreamReconnectsDuringBurst: while writers create operations as
// fast as they can on one replica, an event-stream client drops its
// connection every few dozen events, sometimes mid-event, and reconnects
// with Last-Event-ID, alternating between two replicas. Every operation
// must reach it exactly once, in commit order.
func TestFaultStreamReconnectsDuringBurst(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := startServe(t, testConfig(t, dsn, nil))
	b := startServe(t, testConfig(t, dsn, nil))
	tok := devToken(t, "contoso", "burst")
	createConnection(t, newClient(a.base, tok, time.Minute), "burstconn")

	const writers, perWriter = 8, 250
	total := writers * perWriter
	got := make(chan sseEvent, total*2)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	var streamErr error
	reconnects := 0
	streamDone := make(chan struct{})
	// The first connect reads the stream's starting position; the burst
	// starts after it, so every create is after the position.
	opened := make(chan string, 1)
	go func() {
		defer close(streamDone)
		last, err := readStream(ctx, b.base+"/v1.0/external/connections/burstconn/operations", tok, "", 0, got)
		opened <- last
		if err != nil {
			streamErr = err
			return
		}
		bases := []string{b.base, a.base}
		for n := 1; ctx.Err() == nil; n++ {
			// Alternate replicas; drop after 20..60 events.
			var err error
			last, err = readStream(ctx, bases[n%2]+"/v1.0/external/connections/burstconn/operations", tok, last, 20+(n*17)%41, got)
			if err != nil && ctx.Err() == nil {
				streamErr = err
				return
			}
			reconnects++
		}
	}()

	if <-opened == "" {
		t.Fatal("the stream did not open")
	}
	start := time.Now()
	var wg sync.WaitGroup
	var failures sync.Map
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(a.base, tok, time.Minute)
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%03d", w, i)
				if o := post(c, operationsPath("burstconn"), `{"id":"`+id+`","status":"inprogress"}`, ""); o.status != http.StatusCreated {
					failures.Store(id, o.status)
				}
			}
		}()
	}
	wg.Wait()
	burst := time.Since(start)

	seen := map[string]int{}
	var lastID int64
	outOfOrder, duplicates := 0, 0
	var debugIDs []int64
	defer func() {
		if t.Failed() {
			t.Logf("delivered ids (first 50 gaps): %v", gaps(debugIDs))
		}
	}()
	deadline := time.After(60 * time.Second)
	for len(seen) < total {
		select {
		case ev := <-got:
			id, _ := strconv.ParseInt(ev.id, 10, 64)
			debugIDs = append(debugIDs, id)
			if id <= lastID {
				outOfOrder++
			}
			lastID = id
			if seen[ev.op]++; seen[ev.op] > 1 {
				duplicates++
			}
		case <-deadline:
			conn, err := pgx.Connect(context.Background(), dsn)
			if err == nil {
				rows, _ := conn.Query(context.Background(), `SELECT id, resource_id FROM changes WHERE tenant_id = 'contoso' ORDER BY id`)
				var missing []string
				for rows.Next() {
					var id int64
					var op string
					_ = rows.Scan(&id, &op)
					if seen[op] == 0 && op != "burstconn" {
						missing = append(missing, fmt.Sprintf("%s@%d", op, id))
					}
				}
				rows.Close()
				t.Logf("missing from the stream: %v", missing)
			}
			t.Fatalf("after 60 s the stream delivered %d of %d operations", len(seen), total)
		}
	}
	caughtUp := time.Since(start)
	stop()
	<-streamDone
	if streamErr != nil {
		t.Fatal(streamErr)
	}
	failed := 0
	failures.Range(func(any, any) bool { failed++; return true })
	report(t, "operations=%d create-failures=%d burst=%s stream-caught-up=%s reconnects=%d replicas=2 delivered=%d duplicates=%d out-of-order=%d",
		total, failed, burst.Round(time.Millisecond), caughtUp.Round(time.Millisecond), reconnects, len(seen), duplicates, outOfOrder)
	if failed > 0 || duplicates > 0 || outOfOrder > 0 {
		t.Errorf("create failures %d, duplicates %d, out of order %d: want none", failed, duplicates, outOfOrder)
	}
	if reconnects < 10 {
		t.Errorf("only %d reconnects: the test did not exercise resumption", reconnects)
	}
}

// sseEvent is one created-operation event as the fault test keeps it.
type sseEvent struct{ id, op string }

// readStream reads one connection of the stream: it resumes after last,
// sends each created event to out, and after keep events drops the
// connection (every other time in the middle of the next event's lines);
// keep 0 returns once the stream has opened. It returns the id of the last
// event it passed on, or the position the stream opened at.
func readStream(ctx context.Context, url, tok, last string, keep int, out chan<- sseEvent) (string, error) {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(connCtx, http.MethodGet, url, nil)
	if err != nil {
		return last, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "text/event-stream")
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return last, nil // a refused connect is retried as a reconnect
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return last, fmt.Errorf("stream answered %d", res.StatusCode)
	}
	sc := bufio.NewScanner(res.Body)
	var id, data string
	passed := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
			if keep > 0 && passed >= keep && passed%2 == 0 {
				return last, nil // dropped mid-event: this one was not seen
			}
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			var op struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(data), &op); err != nil {
				return last, fmt.Errorf("event data %q: %w", data, err)
			}
			out <- sseEvent{id: id, op: op.ID}
			last, data = id, ""
			if passed++; passed > keep {
				return last, nil
			}
		case line == "":
			if id != "" {
				last = id // the id-only block the stream opens with
			}
			if keep == 0 {
				return last, nil
			}
		}
	}
	return last, nil
}

func gaps(ids []int64) []string {
	var out []string
	for i := 1; i < len(ids) && len(out) < 50; i++ {
		if ids[i] != ids[i-1]+1 {
			out = append(out, fmt.Sprintf("%d->%d", ids[i-1], ids[i]))
		}
	}
	return out
}
