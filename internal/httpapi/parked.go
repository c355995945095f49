package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// A parked wait holds its connection and little else. Held by net/http a
// wait cost about 29 KB: the serving goroutine and its stack under the
// middleware's frames, the background-read goroutine, 4 KB read and 4 + 2
// KB write buffers, the request and its headers. Parked, it keeps the
// connection, two small goroutines (the wait's and the one that sees the
// client leave) and the answer's headers so far; the bench's waiters step
// measures the difference (docs/performance.md).
//
// The answer is written by hand, as net/http would write it, with
// Connection: close: the connection left net/http when it was parked, so
// it ends with the answer, and the client opens another for its next
// request.

const (
	// parkedKey marks a request whose handler parked it: logRequests
	// leaves its line to the answer.
	parkedKey = "connops.parked"
	// lingerTimeout bounds how long a parked connection stays open after
	// its answer for the client to read it and close its side.
	lingerTimeout = 5 * time.Second
)

// parkedConn is a parked wait's connection and what its answer still
// needs from the request.
type parkedConn struct {
	conn   net.Conn
	header http.Header // set so far: request ids, preferences applied
	head   bool
	line   requestLine
}

// park takes the request's connection from net/http, if its writer lets
// it (HTTP/1.x), and starts watching for the client to leave.
func (s *server) park(c *gin.Context, w *waitRun) bool {
	if c.Request.ProtoMajor != 1 || !canHijack(c.Writer) {
		return false
	}
	// gin's Hijack, so gin knows not to write the status itself.
	conn, _, err := c.Writer.Hijack()
	if err != nil {
		return false
	}
	// From here the request's end must not end the wait; a client that
	// already left is seen by watch as its connection's end.
	w.stopGone()
	c.Set(parkedKey, true)
	w.parked = &parkedConn{conn: conn, header: c.Writer.Header().Clone(), head: c.Request.Method == http.MethodHead,
		line: s.lineOf(c, w.ids.start)}
	go w.parked.watch(w.cancel)
	return true
}

// canHijack: gin's writer claims Hijack whatever it wraps, and panics
// when what it wraps cannot.
func canHijack(w gin.ResponseWriter) bool {
	u, ok := w.(interface{ Unwrap() http.ResponseWriter })
	if !ok {
		return false
	}
	_, ok = u.Unwrap().(http.Hijacker)
	return ok
}

// watch reads the connection until the client closes it or the linger
// after the answer ends, then ends the wait if it still runs, and closes
// the connection. A client sends nothing while it waits for an answer;
// anything it does send (a pipelined request) goes unanswered, as the
// answer closes the connection.
func (p *parkedConn) watch(end func(error)) {
	buf := make([]byte, 64)
	for {
		if _, err := p.conn.Read(buf); err != nil {
			break
		}
	}
	end(errClientGone)
	_ = p.conn.Close()
}

// answerParked writes a parked wait's answer and its log line.
func (w *waitRun) answerParked(r waitResult) {
	s, p := w.s, w.parked
	defer w.end()
	status := statusClientGone
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(w.ctx, "panic while answering a parked wait", slog.Any("panic", v),
				slog.String("request_id", w.ids.request))
			_ = p.conn.Close()
			status = http.StatusInternalServerError
		}
		s.logLine(w.ctx, p.line, status)
	}()
	r, ok := w.outcome(r)
	if !ok {
		return
	}
	var body []byte
	err := r.err
	if err == nil {
		status, body, err = operationReply(p.header, w.rt, w.q, r.op)
	}
	if err != nil {
		var env errorEnvelope
		status, env = s.errorReply(w.ctx, w.rt, w.ids, err)
		body, _ = json.Marshal(env)
		p.header.Set("Content-Type", plainJSON)
		setRetryAfter(p.header, status)
	}
	if err := p.write(status, body); err != nil {
		_ = p.conn.Close()
		return
	}
	p.linger()
}

// write writes a whole HTTP/1.1 answer.
func (p *parkedConn) write(status int, body []byte) error {
	h := p.header
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Connection", "close")
	if status != http.StatusNotModified {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	if err := h.Write(&b); err != nil {
		return err
	}
	b.WriteString("\r\n")
	if !p.head && status != http.StatusNotModified {
		b.Write(body)
	}
	_ = p.conn.SetWriteDeadline(time.Now().Add(writeSlack))
	_, err := p.conn.Write(b.Bytes())
	return err
}

// linger half-closes the connection, so the client reads the answer to
// its end, and leaves watch to close it once the client closes its side.
func (p *parkedConn) linger() {
	if cw, ok := p.conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(lingerTimeout))
}
