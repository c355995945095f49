// The console's pages in headless Chromium, against a real connops on a real
// PostgreSQL (started by console_test.go), in tenant contoso. Each test
// opens its own tab, and fails on any console error, uncaught exception or
// dialog in it beyond the API answers it expects (see helpers.js). The
// live updates have their own file, console-live.test.js.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  Api, apiRequests, axe, collection, desktop, docsSchema, env, eventually, item, lastSegment, launch, narrow, openPage,
  screenshot, skipReason, unexpected,
} from './helpers.js';

const xssName = '<img src=x onerror=alert(1)>';
// The connections seeded without a schema: the console's GET …/schema of
// each is a 404, the only failed load a tab may log.
const noSchema = ['xssname', 'payroll'];

describe('console', { skip: skipReason || false }, () => {
  let browser;
  const api = new Api(env.seed);
  const seeded = {};
  const tabs = [];
  let open = [];

  before(async () => {
    browser = await launch();
    await api.must('POST', '', { id: 'contosohr', name: 'Contoso HR', description: 'People directory, synced nightly' }, 201);
    let r = await api.must('PATCH', '/contosohr/schema', {
      baseType: 'microsoft.graph.externalItem',
      properties: [
        { name: 'title', type: 'String', isSearchable: true, isRetrievable: true, labels: ['title'] },
        { name: 'modified', type: 'DateTime', isQueryable: true, isRetrievable: true, labels: ['lastModifiedDateTime'] },
        { name: 'tags', type: 'StringCollection', isRefinable: true, isRetrievable: true, aliases: ['keywords'] },
      ],
    }, 202);
    seeded.schemaOperation = lastSegment(r.headers.get('Location'));
    // Operations for the filter and the paging: 12 completed, 10 in
    // progress, 6 failed, 2 unspecified (plus the registration above).
    const statuses = [...Array(12).fill('completed'), ...Array(10).fill('inprogress'), ...Array(6).fill('failed'),
      ...Array(2).fill('unspecified')];
    for (const [i, status] of statuses.entries()) {
      await api.must('POST', '/contosohr/operations', {
        id: `seed-${String(i).padStart(2, '0')}`, status,
        ...(status === 'failed' ? { error: { code: 'Throttled', message: `Batch ${i} was throttled by the source.` } } : {}),
      }, 201);
    }

    await api.must('POST', '', { id: 'xssname', name: xssName }, 201);
    await api.must('POST', '/xssname/operations', { id: 'xss-op', status: 'failed', error: { code: 'Markup', message: xssName } }, 201);

    await api.must('POST', '', { id: 'payroll', name: 'Payroll archive' }, 201);
    r = await api.must('PATCH', '/payroll/schema', {
      baseType: 'microsoft.graph.externalItem',
      properties: [{ name: 'employee', type: 'String', isSearchable: true, isRetrievable: true }],
    }, 202);
    seeded.failedOperation = lastSegment(r.headers.get('Location'));
    await api.must('PATCH', `/payroll/operations/${seeded.failedOperation}`, {
      status: 'failed',
      error: {
        code: 'InvalidSchema', message: 'The source rejected the schema: property employee holds personal data.',
        target: 'properties[0]',
        details: [{ code: 'PersonalData', message: 'employee may not be searchable.', target: 'properties[0].isSearchable' }],
      },
    }, 204, 200);

    // A ready connection with 30 items.
    await api.must('POST', '', { id: 'docs', name: 'Release notes' }, 201);
    r = await api.must('PATCH', '/docs/schema', docsSchema, 202);
    await api.must('PATCH', `/docs/operations/${lastSegment(r.headers.get('Location'))}`, { status: 'completed' }, 204, 200);
    for (let i = 0; i < 30; i++) {
      await api.must('PUT', `/docs/items/note${String(i).padStart(2, '0')}`, item(`note${String(i).padStart(2, '0')}`, i), 200);
    }
  });

  after(async () => {
    await browser?.close();
  });

  // Each test's tabs close after it, so no idle tab keeps reacting to the
  // changes later tests make; their records stay for the last test.
  afterEach(async () => {
    await Promise.all(open.map((t) => t.context.close()));
    open = [];
  });

  async function tab(viewport = desktop) {
    const t = await openPage(browser, viewport);
    tabs.push(t);
    open.push(t);
    return t;
  }

  async function signedIn(viewport = desktop, token = env.token) {
    const t = await tab(viewport);
    await t.page.goto(`${env.base}/console/#token=${token}`);
    await t.page.getByRole('heading', { level: 1 }).first().waitFor();
    return t;
  }

  async function visit(t, hash) {
    await t.page.goto(`${env.base}/console/${hash}`);
  }

  function clean(t, statuses = []) {
    assert.deepEqual(unexpected(t.record, { statuses, noSchema }), [], 'problems in the browser console');
    assert.deepEqual(t.record.dialogs, [], 'a dialog opened');
  }

  async function accessible(page) {
    assert.deepEqual(await axe(page), [], 'serious or critical axe-core violations');
  }

  const row = (page, id) => page.locator(`#connections tr[data-id="${id}"]`);
  const cell = (page, id, label) => row(page, id).locator(`td[data-label="${label}"]`);
  const fact = (page, label) => page.locator(`.facts div:has(dt:text-is("${label}")) dd`);
  const panel = (page, title) => page.locator(`section:has(h2:text-is("${title}"))`);

  test('GET / redirects to the console, served with its security headers', async () => {
    const res = await fetch(`${env.base}/`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/console/');
    const page = await fetch(`${env.base}/console/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'),
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
  });

  test('sign in with the form', async () => {
    const t = await tab();
    await t.page.goto(`${env.base}/`);
    assert.equal(new URL(t.page.url()).pathname, '/console/');
    await t.page.getByRole('heading', { name: 'Sign in to the connops console' }).waitFor();
    await accessible(t.page);
    await screenshot(t.page, 'signin');
    await t.page.getByLabel('Bearer token').fill(`Bearer ${env.token}`);
    await t.page.getByRole('button', { name: 'Sign in' }).click();
    await t.page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    const stored = await t.page.evaluate(() => ({ session: Object.keys(sessionStorage), local: localStorage.length }));
    assert.deepEqual(stored, { session: ['connops.console.token'], local: 0 });
    assert.ok(!t.record.requests.some((r) => r.url.includes(env.token)), 'the token appeared in a URL');
    await eventually(async () => assert.equal(await cell(t.page, 'docs', 'Items').innerText(), '30'));
    clean(t);
  });

  test('the sign-in link signs in and leaves no token in the address bar', async () => {
    const t = await signedIn();
    await t.page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    assert.equal(t.page.url(), `${env.base}/console/#/`);
    await eventually(async () => assert.equal(await cell(t.page, 'docs', 'Items').innerText(), '30'));
    const calls = apiRequests(t.record);
    assert.ok(calls.length > 0);
    for (const r of t.record.requests) {
      assert.ok(!r.url.includes(env.token), `the token appeared in ${r.url}`);
      assert.equal(new URL(r.url).origin, env.base, `a request left connops: ${r.url}`);
    }
    for (const r of calls) assert.equal(r.headers.authorization, `Bearer ${env.token}`);
    // A reload keeps the tab signed in (sessionStorage).
    await t.page.reload();
    await t.page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    // The link's entry in the tab's history was replaced, not kept.
    await t.page.goBack();
    assert.ok(!t.page.url().includes(env.token), `history still holds ${t.page.url()}`);
    clean(t);
  });

  test('the overview lists every connection with its state, exact schema status and counts, live', async () => {
    const t = await signedIn();
    const { page } = t;
    const want = {
      contosohr: { State: 'draft', Schema: 'registering', 'In progress': '11', Completed: '12', Failed: '6', Items: '0' },
      payroll: { State: 'draft', Schema: 'none', 'In progress': '0', Completed: '0', Failed: '1', Items: '0' },
      docs: { State: 'ready', Schema: 'active', 'In progress': '0', Completed: '1', Failed: '0', Items: '30' },
      xssname: { State: 'draft', Schema: 'none', 'In progress': '0', Completed: '0', Failed: '1', Items: '0' },
    };
    await eventually(async () => {
      for (const [id, cells] of Object.entries(want)) {
        for (const [label, text] of Object.entries(cells)) assert.equal(await cell(page, id, label).innerText(), text, `${id} ${label}`);
      }
    });
    assert.equal(await row(page, 'contosohr').getByRole('link', { name: 'Contoso HR', exact: true }).getAttribute('href'), '#/connections/contosohr');
    assert.equal(await row(page, 'contosohr').getByRole('link', { name: '6 failed operations of Contoso HR' }).getAttribute('href'),
      '#/connections/contosohr?status=failed');
    assert.match(await page.locator('.summary').innerText(), /4 connections in tenant contoso/);
    await eventually(async () => assert.equal(await page.locator('#live').innerText(), 'Live'));
    await accessible(page);
    await screenshot(page, 'overview');
    clean(t);

    const n = await signedIn(narrow);
    await eventually(async () => assert.equal(await cell(n.page, 'contosohr', 'Failed').innerText(), '6'));
    const overflow = await n.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the narrow page scrolls sideways by ${overflow}px`);
    await accessible(n.page);
    await screenshot(n.page, 'overview-narrow');
    clean(n);
  });

  test('a connection and an error named like markup render as text, and no script runs', async () => {
    const t = await signedIn();
    const { page } = t;
    const link = row(page, 'xssname').locator('a.name');
    await eventually(async () => assert.equal(await link.textContent(), xssName));
    assert.equal(await page.locator('main img').count(), 0);
    await visit(t, '#/connections/xssname');
    await eventually(async () => assert.equal(await page.locator('h1').textContent(), xssName));
    assert.match(await page.title(), /<img src=x onerror=alert\(1\)>/);
    const ops = panel(page, 'Operations').locator('tbody tr');
    await eventually(async () => assert.equal(await ops.locator('td[data-label="Error"]').textContent(), `Markup: ${xssName}`));
    const timeline = panel(page, 'Timeline').locator('ol.timeline li');
    await eventually(async () => assert.match(await timeline.first().textContent(), /Operation xss-op.*failed.*Markup: <img src=x onerror=alert\(1\)>/));
    await visit(t, '#/connections/xssname/operations/xss-op');
    await page.getByRole('heading', { name: 'Operation failed', level: 1 }).waitFor();
    assert.equal(await panel(page, 'Error').locator('dd.message').textContent(), xssName);
    assert.equal(await page.locator('main img').count(), 0);
    clean(t);
  });

  test('the policy refuses inline script on console pages', async () => {
    const t = await signedIn();
    const ran = await t.page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.inlineRan = true';
      document.head.append(s);
      return window.inlineRan === true;
    });
    assert.equal(ran, false, 'an inline script ran');
    const refused = t.record.problems.filter((p) => /Content Security Policy/.test(p.text));
    assert.equal(refused.length, 1, JSON.stringify(t.record.problems));
    t.record.problems = t.record.problems.filter((p) => !refused.includes(p));
    clean(t);
  });

  test('a connection page: schema, operations filtered by status and paged, the replayed timeline', async () => {
    const t = await signedIn();
    const { page } = t;
    await visit(t, '#/connections/contosohr');
    await page.getByRole('heading', { name: 'Contoso HR', level: 1 }).waitFor();
    const schema = page.locator('table.schema tbody tr');
    await eventually(async () => assert.equal(await schema.count(), 3));
    assert.deepEqual(await schema.nth(0).locator('th, td').allInnerTexts(),
      ['title', 'string', 'yes', 'no', 'yes', 'no', 'no', 'title', '—']);
    assert.deepEqual(await schema.nth(2).locator('th, td').allInnerTexts(),
      ['tags', 'stringCollection', 'no', 'no', 'yes', 'yes', 'no', '—', 'keywords']);
    assert.equal(await fact(page, 'Schema').innerText(), 'registering');
    assert.match(await panel(page, 'Schema').innerText(), /A registration is in progress/);

    const ops = panel(page, 'Operations').locator('tbody tr');
    await eventually(async () => assert.equal(await ops.count(), 25));
    await panel(page, 'Operations').getByRole('button', { name: 'Load more' }).click();
    await eventually(async () => assert.equal(await ops.count(), 31));

    // The timeline replays the change log from its start: the connection's
    // creation and every operation's, each dated by its commit.
    const entries = panel(page, 'Timeline').locator('ol.timeline li');
    await eventually(async () => assert.equal(await entries.count(), 32));
    assert.equal(await panel(page, 'Timeline').locator('time').count(), 32);
    assert.match(await entries.last().innerText(), /created\s+Connection/);
    assert.match(await entries.nth(30).innerText(), new RegExp(`created\\s+Operation ${seeded.schemaOperation}\\s+in progress`));
    assert.match(await entries.first().innerText(), /created\s+Operation seed-29\s+unspecified/);
    await eventually(async () => assert.match(await panel(page, 'Timeline').locator('[role=status]').innerText(), /^Live/));
    await accessible(page);
    await screenshot(page, 'connection');

    await page.getByLabel('Status').selectOption('failed');
    await eventually(async () => {
      assert.equal(await ops.count(), 6);
      assert.deepEqual([...new Set(await ops.locator('td[data-label="Status"]').allInnerTexts())], ['failed']);
    });
    assert.match(page.url(), /#\/connections\/contosohr\?status=failed$/);
    assert.match(await ops.first().innerText(), /Throttled: Batch \d+ was throttled by the source\./);
    // The filter is in the address, so the view survives a reload.
    await page.reload();
    await eventually(async () => assert.equal(await ops.count(), 6));
    assert.equal(await page.getByLabel('Status').inputValue(), 'failed');
    await page.getByLabel('Status').selectOption('unspecified');
    await eventually(async () => assert.equal(await ops.count(), 2));
    clean(t);

    const n = await signedIn(narrow);
    await visit(n, '#/connections/contosohr');
    await n.page.getByRole('heading', { name: 'Contoso HR', level: 1 }).waitFor();
    await eventually(async () => assert.equal(await panel(n.page, 'Operations').locator('tbody tr').count(), 25));
    const overflow = await n.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the narrow page scrolls sideways by ${overflow}px`);
    await accessible(n.page);
    await screenshot(n.page, 'connection-narrow', { fullPage: false });
    clean(n);
  });

  test('items page through @odata.nextLink', async () => {
    const t = await signedIn();
    const { page } = t;
    await visit(t, '#/connections/docs');
    await page.getByRole('heading', { name: 'Release notes', level: 1 }).waitFor();
    const items = panel(page, 'Items');
    const rows = items.locator('tbody tr');
    await eventually(async () => assert.equal(await rows.count(), 25));
    assert.equal(await items.locator('td[data-label="Item"]').first().innerText(), 'note00');
    assert.match(await rows.first().innerText(), /title: Release note 0/);
    assert.match(await items.innerText(), /25\+ items shown/);
    const before = apiRequests(t.record).length;
    await items.getByRole('button', { name: 'Load more' }).click();
    await eventually(async () => assert.equal(await rows.count(), 30));
    assert.equal(await items.locator('td[data-label="Item"]').last().innerText(), 'note29');
    assert.ok(await items.getByRole('button', { name: 'Load more' }).isHidden());
    // The second page is the API's nextLink, followed on this origin.
    const next = apiRequests(t.record, before).filter((r) => r.path.startsWith(`${collection}/docs/items?`) && r.path.includes('$skiptoken='));
    assert.equal(next.length, 1, JSON.stringify(next.map((r) => r.path)));
    assert.equal(await fact(page, 'Items').innerText(), '30');
    assert.equal(await fact(page, 'Schema').innerText(), 'active');
    await eventually(async () => assert.match(await panel(page, 'Last hour').locator('figure:has-text("Items written") figcaption').innerText(),
      /30 written in the last hour, this connection/));
    clean(t);
  });

  test("an operation page shows a failed operation's publicError and its timeline", async () => {
    const t = await signedIn();
    const { page } = t;
    await visit(t, '#/connections/payroll');
    const link = panel(page, 'Operations').getByRole('link', { name: seeded.failedOperation });
    await link.click();
    await page.getByRole('heading', { name: 'Operation failed', level: 1 }).waitFor();
    const fields = panel(page, 'Error').locator('dl.error-fields').first();
    assert.deepEqual(await fields.locator('dt').allInnerTexts(), ['Code', 'Message', 'Target']);
    assert.deepEqual(await fields.locator('dd').allInnerTexts(), ['InvalidSchema',
      'The source rejected the schema: property employee holds personal data.', 'properties[0]']);
    assert.deepEqual(await panel(page, 'Error').locator('tbody td').allInnerTexts(),
      ['PersonalData', 'employee may not be searchable.', 'properties[0].isSearchable']);
    const entries = panel(page, 'Timeline').locator('ol.timeline li');
    await eventually(async () => assert.equal(await entries.count(), 2));
    assert.match(await entries.nth(0).innerText(), /updated\s+failed\s+InvalidSchema: The source rejected the schema/);
    assert.match(await entries.nth(1).innerText(), /created\s+in progress/);
    await accessible(page);
    await screenshot(page, 'operation');
    clean(t);
  });

  test('keyboard: skip link, then Tab to a connection and Enter opens it', async () => {
    const t = await signedIn();
    const { page } = t;
    await page.reload(); // a fresh page load, where the focus starts at the top
    await eventually(async () => assert.equal(await cell(page, 'contosohr', 'Failed').innerText(), '6'));
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Contoso HR');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, 'solid', 'the focused link shows no outline');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Contoso HR', level: 1 }).waitFor();
    assert.match(page.url(), /#\/connections\/contosohr$/);
    clean(t);
  });

  test('a wrong token gets a clear message and stays on sign-in', async () => {
    const t = await tab();
    const { page } = t;
    await page.goto(`${env.base}/console/`);
    await page.getByLabel('Bearer token').fill('not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.locator('#signin-message .error-box');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Token refused[\s\S]*connops answered 401[\s\S]*Check that you copied the whole token/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.getByLabel('Bearer token').getAttribute('aria-invalid'), 'true');
    await accessible(page);
    await screenshot(page, 'signin-refused');
    clean(t, [401]);
  });

  test('an expired token in the link returns to sign-in and says why', async () => {
    const t = await tab();
    const { page } = t;
    await page.goto(`${env.base}/console/#token=${env.expired}`);
    const alert = page.locator('#signin-message .error-box');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Token refused[\s\S]*401[\s\S]*expired/i);
    await page.getByLabel('Bearer token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.ok(!page.url().includes(env.expired));
    clean(t, [401]);
  });

  test('a token without a read permission is told which one is missing', async () => {
    const t = await signedIn(desktop, env.noPermission);
    const { page } = t;
    const box = page.locator('.error-box');
    await box.waitFor();
    const text = await box.innerText();
    assert.match(text, /Permission missing/);
    assert.match(text, /ExternalConnection\.Read\.All/);
    clean(t, [403]);
  });

  test('a token that may not read items sees the connections, and why items are missing, without asking', async () => {
    const t = await signedIn(desktop, env.noItems);
    const { page } = t;
    await eventually(async () => assert.equal(await cell(page, 'docs', 'Completed').innerText(), '1'));
    assert.equal(await cell(page, 'docs', 'Items').innerText(), '—');
    assert.match(await cell(page, 'docs', 'Items').locator('span').getAttribute('title'), /ExternalItem\.Read\.All/);
    await visit(t, '#/connections/docs');
    await eventually(async () => assert.match(await panel(page, 'Items').innerText(), /Permission missing[\s\S]*ExternalItem\.Read\.All/));
    assert.deepEqual(apiRequests(t.record).filter((r) => r.path.includes('/items')), [], 'the console asked for items anyway');
    clean(t); // no 403 at all
  });

  test('a reader sees the same connections and items', async () => {
    const t = await signedIn(desktop, env.reader);
    await eventually(async () => {
      assert.equal(await cell(t.page, 'payroll', 'Failed').innerText(), '1');
      assert.equal(await cell(t.page, 'docs', 'Items').innerText(), '30');
    });
    clean(t);
  });

  test('another tenant sees none of it, and is shown how to create a connection', async () => {
    const t = await signedIn(desktop, env.otherTenant);
    const { page } = t;
    await page.getByRole('heading', { name: 'No connections yet' }).waitFor();
    const command = await page.locator('pre.code').innerText();
    assert.ok(command.includes(`curl -s -X POST ${env.base}${collection}`), command);
    assert.equal(await page.locator('#connections tbody tr').count(), 0);
    await accessible(page);
    await screenshot(page, 'overview-empty');
    clean(t);
  });

  test('the plots add up every connection\'s statistics, and follow the stream', async () => {
    // What the page should show: the API's statistics of each connection,
    // added up here.
    const expected = async () => {
      const sum = { started: 0, completed: 0, failed: 0, items: 0, registrations: 0 };
      for (const id of ['contosohr', 'xssname', 'payroll', 'docs']) {
        const s = (await api.must('GET', `/${id}/statistics`, undefined, 200)).json;
        const total = (xs) => xs.reduce((a, b) => a + b, 0);
        sum.started += total(s.operationsStarted);
        sum.completed += total(s.operationsCompleted);
        sum.failed += total(s.operationsFailed);
        sum.items += total(s.itemsWritten);
        sum.registrations += s.provisioningSeconds.length;
      }
      return sum;
    };
    const t = await signedIn();
    const { page } = t;
    await page.getByRole('link', { name: 'Plots' }).click();
    await page.getByRole('heading', { name: 'Plots', level: 1 }).waitFor();
    await eventually(async () => assert.equal(await page.locator('.chart canvas').count(), 3));
    const caption = (title) => page.locator(`figure:has(strong:text-is("${title}")) figcaption span`);
    let want = await expected();
    // 30 seeded operations, xss-op and three registrations.
    assert.equal(want.started, 34);
    await eventually(async () => {
      assert.equal(await caption('Operations per minute').innerText(),
        `${want.started} started, ${want.completed} completed, ${want.failed} failed in the last hour, 4 connections`);
      assert.equal(await caption('Items written per minute').innerText(), '30 written in the last hour, 4 connections');
      assert.match(await caption('Provisioning durations').innerText(), new RegExp(`^${want.registrations} recent schema registrations`));
    });
    assert.equal(want.registrations, 2);
    assert.match(await page.locator('.summary').innerText(), /The last hour of 4 connections, added up/);
    await accessible(page);
    await screenshot(page, 'plots');

    // A new operation reaches the charts through the stream.
    await api.must('POST', '/docs/operations', { id: 'plotted', status: 'inprogress' }, 201);
    want = await expected();
    await eventually(async () => assert.match(await caption('Operations per minute').innerText(), new RegExp(`^${want.started} started`)));
    clean(t);
  });

  test('sign out forgets the token', async () => {
    const t = await signedIn();
    const { page } = t;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Bearer token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    clean(t);
  });

  test('every tab stayed free of console errors and dialogs', () => {
    assert.ok(tabs.length > 10);
    for (const t of tabs) assert.deepEqual(t.record.dialogs, []);
  });
});
