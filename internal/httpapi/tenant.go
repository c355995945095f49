package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// tenantGate bounds the requests of one tenant that work on the database
// at once. Without it, a few slow queries from one tenant can hold every
// connection of the pool and stall every other tenant's requests.
type tenantGate struct {
	limit int
	mu    sync.Mutex
	slots map[string]*tenantSlots
}

type tenantSlots struct {
	free  chan struct{}
	users int // holding or waiting; the entry goes when it drops to 0
}

// maxSlotWait bounds how long a request queues behind its own tenant's
// work before it is told to come back later.
const maxSlotWait = 5 * time.Second

func newTenantGate(limit int) *tenantGate {
	if limit <= 0 {
		return nil
	}
	return &tenantGate{limit: limit, slots: map[string]*tenantSlots{}}
}

// acquire waits for one of the tenant's slots; release gives it back.
func (g *tenantGate) acquire(ctx context.Context, tenant string) (release func(), ok bool) {
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
	wait := time.NewTimer(maxSlotWait)
	defer wait.Stop()
	select {
	case <-t.free:
		return func() { t.free <- struct{}{}; leave() }, true
	case <-ctx.Done():
	case <-wait.C:
	}
	leave()
	return nil, false
}

// tenantSlot holds one of the caller's tenant slots while the request runs.
// A tenant that keeps every slot busy gets 429 for the excess, as an
// application over its request rate does; other tenants are unaffected.
func (s *server) tenantSlot(c *gin.Context) {
	if s.tenants == nil {
		return
	}
	release, ok := s.tenants.acquire(c.Request.Context(), mustCaller(c).TenantID)
	if !ok {
		c.Header("Retry-After", "1")
		respondError(c, http.StatusTooManyRequests, codeTooManyRequests,
			"Too many requests of this tenant are running at once. Retry after the delay in the Retry-After header.", "")
		return
	}
	defer release()
	c.Next()
}
