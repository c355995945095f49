// Unit tests of the console's event-stream reader and live feed, in Node
// (no browser): stream.js and live.js are plain ES modules.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveFeed } from '../../internal/console/assets/live.js';
import { changeOf, EventStream, SSEParser } from '../../internal/console/assets/stream.js';

function parse(chunks) {
  const events = [];
  const comments = [];
  const retries = [];
  const blocks = [];
  const p = new SSEParser({
    onEvent: (e) => events.push(e), onComment: (c) => comments.push(c), onRetry: (r) => retries.push(r), onBlock: (id) => blocks.push(id),
  });
  for (const c of chunks) p.push(c);
  return { events, comments, retries, blocks, parser: p };
}

const connectionType = '#microsoft.graph.externalConnectors.externalConnection';
const operationType = '#microsoft.graph.externalConnectors.connectionOperation';

// What connops sends: an id-only opening block, then one event per change.
const opening = (id, retry = 2000) => `retry: ${retry}\nid: ${id}\n\n`;
const event = (id, type, data) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const conn = (id, state) => ({ '@odata.type': connectionType, '@odata.id': `external/connections/${id}`, id, state });
const op = (id, status, connectionId) => ({
  '@odata.type': operationType, '@odata.id': `external/connections/${connectionId}/operations/${id}`, id, status,
  ...(connectionId ? { connectionId } : {}),
});

describe('SSEParser', () => {
  test('an event with id, type and data', () => {
    const { events } = parse(['id: 7\nevent: updated\ndata: {"id":"a"}\n\n']);
    assert.deepEqual(events, [{ id: '7', type: 'updated', data: '{"id":"a"}' }]);
  });

  test('chunks split anywhere, CRLF and CR line ends', () => {
    const text = 'id: 1\r\nevent: created\r\ndata: {"id":"o",\rdata: "connectionId":"c"}\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const { events } = parse([text.slice(0, cut), text.slice(cut)]);
      assert.deepEqual(events, [{ id: '1', type: 'created', data: '{"id":"o",\n"connectionId":"c"}' }], `cut at ${cut}`);
    }
  });

  test("connops's opening block moves the id without an event", () => {
    const { events, blocks, retries, parser } = parse([opening(41)]);
    assert.deepEqual(events, []);
    assert.deepEqual(blocks, ['41']);
    assert.deepEqual(retries, [2000]);
    assert.equal(parser.lastEventID, '41');
  });

  test('comments (keep-alives) are not events', () => {
    const { events, comments } = parse([': keep-alive\n\n: keep-alive\n\n']);
    assert.deepEqual(events, []);
    assert.deepEqual(comments, ['keep-alive', 'keep-alive']);
  });

  test('the id carries over to later events and survives events without one', () => {
    const { events, parser } = parse(['id: 5\ndata: a\n\ndata: b\n\n']);
    assert.deepEqual(events.map((e) => e.id), ['5', '5']);
    assert.equal(parser.lastEventID, '5');
  });

  test('no data, no event; default type "message"; one leading space only', () => {
    const { events } = parse(['event: x\n\ndata:  two spaces\n\n']);
    assert.deepEqual(events, [{ id: '', type: 'message', data: ' two spaces' }]);
  });

  test('retry takes digits only; unknown fields are ignored', () => {
    const { retries, events } = parse(['retry: 1500\nretry: soon\nfoo: bar\ndata: x\n\n']);
    assert.deepEqual(retries, [1500]);
    assert.equal(events.length, 1);
  });

  test('an unfinished event is not dispatched', () => {
    const { events } = parse(['data: half']);
    assert.deepEqual(events, []);
  });
});

describe('changeOf', () => {
  test('a connection change', () => {
    assert.deepEqual(changeOf({ id: '9', type: 'updated', data: JSON.stringify(conn('hr', 'ready')) }), {
      kind: 'change', type: 'updated', seq: 9, entity: 'connection', connectionId: 'hr', data: conn('hr', 'ready'),
    });
  });

  test("an operation names its connection, or the stream's", () => {
    const onCollection = changeOf({ id: '10', type: 'created', data: JSON.stringify(op('o1', 'inprogress', 'hr')) });
    assert.equal(onCollection.entity, 'operation');
    assert.equal(onCollection.connectionId, 'hr');
    const onConnection = changeOf({ id: '11', type: 'created', data: JSON.stringify(op('o2', 'inprogress')) }, 'crm');
    assert.equal(onConnection.connectionId, 'crm');
  });

  test('anything else is no change', () => {
    for (const data of ['not json', '[]', '{"id":"x"}', '{"@odata.type":"#microsoft.graph.other","id":"x"}', '{"@odata.type":"' + operationType + '"}']) {
      assert.equal(changeOf({ id: '1', type: 'created', data }), null, data);
    }
  });
});

// fakeClient answers stream requests from a queue: an error status, or a
// list of chunks to stream.
function fakeClient(answers) {
  const calls = [];
  return {
    calls,
    async request(path, opts) {
      calls.push({ path, accept: opts.accept, headers: { ...opts.headers }, queue: opts.queue });
      const a = answers.shift() ?? { status: 406 };
      if (a.status) throw Object.assign(new Error(`HTTP ${a.status}`), { status: a.status });
      const body = new ReadableStream({
        start(c) {
          for (const chunk of a.chunks) c.enqueue(new TextEncoder().encode(chunk));
          c.close();
        },
      });
      return new Response(body, { headers: { 'Content-Type': 'text/event-stream; charset=utf-8' } });
    },
  };
}

function until(fn, ms = 3000) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      if (fn()) resolve();
      else if (Date.now() - start > ms) reject(new Error('timed out'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

describe('EventStream', () => {
  test('replays from Last-Event-ID 0, resumes where it stopped, and ends after its connection is deleted', async () => {
    const client = fakeClient([
      { chunks: [opening(0), event(3, 'created', op('o1', 'inprogress'))] },
      { chunks: [opening(3), event(4, 'updated', op('o1', 'completed')), event(5, 'deleted', conn('crm', 'ready'))] },
    ]);
    const changes = [];
    const opens = [];
    const ends = [];
    const s = new EventStream({
      client, path: 'crm/operations', lastEventID: '0', connectionID: 'crm', doc: null,
      onOpen: (o) => opens.push(o), onChange: (c) => changes.push(`${c.seq} ${c.type} ${c.entity} ${c.connectionId}`),
      onEnd: (r) => ends.push(r),
    });
    s.retryMs = 5;
    s.start();
    await until(() => ends.length > 0);
    assert.deepEqual(client.calls.map((c) => [c.path, c.headers['Last-Event-ID'], c.accept, c.queue]),
      [['crm/operations', '0', 'text/event-stream', false], ['crm/operations', '3', 'text/event-stream', false]]);
    assert.deepEqual(changes, ['3 created operation crm', '4 updated operation crm', '5 deleted connection crm']);
    assert.deepEqual(opens, [{ resumed: true }, { resumed: true }]);
    assert.deepEqual(ends, ['deleted']);
  });

  test('a 410 starts again from now, and says so', async () => {
    const client = fakeClient([{ status: 410 }, { chunks: [opening(50)] }, { status: 401 }]);
    let gone = 0;
    const ends = [];
    const s = new EventStream({ client, path: 'x/operations', lastEventID: '0', connectionID: 'x', doc: null, onGone: () => gone++, onEnd: (r) => ends.push(r) });
    s.retryMs = 5;
    s.start();
    await until(() => ends.length > 0);
    assert.equal(gone, 1);
    assert.deepEqual(client.calls.map((c) => c.headers['Last-Event-ID'] ?? ''), ['0', '', '50']);
    assert.deepEqual(ends, ['unauthorized']);
  });

  test('network failures back off and retry; 404 on a connection ends it', async () => {
    const client = fakeClient([{ status: 503 }, { status: 404 }]);
    const states = [];
    const ends = [];
    const s = new EventStream({ client, path: 'gone/operations', connectionID: 'gone', doc: null, onState: (x) => states.push(x), onEnd: (r) => ends.push(r) });
    s.retryMs = 5;
    s.start();
    await until(() => ends.length > 0);
    assert.deepEqual(states, ['connecting', 'reconnecting', 'reconnecting']);
    assert.deepEqual(ends, ['notFound']);
  });

  test('a hidden tab closes the stream, and resumes it where it stopped when shown', async () => {
    const doc = new EventTarget();
    doc.visibilityState = 'visible';
    const client = fakeClient([{ chunks: [opening(7)] }, { chunks: [opening(7)] }]);
    const states = [];
    const s = new EventStream({ client, path: '', doc, hideMs: 10, onState: (x) => states.push(x) });
    s.retryMs = 100000;
    s.start();
    await until(() => states.includes('open'));
    doc.visibilityState = 'hidden';
    doc.dispatchEvent(new Event('visibilitychange'));
    await until(() => states.includes('paused'));
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await until(() => client.calls.length === 2);
    s.stop();
    assert.equal(client.calls[1].headers['Last-Event-ID'], '7');
  });
});

describe('LiveFeed', () => {
  test('polls while the stream answers 406, and tries the stream again later', async () => {
    const client = fakeClient([{ status: 406 }, { status: 404 }]);
    const states = [];
    const feed = new LiveFeed({ client, pollMs: 10, streamRetryMs: 60, onState: (s) => states.push(s) });
    const messages = [];
    feed.subscribe((m) => messages.push(m));
    feed.start();
    assert.equal(await feed.whenOpen(), '');
    await until(() => client.calls.length >= 3);
    feed.stop();
    assert.ok(messages.filter((m) => m.kind === 'refresh').length >= 3, JSON.stringify(messages));
    assert.deepEqual(states.slice(0, 2), ['connecting', 'polling']);
    assert.ok(!states.slice(1, -1).includes('connecting'), 'a retry of the stream flickered the state');
    assert.equal(client.calls[0].accept, 'text/event-stream');
    assert.equal(client.calls[0].queue, false);
    assert.equal(client.calls[0].path, '');
  });

  test('refreshes when the stream opens, not when it resumes; hands on every change', async () => {
    const client = fakeClient([
      { chunks: [opening(40, 5), event(41, 'created', conn('c1', 'draft')), ': keep-alive\n\n'] },
      { chunks: [opening(41, 5), event(42, 'updated', op('o1', 'completed', 'c1'))] },
      { status: 401 },
    ]);
    const feed = new LiveFeed({ client, pollMs: 1000, onState: () => {} });
    const messages = [];
    feed.subscribe((m) => messages.push(m.kind === 'change' ? `${m.seq} ${m.type} ${m.entity} ${m.connectionId} ${m.data.status ?? m.data.state}` : m.kind));
    feed.start();
    assert.equal(await feed.whenOpen(), '40');
    await until(() => client.calls.length >= 3 && feed.mode === 'stopped');
    assert.deepEqual(client.calls.map((c) => c.headers['Last-Event-ID'] ?? ''), ['', '41', '42']);
    assert.deepEqual(messages, ['refresh', '41 created connection c1 draft', '42 updated operation c1 completed']);
  });

  test('stops on 401', async () => {
    const client = fakeClient([{ status: 401 }]);
    const states = [];
    const feed = new LiveFeed({ client, pollMs: 5, onState: (s) => states.push(s) });
    feed.start();
    await until(() => states.includes('stopped'));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(client.calls.length, 1);
  });

  test('a failing subscriber does not silence the others', async () => {
    const client = fakeClient([{ chunks: [opening(1), event(2, 'created', conn('c', 'draft'))] }, { status: 401 }]);
    const errors = [];
    const feed = new LiveFeed({ client, onState: () => {}, onError: (e) => errors.push(e.message) });
    const heard = [];
    feed.subscribe(() => { throw new Error('boom'); });
    feed.subscribe((m) => heard.push(m.kind));
    feed.start();
    await until(() => heard.includes('change'));
    feed.stop();
    assert.deepEqual(heard, ['refresh', 'change']);
    assert.deepEqual(errors, ['boom', 'boom']);
  });
});
