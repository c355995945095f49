package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/connops/connops/internal/auth"
	"github.com/connops/connops/internal/connections"
)

const (
	// spreadTenants and spreadConnections shape the spread create step:
	// 10 tenants with 10 connections each, 100 write queues in all.
	spreadTenants     = 10
	spreadConnections = 10
)

// tenant is one tenant a create step writes for, with the token the
// service knows it by.
type tenant struct {
	id, token string
}

// target is the connection one create goes to.
type target struct {
	tenant, connection string
}

// spread is where a create step's requests go. Worker w works for tenant
// w % len(tenants), as a separate caller holding that tenant's token would,
// and walks the tenant's connections round-robin, one per request, starting
// at connection w / len(tenants). Walking per request, rather than pinning
// each worker to one connection, keeps every connection busy at any client
// count of 10 or more while the same tenant's workers start apart; pinned
// workers would leave each queue with a single writer up to 100 clients,
// which measures only the ungrouped path. The same walk drives the
// baseline, so both sides see the same spread.
type spread struct {
	tenants     []tenant
	connections []string // every tenant has each of these
}

// singleSpread is the original create step: one tenant, one connection.
func singleSpread(t tenant) spread {
	return spread{tenants: []tenant{t}, connections: []string{benchConnection}}
}

// newSpread makes the tenants and tokens of the spread step; the tenant ids
// extend base so that -database-url runs stay apart as base does.
func newSpread(secret, base string) (spread, error) {
	s := spread{}
	for i := range spreadTenants {
		id := fmt.Sprintf("%s-spread%d", base, i)
		token, err := issueToken(secret, id)
		if err != nil {
			return s, err
		}
		s.tenants = append(s.tenants, tenant{id: id, token: token})
	}
	for i := range spreadConnections {
		s.connections = append(s.connections, fmt.Sprintf("spread%d", i))
	}
	return s, nil
}

// issueToken signs a token that may read and write all of tenant's
// connections.
func issueToken(secret, tenantID string) (string, error) {
	token, err := auth.Issue([]byte(secret), auth.DevToken{
		TenantID: tenantID, AppID: "connops-bench", Roles: []string{connections.PermReadWriteAll, connections.PermItemReadWriteAll}, TTL: 24 * time.Hour,
	}, time.Now())
	if err != nil {
		return "", fmt.Errorf("issue token for %s: %w", tenantID, err)
	}
	return token, nil
}

// targets lists every connection of the spread.
func (s spread) targets() []target {
	var out []target
	for _, t := range s.tenants {
		for _, c := range s.connections {
			out = append(out, target{tenant: t.id, connection: c})
		}
	}
	return out
}

// describe names the spread for titles and progress lines.
func (s spread) describe() string {
	if len(s.tenants) == 1 && len(s.connections) == 1 {
		return "one connection"
	}
	return fmt.Sprintf("%d connections of %d tenants", len(s.tenants)*len(s.connections), len(s.tenants))
}

// walker returns a function giving worker w's next target. Each worker
// calls it only from its own goroutine, so its slot needs no lock.
func (s spread) walker(clients int) func(w int) target {
	next := make([]int, clients)
	return func(w int) target {
		t := s.tenants[w%len(s.tenants)]
		c := s.connections[(w/len(s.tenants)+next[w])%len(s.connections)]
		next[w]++
		return target{tenant: t.id, connection: c}
	}
}

// clients gives worker w a client with the token of its tenant.
func (s spread) clients(base string, n int) []*apiClient {
	out := make([]*apiClient, n)
	for w := range out {
		out[w] = newAPIClients(base, s.tenants[w%len(s.tenants)].token, 1)[0]
	}
	return out
}

// withSuffix puts suffix before path's extension: bench.prof, "-spread"
// gives bench-spread.prof.
func withSuffix(path, suffix string) string {
	if path == "" {
		return ""
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + suffix + ext
}
