// The console in headless Chromium, against a real connops on a real
// PostgreSQL (started by console_test.go). Each test opens its own tab,
// and fails on any console error, uncaught exception or dialog in it
// beyond the API misses that are expected today (see helpers.js).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Api, axe, collection, desktop, env, lastSegment, launch, narrow, openPage, screenshot, skipReason, unexpected,
} from './helpers.js';

const xssName = '<img src=x onerror=alert(1)>';

/** eventually retries fn until it stops throwing, or rethrows after ms. */
async function eventually(fn, ms = 15_000) {
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

describe('console', { skip: skipReason || false }, () => {
  let browser;
  const api = new Api(env.token);
  const seeded = {};
  const tabs = [];

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
  });

  after(async () => {
    await browser?.close();
  });

  async function tab(viewport = desktop) {
    const t = await openPage(browser, viewport);
    tabs.push(t);
    return t;
  }

  async function signedIn(viewport = desktop, token = env.token) {
    const t = await tab(viewport);
    await t.page.goto(`${env.base}/console/#token=${token}`);
    await t.page.getByRole('heading', { level: 1 }).first().waitFor();
    return t;
  }

  function clean(t, alsoAllowed = []) {
    assert.deepEqual(unexpected(t.record, alsoAllowed), [], 'problems in the browser console');
    assert.deepEqual(t.record.dialogs, [], 'a dialog opened');
  }

  async function accessible(page) {
    assert.deepEqual(await axe(page), [], 'serious or critical axe-core violations');
  }

  const row = (page, id) => page.locator(`#connections tr[data-id="${id}"]`);
  const cell = (page, id, label) => row(page, id).locator(`td[data-label="${label}"]`);

  test('GET / redirects to the console, served with its security headers', async () => {
    const res = await fetch(`${env.base}/`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/console/');
    const page = await fetch(`${env.base}/console/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy'), /default-src 'self'; script-src 'self'; style-src 'self'/);
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
    clean(t);
  });

  test('the sign-in link signs in and leaves no token in the address bar', async () => {
    const t = await signedIn();
    await t.page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    assert.equal(t.page.url(), `${env.base}/console/#/`);
    const apiCalls = t.record.requests.filter((r) => new URL(r.url).pathname.startsWith('/v1.0/'));
    assert.ok(apiCalls.length > 0);
    for (const r of t.record.requests) {
      assert.ok(!r.url.includes(env.token), `the token appeared in ${r.url}`);
      assert.equal(new URL(r.url).origin, env.base, `a request left connops: ${r.url}`);
    }
    for (const r of apiCalls) assert.equal(r.headers.authorization, `Bearer ${env.token}`);
    // A reload keeps the tab signed in (sessionStorage).
    await t.page.reload();
    await t.page.getByRole('heading', { name: 'Connections', level: 1 }).waitFor();
    // The link's entry in the tab's history was replaced, not kept.
    await t.page.goBack();
    assert.ok(!t.page.url().includes(env.token), `history still holds ${t.page.url()}`);
    clean(t);
  });

  test('the overview lists every connection with its state, schema and counts', async () => {
    const t = await signedIn();
    const { page } = t;
    await eventually(async () => {
      assert.equal(await cell(page, 'contosohr', 'State').innerText(), 'draft');
      assert.equal(await cell(page, 'contosohr', 'Schema').innerText(), 'registering');
      assert.equal(await cell(page, 'contosohr', 'In progress').innerText(), '11');
      assert.equal(await cell(page, 'contosohr', 'Completed').innerText(), '12');
      assert.equal(await cell(page, 'contosohr', 'Failed').innerText(), '6');
      assert.equal(await cell(page, 'contosohr', 'Items').innerText(), '—');
      assert.equal(await cell(page, 'payroll', 'Schema').innerText(), 'none');
      assert.equal(await cell(page, 'payroll', 'Failed').innerText(), '1');
    });
    assert.equal(await row(page, 'contosohr').getByRole('link', { name: 'Contoso HR', exact: true }).getAttribute('href'), '#/connections/contosohr');
    assert.match(await page.locator('.summary').innerText(), /3 connections in tenant contoso/);
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

  test('a connection named like markup renders as text, and no script runs', async () => {
    const t = await signedIn();
    const { page } = t;
    const link = row(page, 'xssname').locator('a.name');
    await eventually(async () => assert.equal(await link.textContent(), xssName));
    assert.equal(await page.locator('main img').count(), 0);
    await page.goto(`${env.base}/console/#/connections/xssname`);
    await eventually(async () => assert.equal(await page.locator('h1').textContent(), xssName));
    assert.match(await page.title(), /<img src=x onerror=alert\(1\)>/);
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

  test('the overview follows a registration from draft to ready without a reload', async () => {
    const t = await signedIn();
    const { page } = t;
    await eventually(async () => assert.equal(await cell(page, 'contosohr', 'Schema').innerText(), 'registering'));
    await page.evaluate(() => { window.stillTheSamePage = true; });
    const control = await api.call('GET', `/contosohr/operations/${seeded.schemaOperation}`);
    assert.equal(control.json.status, 'inprogress');
    await api.must('PATCH', `/contosohr/operations/${seeded.schemaOperation}`, { status: 'completed' }, 204, 200);
    await eventually(async () => {
      assert.equal(await cell(page, 'contosohr', 'State').innerText(), 'ready');
      assert.equal(await cell(page, 'contosohr', 'Schema').innerText(), 'registered');
      assert.equal(await cell(page, 'contosohr', 'In progress').innerText(), '10');
      assert.equal(await cell(page, 'contosohr', 'Completed').innerText(), '13');
    }, 20_000);
    assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the page reloaded');
    clean(t);
  });

  test('a connection page shows its schema, and its operations filter by status and page', async () => {
    const t = await signedIn();
    const { page } = t;
    await page.goto(`${env.base}/console/#/connections/contosohr`);
    await page.getByRole('heading', { name: 'Contoso HR', level: 1 }).waitFor();
    const schema = page.locator('table.schema tbody tr');
    await eventually(async () => assert.equal(await schema.count(), 3));
    assert.deepEqual(await schema.nth(0).locator('th, td').allInnerTexts(),
      ['title', 'string', 'yes', 'no', 'yes', 'no', 'no', 'title', '—']);
    assert.deepEqual(await schema.nth(2).locator('th, td').allInnerTexts(),
      ['tags', 'stringCollection', 'no', 'no', 'yes', 'yes', 'no', '—', 'keywords']);

    const ops = page.locator('section:has(h2:text-is("Operations")) tbody tr');
    await eventually(async () => assert.equal(await ops.count(), 25));
    await page.getByRole('button', { name: 'Load more' }).first().click();
    await eventually(async () => assert.equal(await ops.count(), 31));
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
    await n.page.goto(`${env.base}/console/#/connections/contosohr`);
    await n.page.getByRole('heading', { name: 'Contoso HR', level: 1 }).waitFor();
    await eventually(async () => assert.equal(await n.page.locator('section:has(h2:text-is("Operations")) tbody tr').count(), 25));
    const overflow = await n.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the narrow page scrolls sideways by ${overflow}px`);
    await screenshot(n.page, 'connection-narrow', { fullPage: false });
    clean(n);
  });

  test('items: paged when connops serves them, a dash until then', async () => {
    const probe = await api.call('GET', '/contosohr/items/$count');
    const t = await signedIn();
    const { page } = t;
    await page.goto(`${env.base}/console/#/connections/contosohr`);
    const items = page.locator('section:has(h2:text-is("Items"))');
    if (probe.status === 404) {
      await eventually(async () => assert.match(await items.innerText(), /does not serve items yet/));
      assert.equal(await page.locator('.facts div:has(dt:text-is("Items")) dd').innerText(), '—');
    } else {
      for (let i = 0; i < 30; i++) {
        await api.must('PUT', `/contosohr/items/item${i}`, {
          acl: [{ type: 'everyone', value: 'everyone', accessType: 'grant' }],
          properties: { title: `Item ${i}` }, content: { value: `Body ${i}`, type: 'text' },
        }, 200, 201, 202, 204);
      }
      await page.reload();
      const rows = items.locator('tbody tr');
      await eventually(async () => assert.equal(await rows.count(), 25));
      await items.getByRole('button', { name: 'Load more' }).click();
      await eventually(async () => assert.equal(await rows.count(), 30));
    }
    clean(t);
  });

  test("an operation page shows a failed operation's publicError", async () => {
    const t = await signedIn();
    const { page } = t;
    await page.goto(`${env.base}/console/#/connections/payroll`);
    const link = page.getByRole('link', { name: seeded.failedOperation });
    await link.click();
    await page.getByRole('heading', { name: 'Operation failed', level: 1 }).waitFor();
    const fields = page.locator('section:has(h2:text-is("Error")) dl.error-fields').first();
    assert.deepEqual(await fields.locator('dt').allInnerTexts(), ['Code', 'Message', 'Target']);
    assert.deepEqual(await fields.locator('dd').allInnerTexts(), ['InvalidSchema',
      'The source rejected the schema: property employee holds personal data.', 'properties[0]']);
    assert.deepEqual(await page.locator('section:has(h2:text-is("Error")) tbody td').allInnerTexts(),
      ['PersonalData', 'employee may not be searchable.', 'properties[0].isSearchable']);
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await accessible(page);
    await screenshot(page, 'operation');
    clean(t);
  });

  test('keyboard: skip link, then Tab to a connection and Enter opens it', async () => {
    const t = await signedIn();
    const { page } = t;
    await eventually(async () => assert.equal(await cell(page, 'contosohr', 'Failed').innerText(), '6'));
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
    assert.match(await alert.innerText(), /Token refused[\s\S]*connops answered 401/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
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

  test('a reader sees the same connections', async () => {
    const t = await signedIn(desktop, env.reader);
    await eventually(async () => assert.equal(await cell(t.page, 'payroll', 'Failed').innerText(), '1'));
    clean(t);
  });

  test('the plots page draws its three charts from sample data', async () => {
    const t = await signedIn();
    const { page } = t;
    await page.getByRole('link', { name: 'Plots' }).click();
    await page.getByRole('heading', { name: 'Plots', level: 1 }).waitFor();
    await eventually(async () => assert.equal(await page.locator('.chart canvas').count(), 3));
    assert.match(await page.locator('.notice').innerText(), /Sample data/);
    await accessible(page);
    await screenshot(page, 'plots');
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

  test('every tab stayed free of console errors', () => {
    for (const t of tabs) assert.deepEqual(t.record.dialogs, []);
    assert.ok(tabs.length > 10);
  });
});
