package changes

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Run makes the hub work until ctx ends: the announcer, the LISTEN loop and
// the safety poll.
func (h *Hub) Run(ctx context.Context) {
	h.mu.Lock()
	h.ctx = ctx
	h.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); h.announce(ctx) }()
	go func() { defer wg.Done(); h.poll(ctx) }()
	if h.opts.ListenURL != "" {
		wg.Add(1)
		go func() { defer wg.Done(); h.listen(ctx) }()
	}
	wg.Wait()
}

// announcement is a NOTIFY payload: the replica that sends it (which
// ignores its own) and the tenants with new changes.
type announcement struct {
	Replica string   `json:"r"`
	Tenants []string `json:"t"`
}

// maxPayload stays under PostgreSQL's 8000-byte NOTIFY payload limit.
const maxPayload = 7000

// announce sends the tenants Changed was told of, a few milliseconds' worth
// at a time.
func (h *Hub) announce(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		time.Sleep(coalesce)
		h.mu.Lock()
		tenants := make([]string, 0, len(h.pending))
		for t := range h.pending {
			tenants = append(tenants, t)
		}
		clear(h.pending)
		h.mu.Unlock()
		for _, payload := range payloads(h.replica, tenants) {
			sendCtx, cancel := context.WithTimeout(ctx, readTimeout)
			err := h.store.Notify(sendCtx, Channel, payload)
			cancel()
			if err != nil && ctx.Err() == nil {
				// Other replicas find the changes at their next safety poll.
				h.opts.Log.Warn("announcing changes", slog.String("error", err.Error()))
			}
		}
	}
}

// payloads splits tenants into announcements that fit a NOTIFY.
func payloads(replica string, tenants []string) []string {
	var out []string
	a := announcement{Replica: replica}
	size := 0
	flush := func() {
		if len(a.Tenants) > 0 {
			b, _ := json.Marshal(a)
			out = append(out, string(b))
		}
		a.Tenants, size = nil, 0
	}
	for _, t := range tenants {
		b, _ := json.Marshal(t)
		if size+len(b)+64 > maxPayload {
			flush()
		}
		a.Tenants = append(a.Tenants, t)
		size += len(b) + 1
	}
	flush()
	return out
}

// listen holds the LISTEN connection, reconnecting with back-off. After
// each (re)connect every followed tenant is read again: announcements may
// have been missed while it was down.
func (h *Hub) listen(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := h.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		h.opts.Log.Warn("change notifications interrupted; reconnecting", slog.String("error", err.Error()),
			slog.Duration("after", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (h *Hub) listenOnce(ctx context.Context) error {
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(connectCtx, h.opts.ListenURL)
	cancel()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	h.markAllDirty()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var a announcement
		if json.Unmarshal([]byte(n.Payload), &a) != nil || a.Replica == h.replica {
			continue
		}
		for _, t := range a.Tenants {
			h.heard(t)
			h.markDirty(t)
		}
	}
}

// poll is the safety net: every PollEvery it asks the log which tenants
// changed lately, tells the OnTenant hooks and reads those the hub
// follows, and forgets tenants idle past idleGrace.
func (h *Hub) poll(ctx context.Context) {
	ticker := time.NewTicker(h.opts.PollEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		// Only watchers need the poll: webhook deliveries, the hooks, claim
		// across every tenant on their own poll anyway.
		if !h.forgetIdle() {
			continue // nobody watches: nothing to catch up on
		}
		readCtx, cancel := context.WithTimeout(ctx, readTimeout)
		// The window overlaps the last poll generously: a change's time is
		// taken a little before its commit.
		tenants, err := h.store.ChangedTenants(readCtx, 2*h.opts.PollEvery+5*time.Second)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				h.opts.Log.Warn("polling the change log", slog.String("error", err.Error()))
			}
			h.markAllDirty()
			continue
		}
		for _, t := range tenants {
			h.markDirty(t)
		}
	}
}

// forgetIdle drops the tenants no one has watched for idleGrace and
// reports whether any tenant is left.
func (h *Hub) forgetIdle() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, t := range h.tenants {
		if t.watchers == 0 && !t.running && time.Since(t.idle) > idleGrace {
			delete(h.tenants, id)
		}
	}
	return len(h.tenants) > 0
}

func (h *Hub) markAllDirty() {
	h.mu.Lock()
	ids := make([]string, 0, len(h.tenants))
	for id := range h.tenants {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for _, id := range ids {
		h.markDirty(id)
	}
}
