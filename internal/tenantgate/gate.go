// Package tenantgate bounds the work one tenant may have running on the
// database at once. Without it, a few slow queries from one tenant can hold
// every connection of the pool and stall every other tenant's requests. The
// HTTP layer holds a slot for each request that works on the database
// directly; the store's write queues hold one around each statement they
// write, so creates waiting in a queue hold none.
package tenantgate

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBusy means every slot of the tenant stayed taken for MaxWait: the
// tenant should slow down (429).
var ErrBusy = errors.New("too many requests of this tenant are running at once")

// Gate holds each tenant's slots. A nil *Gate admits everything.
type Gate struct {
	limit int
	mu    sync.Mutex
	slots map[string]*tenantSlots
}

type tenantSlots struct {
	free  chan struct{}
	users int // holding or waiting; the entry goes when it drops to 0
}

// MaxWait bounds how long a request queues behind its own tenant's work
// before it is told to come back later.
const MaxWait = 5 * time.Second

// New returns a gate of limit slots a tenant; limit 0 or less returns nil,
// which admits everything.
func New(limit int) *Gate {
	if limit <= 0 {
		return nil
	}
	return &Gate{limit: limit, slots: map[string]*tenantSlots{}}
}

// Acquire waits for one of the tenant's slots (at most MaxWait, or until
// ctx ends); release gives it back. ErrBusy when none came free.
func (g *Gate) Acquire(ctx context.Context, tenant string) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	g.mu.Lock()
	t, found := g.slots[tenant]
	if !found {
		t = &tenantSlots{free: make(chan struct{}, g.limit)}
		for range g.limit {
			t.free <- struct{}{}
		}
		g.slots[tenant] = t
	}
	t.users++
	g.mu.Unlock()
	leave := func() {
		g.mu.Lock()
		if t.users--; t.users == 0 {
			delete(g.slots, tenant)
		}
		g.mu.Unlock()
	}
	wait := time.NewTimer(MaxWait)
	defer wait.Stop()
	select {
	case <-t.free:
		return func() { t.free <- struct{}{}; leave() }, nil
	case <-ctx.Done():
	case <-wait.C:
	}
	leave()
	return nil, ErrBusy
}
