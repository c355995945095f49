package httpapi

import (
	"context"
	"errors"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

// A GET of an operation with Prefer: wait runs its wait on a goroutine of
// its own (waitRun.run). When the first read shows it must wait, an
// HTTP/1.x request is parked (parked.go): its connection leaves net/http,
// which frees the serving goroutine, its buffers and the middleware's
// frames, and the answer is written straight to the connection when the
// wait ends. Any other request (HTTP/2, whose streams cannot be hijacked)
// is held: the handler waits for the answer and writes it as usual.

// statusClientGone is logged for a wait whose client went away before
// its answer (nginx's "client closed request"); nothing is sent.
const statusClientGone = 499

// errClientGone ends a wait whose client closed its connection.
var errClientGone = errors.New("the client went away")

// Waits are the waits under way on one replica. Release answers them all
// at once, each with the operation as it last read it, and every later
// wait without waiting: a replica that shuts down answers its waits
// rather than holding its shutdown until they time out.
type Waits struct {
	mu      sync.Mutex
	closed  bool
	runs    map[*waitRun]struct{}
	running sync.WaitGroup
}

// NewWaits returns an empty set of waits.
func NewWaits() *Waits { return &Waits{runs: map[*waitRun]struct{}{}} }

// Release ends every wait, and every later one, at once. A wait in the
// middle of a read answers once the read is done.
func (ws *Waits) Release() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		return
	}
	ws.closed = true
	for w := range ws.runs {
		close(w.stop)
	}
}

// Wait returns once every wait has answered, or when ctx ends. A parked
// wait writes outside net/http, which http.Server.Shutdown does not see.
func (ws *Waits) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { ws.running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// add registers w, unless the waits are released.
func (ws *Waits) add(w *waitRun) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		return false
	}
	ws.runs[w] = struct{}{}
	ws.running.Add(1)
	return true
}

func (ws *Waits) remove(w *waitRun) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if _, ok := ws.runs[w]; ok {
		delete(ws.runs, w)
		ws.running.Done()
	}
}

// waitRun is one wait: what its answer needs, none of it the request's
// gin.Context, which the router reuses once a parked request's handler
// returns.
type waitRun struct {
	s   *server
	rt  route
	q   *operationRead
	ids ids
	// ctx outlives the request, for a parked wait does; the request's end
	// reaches it through stopGone until the wait is parked.
	ctx      context.Context
	cancel   context.CancelCauseFunc
	stopGone func() bool
	stop     chan struct{}   // closed by Waits.Release
	blocking chan struct{}   // the first read showed the wait must wait
	decided  chan struct{}   // closed once the handler has parked it, or not
	result   chan waitResult // a held (not parked) wait's answer
	parked   *parkedConn     // set before decided closes, when parked
}

type waitResult struct {
	op  connections.Operation
	err error
}

// waitOperation answers a GET of an operation with a wait.
func (s *server) waitOperation(c *gin.Context, rt route, q *operationRead) {
	w := s.startWait(c, rt, q)
	select {
	case r := <-w.result:
		// Answered at once: final, or already changed.
		s.answerHeld(c, w, r)
		return
	case <-w.blocking:
	}
	parked := s.park(c, w)
	close(w.decided)
	if !parked {
		s.answerHeld(c, w, <-w.result)
	}
}

func (s *server) startWait(c *gin.Context, rt route, q *operationRead) *waitRun {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(c.Request.Context()))
	w := &waitRun{s: s, rt: rt, q: q, ids: requestIDs(c), ctx: ctx, cancel: cancel, stop: make(chan struct{}),
		blocking: make(chan struct{}, 1), decided: make(chan struct{}), result: make(chan waitResult, 1)}
	w.stopGone = context.AfterFunc(c.Request.Context(), func() { cancel(errClientGone) })
	if !s.waits.add(w) {
		// Released already: one bounded read, answered without waiting.
		close(w.stop)
		q.applied = 0
	}
	q.wait.Stop = w.stop
	q.wait.Blocking = func() {
		w.blocking <- struct{}{}
		<-w.decided
	}
	go w.run(mustCaller(c), c.Param("operationId"))
	return w
}

// run waits, then hands the answer to the handler or, parked, writes it.
func (w *waitRun) run(caller connections.Caller, operationID string) {
	op, err := w.s.svc.WaitOperation(w.ctx, caller, w.q.connectionID, operationID, w.q.selects, w.q.wait)
	// w.parked is settled: WaitOperation returned after Blocking did, or
	// never called it.
	if w.parked == nil {
		w.result <- waitResult{op: op, err: err}
		return
	}
	w.answerParked(waitResult{op: op, err: err})
}

// outcome is what a finished wait answers: nothing (false) when its
// client went away.
func (w *waitRun) outcome(r waitResult) (waitResult, bool) {
	return r, r.err == nil || !errors.Is(context.Cause(w.ctx), errClientGone)
}

// end takes the finished wait out of the replica's waits.
func (w *waitRun) end() {
	w.stopGone()
	w.cancel(nil)
	w.s.waits.remove(w)
}

// answerHeld answers a wait that was not parked, through gin.
func (s *server) answerHeld(c *gin.Context, w *waitRun, r waitResult) {
	defer w.end()
	r, ok := w.outcome(r)
	if !ok {
		c.Status(statusClientGone)
		return
	}
	s.answerOperation(c, w.rt, w.q, r.op, r.err)
}
