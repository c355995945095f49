// Package changes tells waiting requests and event streams, on every
// replica, that changes they watch have committed. The change log in
// PostgreSQL is the truth; the hub only says when to look at it.
//
// Each replica runs one hub. A write tells its own hub (Changed) once it
// commits: the hub wakes its watchers at once and announces the tenant to
// the other replicas with one NOTIFY, sent after the commit and shared by
// every write of the last few milliseconds, so writes never take part in
// PostgreSQL's commit-time NOTIFY lock. Each hub LISTENs on one dedicated
// connection; a waiting request holds no pool connection. For every tenant
// with watchers the hub keeps a cursor in the log and, when the tenant is
// announced, reads which connections and operations changed past it, so it
// wakes exactly their watchers. A replica that dies between a commit and
// its NOTIFY, or a LISTEN connection that drops, cannot lose a wake-up for
// long: a safety poll every few seconds asks the log which tenants changed
// lately, and a reconnect re-reads every cursor.
package changes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/connops/connops/internal/connections"
)

// Channel is the NOTIFY channel of the hubs.
const Channel = "connops_changes"

// store is what the hub reads the log with and announces through.
type store interface {
	LatestChange(ctx context.Context, tenantID string) (int64, error)
	ChangeKeys(ctx context.Context, tenantID string, after int64, limit int) ([]connections.ChangeRef, error)
	ChangedTenants(ctx context.Context, within time.Duration) ([]string, error)
	Notify(ctx context.Context, channel, payload string) error
}

// Options tune a hub; zero values take the defaults.
type Options struct {
	// ListenURL is the database the hub LISTENs on: a direct connection,
	// not one through PgBouncer in transaction mode, which cannot LISTEN.
	// Empty: no LISTEN, only the safety poll (one replica needs neither).
	ListenURL string
	// PollEvery is the safety poll's period (default 2s).
	PollEvery time.Duration
	Log       *slog.Logger
}

const (
	defaultPollEvery = 2 * time.Second
	// coalesce is how long the announcer gathers tenants into one NOTIFY.
	coalesce = 2 * time.Millisecond
	// idleGrace keeps a tenant's cursor this long after its last watcher
	// leaves, so a client that waits in a loop does not cost a position
	// read on every request.
	idleGrace = 30 * time.Second
	// keysBatch bounds one read of a tenant's changes.
	keysBatch = 1000
	// readTimeout bounds each of the hub's reads.
	readTimeout = 5 * time.Second
)

// Hub is one replica's change hub.
type Hub struct {
	store   store
	opts    Options
	replica string

	mu      sync.Mutex
	tenants map[string]*tenant
	pending map[string]struct{} // to announce
	kick    chan struct{}
	ctx     context.Context // the hub's life, set by Run
	// onTenant are told of every tenant the hub hears has new changes,
	// followed or not (OnTenant).
	onTenant []func(tenantID string)
}

// tenant is the hub's state for one tenant with watchers.
type tenant struct {
	id       string
	cursor   int64
	ready    chan struct{} // closed once cursor is read
	initErr  error
	dirty    bool // announced since the last read
	running  bool // a catch-up read is under way
	idle     time.Time
	wide     map[*watcher]struct{}
	byConn   map[string]map[string]map[*watcher]struct{} // connection, operation ("" for all)
	watchers int
}

type watcher struct {
	key connections.ChangeKey
	c   chan struct{}
}

// New returns a hub over store; Run makes it work.
func New(st store, opts Options) *Hub {
	if opts.PollEvery <= 0 {
		opts.PollEvery = defaultPollEvery
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return &Hub{store: st, opts: opts, replica: hex.EncodeToString(id),
		tenants: map[string]*tenant{}, pending: map[string]struct{}{}, kick: make(chan struct{}, 1),
		ctx: context.Background()}
}

// Watch registers for changes under key committed after it returns.
func (h *Hub) Watch(ctx context.Context, key connections.ChangeKey) (connections.Watch, error) {
	w := &watcher{key: key, c: make(chan struct{}, 1)}
	h.mu.Lock()
	t, found := h.tenants[key.TenantID]
	if !found {
		t = &tenant{id: key.TenantID, ready: make(chan struct{}), wide: map[*watcher]struct{}{},
			byConn: map[string]map[string]map[*watcher]struct{}{}}
		h.tenants[key.TenantID] = t
	}
	t.add(w)
	h.mu.Unlock()
	if !found {
		h.initialize(ctx, t)
	}
	select {
	case <-t.ready:
	case <-ctx.Done():
		h.stop(t, w)
		return connections.Watch{}, ctx.Err()
	}
	if t.initErr != nil {
		h.stop(t, w)
		return connections.Watch{}, t.initErr
	}
	var once sync.Once
	return connections.Watch{C: w.c, Stop: func() { once.Do(func() { h.stop(t, w) }) }}, nil
}

// initialize reads the tenant's position: changes after it are the ones
// its watchers have not seen (they read the state after registering).
func (h *Hub) initialize(ctx context.Context, t *tenant) {
	readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
	defer cancel()
	cursor, err := h.store.LatestChange(readCtx, t.id)
	h.mu.Lock()
	defer h.mu.Unlock()
	t.cursor, t.initErr = cursor, err
	if err != nil && h.tenants[t.id] == t {
		// The next watcher tries again.
		delete(h.tenants, t.id)
	}
	close(t.ready)
	if err == nil && t.dirty {
		h.startCatchUp(t)
	}
}

func (t *tenant) add(w *watcher) {
	t.watchers++
	if w.key.ConnectionID == "" {
		t.wide[w] = struct{}{}
		return
	}
	ops := t.byConn[w.key.ConnectionID]
	if ops == nil {
		ops = map[string]map[*watcher]struct{}{}
		t.byConn[w.key.ConnectionID] = ops
	}
	set := ops[w.key.OperationID]
	if set == nil {
		set = map[*watcher]struct{}{}
		ops[w.key.OperationID] = set
	}
	set[w] = struct{}{}
}

func (h *Hub) stop(t *tenant, w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t.watchers--
	if w.key.ConnectionID == "" {
		delete(t.wide, w)
	} else if ops := t.byConn[w.key.ConnectionID]; ops != nil {
		delete(ops[w.key.OperationID], w)
		if len(ops[w.key.OperationID]) == 0 {
			delete(ops, w.key.OperationID)
		}
		if len(ops) == 0 {
			delete(t.byConn, w.key.ConnectionID)
		}
	}
	if t.watchers == 0 {
		t.idle = time.Now()
	}
}

// dispatch wakes the watchers a change concerns: those of the operation,
// of its connection and of the whole tenant; a change of the connection
// itself wakes every watcher under it. h.mu is held.
func (t *tenant) dispatch(key connections.ChangeKey) {
	if ops := t.byConn[key.ConnectionID]; ops != nil {
		if key.OperationID == "" {
			for _, set := range ops {
				wakeAll(set)
			}
		} else {
			wakeAll(ops[key.OperationID])
			wakeAll(ops[""])
		}
	}
	wakeAll(t.wide)
}

func wakeAll(set map[*watcher]struct{}) {
	for w := range set {
		select {
		case w.c <- struct{}{}:
		default: // already signalled: the watcher reads everything anyway
		}
	}
}

// OnTenant registers f to be told of every tenant the hub hears has new
// changes, whether or not anyone watches it: this replica's commits
// (Changed) and other replicas' announcements. The safety poll does not
// call it: a hook that must not miss a change polls on its own, as webhook
// deliveries do. f must not block; register before Run.
func (h *Hub) OnTenant(f func(tenantID string)) {
	h.mu.Lock()
	h.onTenant = append(h.onTenant, f)
	h.mu.Unlock()
}

// heard passes a tenant with new changes to the OnTenant hooks.
func (h *Hub) heard(tenantID string) {
	h.mu.Lock()
	hooks := h.onTenant
	h.mu.Unlock()
	for _, f := range hooks {
		f(tenantID)
	}
}

// Changed is told, after a commit, that the tenant has new changes: the
// hub's own watchers are woken at once, other replicas' after the NOTIFY.
func (h *Hub) Changed(tenantID string) {
	h.heard(tenantID)
	h.markDirty(tenantID)
	h.mu.Lock()
	h.pending[tenantID] = struct{}{}
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// markDirty schedules a read of the tenant's new changes, if the hub
// follows the tenant.
func (h *Hub) markDirty(tenantID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tenants[tenantID]
	if t == nil {
		return
	}
	t.dirty = true
	select {
	case <-t.ready:
		h.startCatchUp(t)
	default: // initialize starts it once the cursor is known
	}
}

// startCatchUp runs a catch-up read unless one is under way, which then
// reads again. h.mu is held.
func (h *Hub) startCatchUp(t *tenant) {
	if t.running {
		return
	}
	t.running = true
	go h.catchUp(t)
}

// catchUp reads the tenant's changes past its cursor until it has seen
// them all, waking their watchers.
func (h *Hub) catchUp(t *tenant) {
	for {
		h.mu.Lock()
		if !t.dirty {
			t.running = false
			h.mu.Unlock()
			return
		}
		t.dirty = false
		after, life := t.cursor, h.ctx
		h.mu.Unlock()

		ctx, cancel := context.WithTimeout(life, readTimeout)
		refs, err := h.store.ChangeKeys(ctx, t.id, after, keysBatch)
		cancel()

		h.mu.Lock()
		if err != nil {
			// The safety poll marks the tenant again.
			t.running = false
			h.mu.Unlock()
			if life.Err() == nil {
				h.opts.Log.Warn("reading the change log", slog.String("error", err.Error()))
			}
			return
		}
		for _, ref := range refs {
			t.dispatch(ref.Key)
			t.cursor = ref.ID
		}
		if len(refs) == keysBatch {
			t.dirty = true
		}
		h.mu.Unlock()
	}
}

// Watchers counts the registered watchers, for the metrics.
func (h *Hub) Watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, t := range h.tenants {
		n += t.watchers
	}
	return n
}
