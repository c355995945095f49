// Shared pieces of the browser tests: the environment the Go harness sets,
// the API client the tests seed data with, pages that record what goes wrong
// in them, axe-core, and screenshots.

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const env = {
  base: process.env.CONSOLE_BASE_URL ?? '',
  artifacts: process.env.CONSOLE_ARTIFACTS ?? new URL('./artifacts', import.meta.url).pathname,
  chromium: process.env.CHROMIUM ?? '/usr/bin/chromium',
  token: process.env.CONSOLE_TOKEN ?? '',
  seed: process.env.CONSOLE_SEED_TOKEN ?? '',
  reader: process.env.CONSOLE_READER_TOKEN ?? '',
  noItems: process.env.CONSOLE_NO_ITEMS_TOKEN ?? '',
  noPermission: process.env.CONSOLE_NO_PERMISSION_TOKEN ?? '',
  otherTenant: process.env.CONSOLE_OTHER_TENANT_TOKEN ?? '',
  expired: process.env.CONSOLE_EXPIRED_TOKEN ?? '',
  live: process.env.CONSOLE_LIVE_TOKEN ?? '',
  liveSeed: process.env.CONSOLE_LIVE_SEED_TOKEN ?? '',
};

/** Why the browser tests cannot run here, or '' when they can. */
export const skipReason = env.base ? '' : 'CONSOLE_BASE_URL is not set: run `go test ./...` in test/console, which starts connops';

// The flags Chromium needs on this machine (no sandbox as root, no network
// beyond localhost). Playwright gives every launch a fresh profile
// (--user-data-dir in a new temporary folder) by itself.
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launch() {
  return chromium.launch({ executablePath: env.chromium, args: flags, timeout: 60_000 });
}

export const desktop = { width: 1280, height: 800 };
export const narrow = { width: 390, height: 844 };

export const collection = '/v1.0/external/connections';

/** Api calls connops directly, to seed data and change it under the page. */
export class Api {
  constructor(token) {
    this.token = token;
  }

  async call(method, path, body) {
    const res = await fetch(env.base + collection + path, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, json, text };
  }

  async must(method, path, body, ...want) {
    const r = await this.call(method, path, body);
    if (!want.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r;
  }
}

/**
 * openPage opens a tab that records console errors and warnings, uncaught
 * exceptions, dialogs and every request (method, URL, headers, when).
 */
export async function openPage(browser, viewport = desktop) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const record = { problems: [], dialogs: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') {
      record.problems.push({ kind: `console.${m.type()}`, text: m.text(), url: m.location()?.url ?? '' });
    }
  });
  page.on('pageerror', (e) => record.problems.push({ kind: 'pageerror', text: String(e?.stack ?? e), url: '' }));
  page.on('dialog', async (d) => {
    record.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on('request', (r) => record.requests.push({ method: r.method(), url: r.url(), headers: r.headers(), at: Date.now() }));
  // Requests under way, streams left out (they stay open by design).
  record.inflight = new Set();
  const isStream = (r) => (r.headers().accept ?? '').includes('text/event-stream');
  page.on('request', (r) => { if (!isStream(r)) record.inflight.add(r); });
  page.on('requestfinished', (r) => record.inflight.delete(r));
  page.on('requestfailed', (r) => record.inflight.delete(r));
  return { page, context, record };
}

/** settled waits until a tab has had no request under way, other than its
 * streams, for quietMs. */
export async function settled(t, quietMs = 1500, ms = 30_000) {
  const until = Date.now() + ms;
  let since = Date.now();
  let seen = t.record.requests.length;
  for (;;) {
    if (t.record.inflight.size > 0 || t.record.requests.length !== seen) {
      since = Date.now();
      seen = t.record.requests.length;
    } else if (Date.now() - since >= quietMs) {
      return;
    }
    if (Date.now() > until) throw new Error(`the tab never settled: ${t.record.inflight.size} requests under way`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** apiRequests are the recorded requests to the API, from index on, as
 * {method, path (with query), stream (asked for text/event-stream)}. */
export function apiRequests(record, from = 0) {
  return record.requests.slice(from).filter((r) => new URL(r.url).pathname.startsWith('/v1.0/')).map((r) => {
    const u = new URL(r.url);
    return { method: r.method, path: decodeURIComponent(u.pathname + u.search), stream: (r.headers.accept ?? '').includes('text/event-stream'), headers: r.headers };
  });
}

/**
 * unexpected lists the recorded problems that are not expected: the only
 * API answers a tab may log as failed loads are the 404s of GET …/schema for
 * the connections in noSchema (connops answers 404 for a connection with
 * no schema, and the console cannot know beforehand), and answers with a
 * status in statuses (a test that signs in with a bad token expects its
 * 401s).
 */
export function unexpected(record, { statuses = [], noSchema = [] } = {}) {
  return record.problems.filter((p) => {
    const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(p.text);
    if (!m || !p.url) return true;
    const status = Number(m[1]);
    const u = new URL(p.url);
    if (u.origin !== env.base || !u.pathname.startsWith('/v1.0/')) return true;
    if (statuses.includes(status)) return false;
    const schema = /^\/v1\.0\/external\/connections\/([^/]+)\/schema$/.exec(u.pathname);
    return !(status === 404 && schema && noSchema.includes(decodeURIComponent(schema[1])));
  });
}

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe runs axe-core on the page and returns its serious and critical
 * violations. The page's policy allows no inline script, and
 * page.addScriptTag({path}) adds the file's text as one (the policy refuses
 * it, rightly); evaluating the same source through the DevTools protocol
 * is not subject to the page's policy.
 */
export async function axe(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** screenshot writes a PNG of the page to the artifacts folder: all of it,
 * or with fullPage false what the window shows. */
export async function screenshot(page, name, { fullPage = true } = {}) {
  mkdirSync(env.artifacts, { recursive: true });
  const path = join(env.artifacts, `${name}.png`);
  // Let charts and late figures settle, and take the caret out of the picture.
  await page.evaluate(() => document.activeElement?.blur?.());
  await page.screenshot({ path, fullPage, animations: 'disabled' });
  return path;
}

/** lastSegment is an operation id from a Location header. */
export function lastSegment(location) {
  return decodeURIComponent(new URL(location).pathname.split('/').pop());
}

/** eventually retries fn until it stops throwing, or rethrows after ms. */
export async function eventually(fn, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** item is a valid item for the docs schema the tests register. */
export function item(id, i) {
  return {
    id,
    properties: { title: `Release note ${i}`, url: `https://example.com/notes/${id}`, 'tags@odata.type': 'Collection(String)', tags: ['notes'] },
    content: { value: `Body of note ${i}.`, type: 'text' },
    acl: [{ accessType: 'grant', type: 'everyone', value: 'everyone' }],
  };
}

export const docsSchema = {
  baseType: 'microsoft.graph.externalItem',
  properties: [
    { name: 'title', type: 'String', isSearchable: true, isRetrievable: true, labels: ['title'] },
    { name: 'url', type: 'String', isRetrievable: true, labels: ['url'] },
    { name: 'tags', type: 'StringCollection', isQueryable: true, isRetrievable: true, isRefinable: true },
  ],
};
