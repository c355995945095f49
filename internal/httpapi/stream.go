package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connops/connops/internal/connections"
)

// defaultHeartbeat keeps idle streams open through proxies that close
// connections quiet for 30 s or more.
const defaultHeartbeat = 15 * time.Second

// streamChanges answers GET on a collection with Accept: text/event-stream:
// the changes the caller may see, as Server-Sent Events, from Last-Event-ID
// on when the client sends one. Each event's id is the change's id, its
// type the change type, its data the entity as this mount renders it. The
// stream ends when the caller's token expires, when the followed
// connection is deleted, and when the client goes; a client reconnects
// with Last-Event-ID and misses nothing.
func (s *server) streamChanges(c *gin.Context, rt route, connectionID string) {
	if !rejectQueryOptions(c, "on an event stream: it carries every change the caller may see") {
		return
	}
	last, err := lastEventID(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	caller := mustCaller(c)
	ctx := c.Request.Context()
	if !caller.ExpiresAt.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, caller.ExpiresAt)
		defer cancel()
	}
	feed, err := s.svc.FollowChanges(ctx, caller, connectionID, last)
	if err != nil {
		s.writeError(c, err)
		return
	}
	defer feed.Close()

	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	c.Status(http.StatusOK)
	if c.Request.Method == http.MethodHead {
		return
	}
	heartbeat := s.cfg.StreamHeartbeat
	if heartbeat <= 0 {
		heartbeat = defaultHeartbeat
	}
	rc := http.NewResponseController(c.Writer)
	w := bufio.NewWriter(c.Writer)
	// An id with no data moves the client's Last-Event-ID to where the
	// stream starts, without an event: a reconnect before the first change
	// resumes from here, not from its own connect time.
	w.WriteString("retry: 2000\nid: " + strconv.FormatInt(feed.Start(), 10) + "\n\n")
	for {
		if w.Flush() != nil || rc.Flush() != nil {
			return
		}
		_ = rc.SetWriteDeadline(time.Now().Add(heartbeat + writeSlack))
		next, cancel := context.WithTimeout(ctx, heartbeat)
		changes, err := feed.Next(next)
		cancel()
		for _, ch := range changes {
			writeEvent(w, ch, s.changeData(rt, ch, connectionID == ""))
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			if c.Request.Context().Err() == nil {
				// The token expired: the client reconnects with a new one.
				w.WriteString(": token expired\n\n")
				_ = w.Flush()
			}
			return
		case errors.Is(err, context.DeadlineExceeded):
			w.WriteString(": keep-alive\n\n")
		default:
			// The followed connection is gone, or the database failed:
			// the client reconnects (and for a deleted connection gets 404).
			_ = w.Flush()
			if !errors.Is(err, connections.ErrNotFound) {
				s.log.WarnContext(c.Request.Context(), "event stream ended", "error", truncate(err.Error(), maxLoggedError))
			}
			return
		}
	}
}

// lastEventID reads the Last-Event-ID header: absent, or an event id this
// service sent (a non-negative integer).
func lastEventID(c *gin.Context) (*int64, error) {
	v := strings.TrimSpace(c.GetHeader("Last-Event-ID"))
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, badRequest("Last-Event-ID", "Last-Event-ID must be the id of an event this stream sent.")
	}
	return &n, nil
}

// writeEvent writes one change as an SSE event. JSON never holds a raw
// newline, so the data is one line.
func writeEvent(w *bufio.Writer, ch connections.Change, data object) {
	b, err := json.Marshal(data)
	if err != nil {
		return
	}
	w.WriteString("id: " + strconv.FormatInt(ch.ID, 10) + "\nevent: " + string(ch.Type) + "\ndata: ")
	w.Write(b)
	w.WriteString("\n\n")
}

// changeData is an event's data: the entity as the mount renders it, with
// its type and its path (@odata.id, relative to the version, as Graph's
// change notifications give it), when the change committed
// (@connops.changedAt), and on a connections stream an operation's
// connectionId.
func (s *server) changeData(rt route, ch connections.Change, withConnection bool) object {
	body := object{}.add("@connops.changedAt", ch.At.UTC().Format(time.RFC3339Nano))
	if op := ch.Operation; op != nil {
		path := rt.set + "/" + ch.ConnectionID + "/operations/" + op.ID
		if !rt.legacy {
			body = body.add("@odata.type", "#"+typeOperation)
		}
		body = append(body.add("@odata.id", path), renderOperation(rt, "", *op, nil)...)
		if withConnection {
			body = body.add("connectionId", ch.ConnectionID)
		}
		return body
	}
	typ := typeConnection
	if rt.legacy {
		typ = typeLegacyConnection
	}
	body = body.add("@odata.type", "#"+typ).add("@odata.id", rt.set+"/"+ch.ConnectionID)
	return append(body, renderConnection("", *ch.Connection, nil)...)
}
