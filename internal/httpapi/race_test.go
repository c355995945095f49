package httpapi_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// TestDeleteConnectionDuringCreates deletes a connection while creates on it
// are in flight. The delete and the creates take their locks in the same
// order, so nothing deadlocks: the delete succeeds, every create is a 201
// before it or a 404 after it, and nothing of the connection remains.
func TestDeleteConnectionDuringCreates(t *testing.T) {
	e := newEnv(t)
	tok := writer(t, "contoso")
	e.createConnection(tok, "doomed")

	var stop atomic.Bool
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				r := e.post("/v1.0/external/connections/doomed/operations", tok, `{"status":"inprogress"}`)
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
				if r.status == http.StatusNotFound {
					return
				}
			}
		}()
	}
	for e.count(`SELECT count(*) FROM operations`) < 50 {
	}
	r := e.send(request{method: http.MethodDelete, path: "/v1.0/external/connections/doomed", token: tok})
	stop.Store(true)
	wg.Wait()
	if r.status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for status, n := range statuses {
		if status != http.StatusCreated && status != http.StatusNotFound {
			t.Errorf("%d creates answered %d", n, status)
		}
	}
	if n := e.count(`SELECT count(*) FROM operations`) + e.count(`SELECT count(*) FROM connection_counts`); n != 0 {
		t.Errorf("%d rows of the deleted connection remain", n)
	}
	t.Logf("create answers %v, delete %d", statuses, r.status)
}
