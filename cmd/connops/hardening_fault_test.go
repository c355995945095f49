package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/connops/connops/internal/pgtest"
)

// heapSampler records the largest live heap seen while it runs, read from
// the Go runtime of this process, where the server under test runs too.
type heapSampler struct {
	stop chan struct{}
	done chan uint64
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-h.stop:
				h.done <- peak
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return h
}

// peak stops the sampler and returns the largest heap seen, in MiB.
func (h *heapSampler) peak() float64 {
	close(h.stop)
	return float64(<-h.done) / (1 << 20)
}

// TestFaultResponseBounds replays the lists that once ran a replica out of
// memory: 1,000 operations whose errors are about 25 KB each (25 MB on one
// connection), listed whole, with $select, in a batch of twenty and eight at
// once. Each answer must stay bounded; the peak heap of each is reported.
func TestFaultResponseBounds(t *testing.T) {
	dsn := pgtest.DSN(t)
	srv := startServe(t, testConfig(t, dsn, nil))
	c := newClient(srv.base, devToken(t, "contoso", "bounds"), time.Minute)
	createConnection(t, c, "bounds")
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `
		INSERT INTO operations (tenant_id, connection_id, id, status, error)
		SELECT 'contoso', 'bounds', 'op' || lpad(i::text, 4, '0'), 'failed',
		       jsonb_build_object('code', 'c', 'message', repeat(md5(i::text), 800))
		FROM generate_series(1, 1000) AS i;
		UPDATE connection_counts SET operations = 1000 WHERE connection_id = 'bounds'`); err != nil {
		t.Fatal(err)
	}
	list := "/v1.0/external/connections/bounds/operations"
	var batchItems []string
	for i := range 20 {
		batchItems = append(batchItems, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/external/connections/bounds/operations?$top=1000"}`, i))
	}
	batch := `{"requests":[` + strings.Join(batchItems, ",") + `]}`

	measure := func(name string, n int, call func() reply) {
		t.Helper()
		h := sampleHeap()
		sizes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := call()
				if r.status != http.StatusOK {
					t.Errorf("%s: %d %s", name, r.status, r.body[:min(len(r.body), 300)])
				}
				sizes[i] = len(r.body)
			}()
		}
		wg.Wait()
		peak := h.peak()
		report(t, "%s: answer=%.2f MB peak-heap=%.1f MiB", name, float64(slices.Max(sizes))/1e6, peak)
		// The bound: a page's budget and a batch's, plus the decoded test
		// client's copies, far below the 256 MiB a pod gets.
		if peak > 96 {
			t.Errorf("%s: peak heap %.1f MiB", name, peak)
		}
	}
	get := func(path string) func() reply {
		return func() reply { return c.mustDo(t, http.StatusOK, http.MethodGet, path, "", nil) }
	}
	measure("default page", 1, get(list))
	measure("$top=1000&$select=id", 1, get(list+"?$top=1000&$select=id"))
	measure("$batch of 20 $top=1000 lists", 1, func() reply {
		return c.mustDo(t, http.StatusOK, http.MethodPost, "/v1.0/$batch", batch, nil)
	})
	measure("8 concurrent $top=1000 lists", 8, get(list+"?$top=1000"))
}

// TestFaultNoisyNeighbour measures one tenant's creates alone, then while
// another tenant sends creates whose bodies hold NUL characters at 210 a
// second (the worst case), then while it keeps 16 of the most
// expensive lists it may ask for in flight. The bad creates must all be 400s
// decided before the database, every victim create must succeed, and
// readiness must stay up; the victim's throughput and p99 in each phase are
// reported.
func TestFaultNoisyNeighbour(t *testing.T) {
	dsn := pgtest.DSN(t)
	srv := startServe(t, testConfig(t, dsn, nil))
	victim := newClient(srv.base, devToken(t, "victim", "v"), time.Minute)
	attacker := newClient(srv.base, devToken(t, "attacker", "a"), time.Minute)
	createConnection(t, victim, "victimconn")
	createConnection(t, attacker, "attackconn")
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `
		INSERT INTO operations (tenant_id, connection_id, id, status)
		SELECT 'attacker', 'attackconn', 'op' || i, 'completed' FROM generate_series(1, 50000) AS i`); err != nil {
		t.Fatal(err)
	}
	const phase = 3 * time.Second
	badCreates := func(stop *atomic.Bool, odd *atomic.Int64) {
		tick := time.NewTicker(time.Second / 210)
		defer tick.Stop()
		var wg sync.WaitGroup
		for !stop.Load() {
			<-tick.C
			wg.Add(1)
			go func() {
				defer wg.Done()
				if o := post(attacker, operationsPath("attackconn"), `{"id":"x\u0000y","error":{"message":"\u0000"}}`, ""); o.status != http.StatusBadRequest {
					odd.Add(1)
				}
			}()
		}
		wg.Wait()
	}
	expensiveLists := func(stop *atomic.Bool, odd *atomic.Int64) {
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := "?$skip=10000&$orderby=status%20desc&$filter=not%20(id%20eq%20'x')"
				for !stop.Load() {
					r, err := attacker.do(http.MethodGet, operationsPath("attackconn")+q, "", nil)
					// 429 is the tenant bound at work: the attacker's share is used up.
					if err != nil || (r.status != http.StatusOK && r.status != http.StatusTooManyRequests) {
						odd.Add(1)
					}
				}
			}()
		}
		wg.Wait()
	}
	run := func(name string, attack func(*atomic.Bool, *atomic.Int64)) string {
		var stop atomic.Bool
		var odd, victimFailed atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		var lat []time.Duration
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					o := post(victim, operationsPath("victimconn"), `{"status":"inprogress"}`, "")
					if o.status != http.StatusCreated {
						victimFailed.Add(1)
						continue
					}
					mu.Lock()
					lat = append(lat, o.took())
					mu.Unlock()
				}
			}()
		}
		if attack != nil {
			wg.Add(1)
			go func() { defer wg.Done(); attack(&stop, &odd) }()
		}
		readyFailures := 0
		for deadline := time.Now().Add(phase); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if r, err := victim.do(http.MethodGet, "/readyz", "", nil); err != nil || r.status != http.StatusOK {
				readyFailures++
			}
		}
		stop.Store(true)
		wg.Wait()
		if victimFailed.Load() > 0 || readyFailures > 0 || odd.Load() > 0 {
			t.Errorf("%s: victim failures %d, readyz failures %d, unexpected attacker answers %d",
				name, victimFailed.Load(), readyFailures, odd.Load())
		}
		if len(lat) == 0 {
			t.Fatalf("%s: the victim created nothing", name)
		}
		slices.Sort(lat)
		return fmt.Sprintf("%s=%.0f/s (p99 %v)", name, float64(len(lat))/phase.Seconds(), lat[len(lat)*99/100].Round(time.Microsecond))
	}
	run("warm-up", nil)
	report(t, "victim creates: %s; %s; %s", run("alone", nil), run("bad-creates-210/s", badCreates), run("16-expensive-lists", expensiveLists))
}
