// Live updates. connops is getting an event stream: GET on the connections
// collection with Accept: text/event-stream. EventSource cannot send an
// Authorization header, so this reads the stream with fetch() and a
// ReadableStream, reconnects with Last-Event-ID, and polls every few seconds
// while the server answers the stream with 406 or 404 (as it does until the
// stream route exists).

/**
 * SSEParser turns the text of an event stream into events, as the HTML
 * standard's "interpret an event stream" says: lines end in CRLF, LF or CR;
 * "field: value" lines, the first space after the colon dropped; comments
 * start with a colon; a blank line dispatches.
 */
export class SSEParser {
  constructor({ onEvent, onComment = () => {}, onRetry = () => {} }) {
    this.onEvent = onEvent;
    this.onComment = onComment;
    this.onRetry = onRetry;
    this.buffer = '';
    this.lastEventID = '';
    this.reset();
  }

  reset() {
    this.data = '';
    this.type = '';
    this.sawData = false;
  }

  push(text) {
    this.buffer += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A lone CR at the very end may be the first half of a CRLF.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) {
      this.onComment(line.slice(1).replace(/^ /, ''));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    switch (field) {
      case 'data':
        this.data += value + '\n';
        this.sawData = true;
        break;
      case 'event':
        this.type = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventID = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.onRetry(Number(value));
        break;
      default:
        // Unknown fields are ignored.
    }
  }

  dispatch() {
    if (this.sawData) {
      this.onEvent({ id: this.lastEventID, type: this.type || 'message', data: this.data.slice(0, -1) });
    }
    this.reset();
  }
}

/** Answers that mean "this server has no stream (yet)": poll instead. */
const noStream = new Set([404, 405, 406, 501]);

/**
 * LiveFeed tells its subscribers what changed. Each subscriber gets
 * {kind: 'change', type, id, data} for every stream event (data parsed as
 * JSON), and {kind: 'refresh'} when it should reload what it shows: at every
 * (re)connection, since events may have been missed, and at every poll.
 * onState hears the mode: 'connecting', 'stream', 'polling', 'reconnecting',
 * 'stopped'.
 */
export class LiveFeed {
  constructor({
    client, pollMs = 5000, streamRetryMs = 60000, onState = () => {}, now = () => Date.now(),
    // A subscriber's error is thrown on its own, so it reaches the console
    // without stopping the feed.
    onError = (e) => setTimeout(() => { throw e; }),
  }) {
    this.onError = onError;
    this.client = client;
    this.pollMs = pollMs;
    this.streamRetryMs = streamRetryMs;
    this.onState = onState;
    this.now = now;
    this.subscribers = new Set();
    this.lastEventID = '';
    this.retryMs = 3000;
    this.failures = 0;
    this.timer = null;
    this.controller = null;
    this.stopped = true;
    this.mode = 'stopped';
  }

  subscribe(fn) {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.controller?.abort();
    this.setMode('stopped');
  }

  setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.onState(mode);
  }

  emit(message) {
    for (const fn of [...this.subscribers]) {
      try {
        fn(message);
      } catch (e) {
        // One view's failure must not stop the others from hearing.
        this.onError(e);
      }
    }
  }

  later(fn, ms) {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(fn, ms);
  }

  async connect() {
    if (this.stopped) return;
    // While polling, a new try at the stream is not news.
    if (this.mode !== 'polling') this.setMode(this.mode === 'stream' || this.mode === 'reconnecting' ? 'reconnecting' : 'connecting');
    this.controller = new AbortController();
    const headers = this.lastEventID ? { 'Last-Event-ID': this.lastEventID } : {};
    let res;
    try {
      res = await this.client.request('', { accept: 'text/event-stream', signal: this.controller.signal, headers, queue: false });
    } catch (e) {
      if (this.stopped || e.name === 'AbortError') return;
      if (e.status === 401) {
        this.stop();
        return;
      }
      if (noStream.has(e.status)) {
        this.poll();
        return;
      }
      this.reconnectLater();
      return;
    }
    if (!(res.headers.get('Content-Type') ?? '').startsWith('text/event-stream') || !res.body) {
      // An answer that is not a stream (a server that ignores Accept).
      this.controller.abort();
      this.poll();
      return;
    }
    await this.read(res.body);
  }

  async read(body) {
    this.setMode('stream');
    this.failures = 0;
    this.emit({ kind: 'refresh' });
    const parser = new SSEParser({
      onEvent: (ev) => this.event(ev),
      onRetry: (ms) => { this.retryMs = Math.min(Math.max(ms, 500), 60000); },
    });
    parser.lastEventID = this.lastEventID;
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
        this.lastEventID = parser.lastEventID;
      }
    } catch (e) {
      if (this.stopped || e.name === 'AbortError') return;
    }
    this.reconnectLater();
  }

  event(ev) {
    let data = null;
    try {
      data = JSON.parse(ev.data);
    } catch {
      data = null;
    }
    this.emit({ kind: 'change', type: ev.type, id: ev.id, data });
  }

  reconnectLater() {
    this.failures++;
    this.setMode('reconnecting');
    const backoff = Math.min(this.retryMs * 2 ** Math.min(this.failures - 1, 4), 30000);
    this.later(() => this.connect(), backoff);
  }

  // poll asks every subscriber to refresh, every pollMs while the page is
  // visible, and tries the stream again every streamRetryMs.
  poll() {
    this.setMode('polling');
    const since = this.now();
    const tick = () => {
      if (this.stopped) return;
      if (this.now() - since >= this.streamRetryMs) {
        this.connect();
        return;
      }
      if (typeof document === 'undefined' || document.visibilityState !== 'hidden') this.emit({ kind: 'refresh' });
      this.later(tick, this.pollMs);
    };
    this.later(tick, this.pollMs);
  }
}
