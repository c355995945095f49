package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sseEvent is one Server-Sent Event as a client sees it; comment holds a
// comment line instead.
type sseEvent struct {
	id, event, data, comment string
}

func (ev sseEvent) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
		t.Fatalf("event data is not JSON: %v\n%s", err, ev.data)
	}
	return m
}

// sseStream is an open event stream.
type sseStream struct {
	t      *testing.T
	res    *http.Response
	events chan sseEvent
	cancel context.CancelFunc
	done   chan struct{} // closed when the server ends the stream
}

// openStream GETs path as an event stream and fails the test unless it
// opens with 200.
func (e *env) openStream(path, tok string, header map[string]string) *sseStream {
	e.t.Helper()
	s, res := e.tryStream(path, tok, header)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("stream %s: %d", path, res.StatusCode)
	}
	return s
}

// tryStream opens a stream whatever the status; a non-200 answer's body
// is left for the caller to read.
func (e *env) tryStream(path, tok string, header map[string]string) (*sseStream, *http.Response) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	s := &sseStream{t: e.t, res: res, events: make(chan sseEvent, 1000), cancel: cancel, done: make(chan struct{})}
	e.t.Cleanup(s.close)
	if res.StatusCode == http.StatusOK {
		go s.read()
	}
	return s, res
}

func (s *sseStream) read() {
	defer close(s.done)
	sc := bufio.NewScanner(s.res.Body)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			s.events <- sseEvent{comment: strings.TrimSpace(line[1:])}
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				ev.data += value
			}
		}
	}
}

func (s *sseStream) close() {
	s.cancel()
	s.res.Body.Close()
}

// next returns the next event that carries data, skipping comments and
// id-only blocks, or fails after within.
func (s *sseStream) next(within time.Duration) sseEvent {
	s.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-s.events:
			if ev.data != "" {
				return ev
			}
		case <-s.done:
			select {
			case ev := <-s.events:
				if ev.data != "" {
					return ev
				}
				continue
			default:
			}
			s.t.Fatal("the stream ended")
		case <-deadline:
			s.t.Fatalf("no event within %s", within)
		}
	}
}

// first returns the first block (the id-only block the stream opens with).
func (s *sseStream) first(within time.Duration) sseEvent {
	s.t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(within):
		s.t.Fatalf("nothing within %s", within)
		return sseEvent{}
	}
}

// quiet fails if an event with data arrives within d.
func (s *sseStream) quiet(d time.Duration) {
	s.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-s.events:
			if ev.data != "" {
				s.t.Fatalf("unexpected event %+v", ev)
			}
		case <-deadline:
			return
		}
	}
}
