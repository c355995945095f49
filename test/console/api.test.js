// Unit tests of the console's API client, in Node with a fake fetch.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError, Client, toLocal } from '../../internal/console/assets/api.js';
import { describeToken, normalizeToken } from '../../internal/console/assets/session.js';

function fakeFetch(answers) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, init });
    const a = answers.shift();
    if (a instanceof Error) throw a;
    return new Response(a.body ?? '', { status: a.status ?? 200, headers: a.headers ?? {} });
  };
  fn.calls = calls;
  return fn;
}

describe('toLocal', () => {
  test('keeps the path from /v1.0 on, on this origin', () => {
    assert.equal(toLocal('https://public.example/v1.0/external/connections?$skiptoken=abc', '/v1.0'),
      '/v1.0/external/connections?$skiptoken=abc');
    assert.equal(toLocal('http://other:9/prefix/v1.0/external/connections/x/operations?$top=5', '/mount/v1.0'),
      '/mount/v1.0/external/connections/x/operations?$top=5');
  });

  test('refuses a link outside the API', () => {
    assert.throws(() => toLocal('https://evil.example/steal', '/v1.0'), ApiError);
  });
});

describe('Client', () => {
  test('sends the token to this origin only, and builds paths under the collection', async () => {
    const fetch = fakeFetch([{ body: '{"value":[]}' }, { body: '3', headers: { 'Content-Type': 'text/plain' } }]);
    const c = new Client({ getToken: () => 'tok', root: '/v1.0', fetchImpl: fetch });
    await c.page('?$top=50');
    assert.equal(await c.count('x/operations/$count'), 3);
    assert.deepEqual(fetch.calls.map((k) => k.url), ['/v1.0/external/connections?$top=50', '/v1.0/external/connections/x/operations/$count']);
    assert.equal(fetch.calls[0].init.headers.Authorization, 'Bearer tok');
    assert.equal(fetch.calls[1].init.headers.Accept, 'text/plain');
    assert.equal(fetch.calls[0].init.credentials, 'omit');
  });

  test('a nextLink is followed on this origin', async () => {
    const fetch = fakeFetch([{ body: '{"value":[{"id":"a"}],"@odata.nextLink":"https://elsewhere/v1.0/external/connections?$skiptoken=t"}' },
      { body: '{"value":[{"id":"b"}]}' }]);
    const c = new Client({ getToken: () => 'tok', root: '/v1.0', fetchImpl: fetch });
    const first = await c.page('');
    const second = await c.page(first.next);
    assert.deepEqual([...first.items, ...second.items].map((i) => i.id), ['a', 'b']);
    assert.equal(fetch.calls[1].url, '/v1.0/external/connections?$skiptoken=t');
  });

  test("errors carry Graph's code and message; 401 calls onUnauthorized", async () => {
    const body = JSON.stringify({ error: { code: 'InvalidAuthenticationToken', message: 'expired', innerError: { 'request-id': 'r1' } } });
    const fetch = fakeFetch([{ status: 401, body }]);
    const seen = [];
    const c = new Client({ getToken: () => 'tok', root: '/v1.0', fetchImpl: fetch, onUnauthorized: (e) => seen.push(e.code) });
    await assert.rejects(c.json('x'), (e) => e instanceof ApiError && e.status === 401 && e.message === 'expired' && e.requestID === 'r1');
    assert.deepEqual(seen, ['InvalidAuthenticationToken']);
  });

  test('optional answers null for a 404', async () => {
    const c = new Client({ getToken: () => 't', root: '/v1.0', fetchImpl: fakeFetch([{ status: 404, body: '{}' }]) });
    assert.equal(await c.optional('x/schema'), null);
  });

  test('429 is retried after Retry-After', async () => {
    const fetch = fakeFetch([{ status: 429, headers: { 'Retry-After': '1' }, body: '{}' }, { body: '{"ok":true}' }]);
    const c = new Client({ getToken: () => 't', root: '/v1.0', fetchImpl: fetch });
    const start = Date.now();
    assert.deepEqual(await c.json('x'), { ok: true });
    assert.ok(Date.now() - start >= 900);
  });

  test('no answer is an ApiError with status 0', async () => {
    const c = new Client({ getToken: () => 't', root: '/v1.0', fetchImpl: fakeFetch([new TypeError('Failed to fetch')]) });
    await assert.rejects(c.json('x'), (e) => e.status === 0 && /did not answer/.test(e.message));
  });

  test('at most four requests at once', async () => {
    let running = 0;
    let peak = 0;
    const fetchImpl = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return new Response('1');
    };
    const c = new Client({ getToken: () => 't', root: '/v1.0', fetchImpl });
    await Promise.all(Array.from({ length: 12 }, () => c.count('x/$count')));
    assert.equal(peak, 4);
  });
});

describe('session', () => {
  test('normalizeToken takes a pasted header value', () => {
    assert.equal(normalizeToken('  Bearer abc.def.\n ghi '), 'abc.def.ghi');
  });

  test('describeToken reads the claims for display', () => {
    const payload = Buffer.from(JSON.stringify({ tid: 'contoso', appid: 'app', roles: ['R'], exp: 2000000000 })).toString('base64url');
    const d = describeToken(`x.${payload}.y`);
    assert.deepEqual({ ...d, expires: d.expires.toISOString() },
      { tenant: 'contoso', app: 'app', permissions: ['R'], expires: '2033-05-18T03:33:20.000Z' });
    assert.equal(describeToken('garbage'), null);
  });
});
