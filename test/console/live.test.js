// Unit tests of the console's event-stream reader and its polling fallback,
// in Node (no browser): live.js is a plain ES module.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveFeed, SSEParser } from '../../internal/console/assets/live.js';

function parse(chunks) {
  const events = [];
  const comments = [];
  const retries = [];
  const p = new SSEParser({ onEvent: (e) => events.push(e), onComment: (c) => comments.push(c), onRetry: (r) => retries.push(r) });
  for (const c of chunks) p.push(c);
  return { events, comments, retries, parser: p };
}

describe('SSEParser', () => {
  test('an event with id, type and data', () => {
    const { events } = parse(['id: 7\nevent: connection.updated\ndata: {"id":"a"}\n\n']);
    assert.deepEqual(events, [{ id: '7', type: 'connection.updated', data: '{"id":"a"}' }]);
  });

  test('chunks split anywhere, CRLF and CR line ends', () => {
    const text = 'id: 1\r\nevent: operation.created\r\ndata: {"id":"o",\rdata: "connectionId":"c"}\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const { events } = parse([text.slice(0, cut), text.slice(cut)]);
      assert.deepEqual(events, [{ id: '1', type: 'operation.created', data: '{"id":"o",\n"connectionId":"c"}' }], `cut at ${cut}`);
    }
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

// fakeClient answers the stream request with a queue of answers: an error
// status, or a list of chunks to stream.
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
      return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
    },
  };
}

function until(fn, ms = 2000) {
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

describe('LiveFeed', () => {
  test('polls while the stream answers 406, and tries the stream again later', async () => {
    const client = fakeClient([{ status: 406 }, { status: 404 }]);
    const states = [];
    const feed = new LiveFeed({ client, pollMs: 10, streamRetryMs: 60, onState: (s) => states.push(s) });
    const messages = [];
    feed.subscribe((m) => messages.push(m));
    feed.start();
    await until(() => client.calls.length >= 3);
    feed.stop();
    assert.ok(messages.filter((m) => m.kind === 'refresh').length >= 3, JSON.stringify(messages));
    assert.deepEqual(states.slice(0, 2), ['connecting', 'polling']);
    assert.ok(!states.slice(1, -1).includes('connecting'), 'a retry of the stream flickered the state');
    assert.equal(client.calls[0].accept, 'text/event-stream');
    assert.equal(client.calls[0].queue, false);
  });

  test('reads events, then reconnects with Last-Event-ID', async () => {
    const client = fakeClient([
      { chunks: ['id: 41\nevent: connection.created\ndata: {"id":"c1","state":"draft"}\n\n', ': keep-alive\n\n'] },
      { chunks: ['id: 42\nevent: operation.updated\ndata: {"id":"o1","connectionId":"c1","status":"completed"}\n\n'] },
      { status: 406 },
    ]);
    const feed = new LiveFeed({ client, pollMs: 1000, onState: () => {} });
    feed.retryMs = 5;
    const messages = [];
    feed.subscribe((m) => messages.push(m));
    feed.start();
    await until(() => client.calls.length >= 3);
    feed.stop();
    assert.deepEqual(client.calls.map((c) => c.headers['Last-Event-ID'] ?? ''), ['', '41', '42']);
    const changes = messages.filter((m) => m.kind === 'change');
    assert.deepEqual(changes, [
      { kind: 'change', type: 'connection.created', id: '41', data: { id: 'c1', state: 'draft' } },
      { kind: 'change', type: 'operation.updated', id: '42', data: { id: 'o1', connectionId: 'c1', status: 'completed' } },
    ]);
    // Each (re)connection asks for a refresh first: events may have been missed.
    assert.equal(messages[0].kind, 'refresh');
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
    const client = fakeClient([{ chunks: ['data: {}\n\n'] }]);
    const errors = [];
    const feed = new LiveFeed({ client, onState: () => {}, onError: (e) => errors.push(e.message) });
    feed.retryMs = 100000;
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
