package main

import "testing"

func TestWalkerSpreadsEvenly(t *testing.T) {
	s, err := newSpread("0123456789abcdef0123456789abcdef", "t")
	if err != nil {
		t.Fatal(err)
	}
	const clients, requests = 20, 30
	next := s.walker(clients)
	seen := map[target]int{}
	for w := range clients {
		for range requests {
			got := next(w)
			if want := s.tenants[w%spreadTenants].id; got.tenant != want {
				t.Fatalf("worker %d wrote for %s, want %s", w, got.tenant, want)
			}
			seen[got]++
		}
	}
	// 20 workers, 2 per tenant, each walking its tenant's 10 connections
	// 3 times: every connection gets exactly 6 requests.
	if len(seen) != spreadTenants*spreadConnections {
		t.Fatalf("%d connections written, want %d", len(seen), spreadTenants*spreadConnections)
	}
	for tg, n := range seen {
		if n != clients*requests/len(seen) {
			t.Errorf("%v got %d requests, want %d", tg, n, clients*requests/len(seen))
		}
	}
}

func TestWalkerSingle(t *testing.T) {
	next := singleSpread(tenant{id: "a"}).walker(3)
	for w := range 3 {
		if got := next(w); got != (target{tenant: "a", connection: benchConnection}) {
			t.Fatalf("worker %d: %v", w, got)
		}
	}
}

func TestWithSuffix(t *testing.T) {
	for in, want := range map[string]string{"/tmp/a.prof": "/tmp/a-spread.prof", "cpu": "cpu-spread", "": ""} {
		if got := withSuffix(in, "-spread"); got != want {
			t.Errorf("withSuffix(%q) = %q, want %q", in, got, want)
		}
	}
}
