// The console follows connops's event streams: pages change without a
// reload when connections and operations change, and ask connops nothing
// on a timer while the stream works. In tenant northwind, against the real
// connops console_test.go starts. Every wait is generous: nothing here
// depends on how fast the machine is, only on what the pages ask for.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  Api, apiRequests, axe, collection, env, eventually, lastSegment, launch, openPage, screenshot, settled, skipReason, sleep,
  unexpected,
} from './helpers.js';

// Connections without a schema: their GET …/schema is a 404.
const noSchema = ['archive', 'tempconn'];
// Longer than two polling periods (5 s): a page that polled would ask.
const quietMs = 11_000;

describe('console, live', { skip: skipReason || false }, () => {
  let browser;
  const api = new Api(env.liveSeed);
  let registration = '';
  let open = [];

  before(async () => {
    browser = await launch();
    await api.must('POST', '', { id: 'crm', name: 'CRM accounts' }, 201);
    const r = await api.must('PATCH', '/crm/schema', {
      baseType: 'microsoft.graph.externalItem',
      properties: [{ name: 'title', type: 'String', isSearchable: true, isRetrievable: true, labels: ['title'] }],
    }, 202);
    registration = lastSegment(r.headers.get('Location'));
    for (let i = 0; i < 3; i++) await api.must('POST', '/crm/operations', { id: `sync-${i}`, status: 'inprogress' }, 201);
    await api.must('POST', '', { id: 'archive', name: 'Archive' }, 201);
  });

  after(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    await Promise.all(open.map((t) => t.context.close()));
    open = [];
  });

  async function signedIn(hash = '#/') {
    const t = await openPage(browser);
    open.push(t);
    await t.page.goto(`${env.base}/console/#token=${env.live}`);
    await t.page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    if (hash !== '#/') await t.page.goto(`${env.base}/console/${hash}`);
    await eventually(async () => assert.equal(await t.page.locator('#live').innerText(), 'Live'));
    return t;
  }

  function clean(t) {
    assert.deepEqual(unexpected(t.record, { noSchema }), [], 'problems in the browser console');
    assert.deepEqual(t.record.dialogs, [], 'a dialog opened');
  }

  // mark waits until a tab has read what it reads, notes where its record
  // stands, and leaves a flag in the page that a reload would lose.
  async function mark(t) {
    await settled(t);
    await t.page.evaluate(() => { window.stillTheSamePage = true; });
    return t.record.requests.length;
  }

  async function notReloaded(t) {
    assert.equal(await t.page.evaluate(() => window.stillTheSamePage), true, 'the page reloaded');
  }

  const streams = (t, path) => apiRequests(t.record).filter((r) => r.stream && r.path === path);
  const paths = (rs) => rs.map((r) => `${r.method} ${r.path}${r.stream ? ' (stream)' : ''}`);
  const row = (page, id) => page.locator(`#connections tr[data-id="${id}"]`);
  const cell = (page, id, label) => row(page, id).locator(`td[data-label="${label}"]`);
  const fact = (page, label) => page.locator(`.facts div:has(dt:text-is("${label}")) dd`);
  const timeline = (page) => page.locator('section:has(h2:text-is("Timeline"))');

  test('a registration: draft to ready and inprogress to completed on three pages, without reload or polling', async () => {
    const overview = await signedIn();
    const connection = await signedIn('#/connections/crm');
    const operation = await signedIn(`#/connections/crm/operations/${registration}`);

    // Settled: everything read once.
    await eventually(async () => {
      assert.equal(await cell(overview.page, 'crm', 'State').innerText(), 'draft');
      assert.equal(await cell(overview.page, 'crm', 'Schema').innerText(), 'registering');
      assert.equal(await cell(overview.page, 'crm', 'In progress').innerText(), '4');
      assert.equal(await cell(overview.page, 'crm', 'Completed').innerText(), '0');
      assert.equal(await cell(overview.page, 'archive', 'Schema').innerText(), 'none');
      assert.equal(await fact(connection.page, 'State').innerText(), 'draft');
      assert.equal(await fact(connection.page, 'Schema').innerText(), 'registering');
      // The connection's creation and its four operations'.
      assert.equal(await timeline(connection.page).locator('li').count(), 5);
      assert.match(await timeline(connection.page).locator('[role=status]').innerText(), /^Live/);
      assert.equal(await operation.page.locator('h1').innerText(), 'Operation in progress');
      assert.equal(await timeline(operation.page).locator('li').count(), 1);
      assert.match(await timeline(operation.page).locator('[role=status]').innerText(), /^Live/);
    });
    const at = { overview: await mark(overview), connection: await mark(connection), operation: await mark(operation) };

    // Quiet: nobody changes anything, and no page asks connops anything.
    await sleep(quietMs);
    assert.deepEqual(paths(apiRequests(overview.record, at.overview)), [], 'the overview asked while nothing changed');
    assert.deepEqual(paths(apiRequests(operation.record, at.operation)), [], 'the operation page asked while nothing changed');
    // The connection's charts are read again once a minute, when the hour
    // moves on (item writes are not on the stream); nothing else is.
    const quiet = apiRequests(connection.record, at.connection);
    assert.ok(quiet.length <= 1 && quiet.every((r) => r.path === `${collection}/crm/statistics`), paths(quiet).join('\n'));

    await api.must('PATCH', `/crm/operations/${registration}`, { status: 'completed' }, 204, 200);

    await eventually(async () => {
      assert.equal(await cell(overview.page, 'crm', 'State').innerText(), 'ready');
      assert.equal(await cell(overview.page, 'crm', 'Schema').innerText(), 'active');
      assert.equal(await cell(overview.page, 'crm', 'In progress').innerText(), '3');
      assert.equal(await cell(overview.page, 'crm', 'Completed').innerText(), '1');
    });
    await eventually(async () => {
      assert.equal(await fact(connection.page, 'State').innerText(), 'ready');
      assert.equal(await fact(connection.page, 'Schema').innerText(), 'active');
      assert.equal(await connection.page.locator(`section:has(h2:text-is("Operations")) tr[data-key="${registration}"] td[data-label="Status"]`).innerText(), 'completed');
      // The two changes of the commit, both on the connection's stream
      // (the connection's also on the tab's connections stream: shown
      // once), each dated by its commit, in commit order.
      const entries = timeline(connection.page).locator('li');
      assert.equal(await entries.count(), 7);
      const newest = (await entries.allInnerTexts()).slice(0, 2);
      assert.ok(newest.some((e) => /^#\d+\s+updated\s+Connection CRM accounts\s+ready\s+\d\d:\d\d:\d\d$/.test(e)), newest.join(' | '));
      assert.ok(newest.some((e) => new RegExp(`^#\\d+\\s+updated\\s+Operation ${registration}\\s+completed\\s+\\d\\d:\\d\\d:\\d\\d`).test(e)), newest.join(' | '));
    });
    await eventually(async () => {
      assert.equal(await operation.page.locator('h1').innerText(), 'Operation completed');
      const entries = timeline(operation.page).locator('li');
      assert.equal(await entries.count(), 2);
      assert.match(await entries.nth(0).innerText(), /updated\s+completed\s+\d\d:\d\d:\d\d/);
      assert.match(await entries.nth(1).innerText(), /created\s+in progress\s+\d\d:\d\d:\d\d$/);
    });
    await sleep(1000); // let any late request show itself

    for (const t of [overview, connection, operation]) await notReloaded(t);
    // No tab opened another stream: each still reads the ones it opened.
    assert.equal(streams(overview, collection).length, 1);
    for (const t of [connection, operation]) {
      assert.equal(streams(t, collection).length, 1);
      assert.equal(streams(t, `${collection}/crm/operations`).length, 1);
      assert.equal(streams(t, `${collection}/crm/operations`)[0].headers['last-event-id'], '0');
    }
    // The overview read again only the figures of the connection that
    // changed: not the list, not the other connection.
    const after = apiRequests(overview.record, at.overview).filter((r) => r.method === 'GET');
    assert.ok(after.length > 0, 'the overview read nothing after the change');
    for (const r of after) assert.ok(r.path.startsWith(`${collection}/crm/`), `the overview read ${r.path}`);
    // The operation page drew the change from the stream's data alone.
    assert.deepEqual(paths(apiRequests(operation.record, at.operation)), []);
    // The connection page read again what the change concerns, nothing of
    // other connections.
    for (const r of apiRequests(connection.record, at.connection)) {
      assert.ok(r.path.startsWith(`${collection}/crm`), `the connection page read ${r.path}`);
    }

    await axe(operation.page).then((v) => assert.deepEqual(v, []));
    await screenshot(operation.page, 'operation-live');
    await screenshot(connection.page, 'connection-live');
    for (const t of [overview, connection, operation]) clean(t);
  });

  test('an operation failing shows its error at once', async () => {
    await api.must('POST', '/crm/operations', { id: 'import-7', status: 'inprogress' }, 201);
    const t = await signedIn('#/connections/crm/operations/import-7');
    const { page } = t;
    await eventually(async () => assert.equal(await page.locator('h1').innerText(), 'Operation in progress'));
    const at = await mark(t);
    await api.must('PATCH', '/crm/operations/import-7', {
      status: 'failed', error: { code: 'SourceUnreachable', message: 'The CRM answered 503 for 10 minutes.', target: 'crawl' },
    }, 204, 200);
    await eventually(async () => {
      assert.equal(await page.locator('h1').innerText(), 'Operation failed');
      assert.deepEqual(await page.locator('section:has(h2:text-is("Error")) dl.error-fields').first().locator('dd').allInnerTexts(),
        ['SourceUnreachable', 'The CRM answered 503 for 10 minutes.', 'crawl']);
      assert.match(await timeline(page).locator('li').first().innerText(),
        /updated\s+failed\s+SourceUnreachable: The CRM answered 503 for 10 minutes\.\s+\d\d:\d\d:\d\d/);
    });
    await notReloaded(t);
    assert.deepEqual(paths(apiRequests(t.record, at)), []);
    clean(t);
  });

  test('connections created and deleted come and go on the overview', async () => {
    const t = await signedIn();
    const { page } = t;
    await eventually(async () => assert.equal(await cell(page, 'archive', 'Schema').innerText(), 'none'));
    const at = await mark(t);
    await api.must('POST', '', { id: 'tempconn', name: 'Temporary' }, 201);
    await eventually(async () => {
      assert.equal(await cell(page, 'tempconn', 'State').innerText(), 'draft');
      assert.equal(await cell(page, 'tempconn', 'In progress').innerText(), '0');
    });
    assert.deepEqual(await page.locator('#connections tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.id)),
      ['archive', 'crm', 'tempconn']);
    assert.match(await page.locator('.summary').innerText(), /^3 connections/);
    await api.must('DELETE', '/tempconn', undefined, 202);
    await eventually(async () => assert.equal(await row(page, 'tempconn').count(), 0));
    assert.match(await page.locator('.summary').innerText(), /^2 connections/);
    await notReloaded(t);
    const asked = apiRequests(t.record, at);
    assert.ok(asked.every((r) => r.path.startsWith(`${collection}/tempconn/`)), paths(asked).join('\n'));
    clean(t);
  });
});
