// connops's event streams, read with fetch(): EventSource cannot send an
// Authorization header. GET on the connections collection with Accept:
// text/event-stream carries every connection and operation change the token
// may see; GET on a connection's operations collection carries that
// connection's operation changes and ends after its deletion. Each event's
// id is the change's id (commit-ordered within the tenant), its type
// created, updated or deleted, its data the entity.

/**
 * SSEParser turns the text of an event stream into events, as the HTML
 * standard's "interpret an event stream" says: lines end in CRLF, LF or CR;
 * "field: value" lines, the first space after the colon dropped; comments
 * start with a colon; a blank line dispatches. An id with no data (connops
 * opens every stream so) moves lastEventID without an event; onBlock hears
 * every such block.
 */
export class SSEParser {
  constructor({ onEvent, onComment = () => {}, onRetry = () => {}, onBlock = () => {} }) {
    this.onEvent = onEvent;
    this.onComment = onComment;
    this.onRetry = onRetry;
    this.onBlock = onBlock;
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
    } else {
      this.onBlock(this.lastEventID);
    }
    this.reset();
  }
}

/**
 * changeOf reads one stream event as a change: {kind: 'change', type
 * (created, updated, deleted), seq (the change id as a number), entity
 * ('connection' or 'operation'), connectionId, data}. The entity comes from
 * @odata.type; an operation's connection from its connectionId (on the
 * connections stream) or from the stream's own connection. Anything else is
 * null.
 */
export function changeOf(ev, streamConnectionID = '') {
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return null;
  }
  if (!data || typeof data !== 'object' || typeof data.id !== 'string') return null;
  const odataType = String(data['@odata.type'] ?? '');
  let entity = '';
  if (/connectionOperation$/.test(odataType)) entity = 'operation';
  else if (/externalConnection$/.test(odataType)) entity = 'connection';
  else return null;
  const connectionId = entity === 'connection' ? data.id : String(data.connectionId ?? streamConnectionID);
  const seq = Number.parseInt(ev.id, 10);
  return { kind: 'change', type: ev.type, seq: Number.isFinite(seq) ? seq : 0, entity, connectionId, data };
}

/** Answers that mean "this server offers no stream here". */
const noStream = new Set([404, 405, 406, 501]);

/**
 * EventStream reads one stream and keeps it open: after a dropped
 * connection it reconnects with Last-Event-ID (so it misses nothing),
 * backing off and honouring retry:. A tab hidden for hideMs closes it (the
 * browser allows six connections per host over HTTP/1.1, for all tabs
 * together) and reopens it where it stopped when shown again.
 *
 * Callbacks: onOpen({resumed}) when an answer starts streaming (resumed:
 * it was asked to continue after a Last-Event-ID); onChange(change);
 * onState('connecting' | 'open' | 'reconnecting' | 'paused'); onGone() when
 * connops no longer holds the changes after Last-Event-ID (410: it then
 * starts again from now); onEnd(reason, error) when it stops for good:
 * 'unavailable' (no stream here), 'unauthorized', 'forbidden', 'notFound',
 * 'deleted' (the followed connection is gone).
 */
export class EventStream {
  constructor({
    client, path, lastEventID = '', connectionID = '', onOpen = () => {}, onChange = () => {},
    onState = () => {}, onGone = () => {}, onEnd = () => {}, hideMs = 30000, doc = globalThis.document,
  }) {
    Object.assign(this, { client, path, lastEventID, connectionID, onOpen, onChange, onState, onGone, onEnd, hideMs, doc });
    this.retryMs = 2000;
    this.failures = 0;
    this.timer = null;
    this.hideTimer = null;
    this.controller = null;
    this.running = false;
    this.paused = false;
    this.ended = false;
    this.onVisibility = () => this.visibility();
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.doc?.addEventListener?.('visibilitychange', this.onVisibility);
    this.connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.hideTimer);
    this.controller?.abort();
    this.doc?.removeEventListener?.('visibilitychange', this.onVisibility);
  }

  end(reason, err) {
    this.stop();
    this.onEnd(reason, err);
  }

  visibility() {
    clearTimeout(this.hideTimer);
    if (this.doc.visibilityState === 'hidden') {
      this.hideTimer = setTimeout(() => {
        this.paused = true;
        clearTimeout(this.timer);
        this.controller?.abort();
        this.onState('paused');
      }, this.hideMs);
    } else if (this.paused) {
      this.paused = false;
      this.connect();
    }
  }

  async connect() {
    if (!this.running || this.paused) return;
    this.onState(this.failures > 0 ? 'reconnecting' : 'connecting');
    const controller = new AbortController();
    this.controller = controller;
    const asked = this.lastEventID;
    let res;
    try {
      res = await this.client.request(this.path, {
        accept: 'text/event-stream', signal: controller.signal, queue: false,
        headers: asked ? { 'Last-Event-ID': asked } : {},
      });
    } catch (e) {
      if (controller.signal.aborted || e.name === 'AbortError') return;
      this.failed(e);
      return;
    }
    if (!(res.headers.get('Content-Type') ?? '').startsWith('text/event-stream') || !res.body) {
      // A server that ignores Accept: no stream here.
      controller.abort();
      this.end('unavailable', null);
      return;
    }
    await this.read(res.body, controller, asked !== '');
  }

  failed(e) {
    if (e.status === 401) this.end('unauthorized', e);
    else if (e.status === 403) this.end('forbidden', e);
    else if (e.status === 410) {
      // The log no longer reaches back to Last-Event-ID: start from now.
      this.lastEventID = '';
      this.onGone(e);
      this.connect();
    } else if (e.status === 404 && this.connectionID) this.end('notFound', e);
    else if (noStream.has(e.status)) this.end('unavailable', e);
    else this.reconnectLater();
  }

  // read parses the stream until it ends. It counts as open once its first
  // block is read: connops starts with an id-only block, so lastEventID is
  // then where the stream starts.
  async read(body, controller, resumed) {
    let opened = false;
    const open = () => {
      if (opened) return;
      opened = true;
      this.failures = 0;
      this.onState('open');
      this.onOpen({ resumed });
    };
    const parser = new SSEParser({
      onEvent: (ev) => {
        open();
        this.lastEventID = ev.id;
        const change = changeOf(ev, this.connectionID);
        if (!change) return;
        if (this.connectionID && change.entity === 'connection' && change.type === 'deleted') this.ended = true;
        this.onChange(change);
      },
      onBlock: (id) => {
        this.lastEventID = id;
        open();
      },
      onRetry: (ms) => { this.retryMs = Math.min(Math.max(ms, 500), 60000); },
    });
    parser.lastEventID = this.lastEventID;
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
      }
    } catch (e) {
      if (controller.signal.aborted || e.name === 'AbortError') return;
    }
    if (!this.running || this.paused) return;
    if (this.ended) this.end('deleted', null);
    else this.reconnectLater();
  }

  reconnectLater() {
    this.failures++;
    this.onState('reconnecting');
    const backoff = Math.min(this.retryMs * 2 ** Math.min(this.failures - 1, 4), 30000);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), backoff);
  }
}
