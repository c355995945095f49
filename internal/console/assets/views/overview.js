// The overview: every connection the token may see, with its state, schema
// status, operations by status and item count. It lists them once the feed
// opens, then follows the changes: a connection's row from the change's
// data, its figures read again after changes of it or its operations. Only
// where connops has no stream does it list them again every few seconds.

import { badge, codeBlock, h, links, replace, setText } from '../dom.js';
import { coalesce, createConnectionCommand, figures, figureText, firstLoad, isAbort, show, showError } from './common.js';

const pageSize = 50;

export function overviewView({ client, feed, signal, identity }) {
  const summary = h('p', { class: 'summary' }, 'Loading connections…');
  const errorSlot = h('div');
  const tbody = h('tbody');
  const table = h('table', { class: 'grid cards', id: 'connections' },
    h('caption', { class: 'visually-hidden' }, 'Connections with their state, schema, operations by status and item count'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Connection'),
      h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col' }, 'Schema'),
      h('th', { scope: 'col', class: 'num' }, 'In progress'),
      h('th', { scope: 'col', class: 'num' }, 'Completed'),
      h('th', { scope: 'col', class: 'num' }, 'Failed'),
      h('th', { scope: 'col', class: 'num' }, 'Items'))),
    tbody);
  const empty = h('div', { class: 'empty', hidden: true },
    h('h2', {}, 'No connections yet'),
    h('p', {}, identity?.tenant
      ? `Tenant ${identity.tenant} has no connection this token may see. Create one with:`
      : 'There is no connection this token may see. Create one with:'),
    codeBlock('Command that creates a first connection', createConnectionCommand()),
    h('p', { class: 'hint' }, 'It appears here within a few seconds, without a reload.'));
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show more connections');
  const node = h('div', { class: 'view' },
    h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Connections'), summary),
    errorSlot, empty, h('div', { class: 'table-wrap' }, table), more);

  const rows = new Map(); // connection id -> row
  let list = []; // the connections shown, in the API's order (by id)
  let wanted = pageSize;
  let next = '';
  let running = null;
  let again = false;
  const pending = new Set(); // connections whose operations changed during a load

  more.addEventListener('click', () => {
    wanted += pageSize;
    refresh();
  });

  // refresh lists the connections again (as many as are shown, at least a
  // page), then their figures. Calls that arrive while one runs fold into
  // one more run after it.
  function refresh() {
    if (running) {
      again = true;
      return running;
    }
    running = load().finally(() => {
      running = null;
      if (signal.aborted) return;
      if (again) {
        again = false;
        pending.clear();
        refresh();
        return;
      }
      for (const id of pending) figuresLater(id);
      pending.clear();
    });
    return running;
  }

  async function load() {
    try {
      let page = await client.page(`?$top=${pageSize}`, { signal });
      let got = page.items;
      while (page.next && got.length < wanted) {
        page = await client.page(page.next, { signal });
        got = got.concat(page.items);
      }
      list = got;
      next = page.next;
    } catch (e) {
      if (isAbort(e)) return;
      showError(errorSlot, e, 'The connections');
      setText(summary, 'Could not list connections.');
      return;
    }
    show(errorSlot, '');
    sync();
    await Promise.all(list.map((c) => updateFigures(c)));
  }

  function sync() {
    const seen = new Set();
    let before = null;
    for (const c of list) {
      seen.add(c.id);
      let row = rows.get(c.id);
      if (!row) {
        row = newRow(c);
        rows.set(c.id, row);
      }
      updateRow(row, c);
      // Keep the API's order (by id) without moving rows that are in place.
      const wantedPlace = before ? before.tr.nextSibling : tbody.firstChild;
      if (wantedPlace !== row.tr) tbody.insertBefore(row.tr, wantedPlace);
      before = row;
    }
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    empty.hidden = list.length > 0;
    table.hidden = list.length === 0;
    more.hidden = !next;
    const n = list.length;
    setText(summary, n === 0 ? 'No connections.' : `${n}${next ? '+' : ''} connection${n === 1 ? '' : 's'}` +
      (identity?.tenant ? ` in tenant ${identity.tenant}` : '') + '.');
  }

  function newRow(c) {
    const name = h('a', { href: links.connection(c.id), class: 'name' });
    const idLine = h('span', { class: 'id' }, c.id);
    const cell = (label, cls, ...children) => h('td', { 'data-label': label, class: cls }, ...children);
    const row = {
      connection: c,
      name, state: h('span'), schema: h('span'),
      // Each count links to the connection's operations with that status,
      // once it is known (an <a> without href is no link meanwhile).
      counts: { inprogress: h('a'), completed: h('a'), failed: h('a') },
      items: h('span'),
    };
    row.tr = h('tr', { 'data-id': c.id },
      cell('Connection', 'first', name, idLine),
      cell('State', '', row.state),
      cell('Schema', '', row.schema),
      cell('In progress', 'num', row.counts.inprogress),
      cell('Completed', 'num', row.counts.completed),
      cell('Failed', 'num', row.counts.failed),
      cell('Items', 'num', row.items));
    return row;
  }

  function updateRow(row, c) {
    row.connection = c;
    setText(row.name, c.name || c.id);
    if (row.state.dataset.value !== c.state) {
      row.state.dataset.value = c.state;
      replace(row.state, badge(c.state));
    }
  }

  async function updateFigures(c) {
    const row = rows.get(c.id);
    if (!row) return;
    const f = await figures(client, c, signal, identity);
    if (signal.aborted) return;
    const schemaText = typeof f.schema === 'string' ? f.schema : '?';
    if (row.schema.dataset.value !== schemaText) {
      row.schema.dataset.value = schemaText;
      replace(row.schema, typeof f.schema === 'string' ? badge(f.schema) : h('span', { title: f.schema?.message }, '?'));
    }
    for (const status of ['inprogress', 'completed', 'failed']) {
      const { text, title } = figureText(f[status]);
      const a = row.counts[status];
      setText(a, text);
      a.title = title;
      a.classList.toggle('zero', f[status] === 0);
      if (typeof f[status] === 'number') {
        a.href = links.connection(c.id, status);
        a.setAttribute('aria-label', `${text} ${status === 'inprogress' ? 'in progress' : status} operations of ${c.name || c.id}`);
      } else {
        a.removeAttribute('href');
        a.removeAttribute('aria-label');
      }
    }
    const items = figureText(f.items);
    setText(row.items, items.text);
    row.items.title = items.title;
  }

  // Figures are read again at most every 250 ms per connection: a burst
  // of changes costs one read.
  const later = new Map();
  function figuresLater(id) {
    if (!later.has(id)) {
      later.set(id, coalesce(() => {
        const row = rows.get(id);
        if (row) updateFigures(row.connection).catch(() => {});
      }, 250, signal));
    }
    later.get(id)();
  }

  // change applies one change of the stream; the list is not read again.
  function change(m) {
    if (running) {
      // The list or the figures being read may predate the change: read
      // them again after.
      if (m.entity === 'operation') pending.add(m.connectionId);
      else again = true;
      return;
    }
    const id = m.connectionId;
    if (m.entity === 'operation') {
      if (rows.has(id)) figuresLater(id);
      return;
    }
    const at = list.findIndex((c) => c.id === id);
    if (m.type === 'deleted') {
      if (at >= 0) list.splice(at, 1);
    } else if (at >= 0) {
      list[at] = { ...list[at], ...m.data };
    } else if (!next || id < list[list.length - 1].id) {
      // A new connection, within the part of the list shown.
      const before = list.findIndex((c) => c.id > id);
      list.splice(before < 0 ? list.length : before, 0, m.data);
    } else {
      return;
    }
    sync();
    if (m.type !== 'deleted') figuresLater(id);
  }

  const unsubscribe = feed.subscribe((m) => {
    if (m.kind === 'change') change(m);
    else refresh();
  });
  signal.addEventListener('abort', unsubscribe);
  firstLoad(feed, signal, refresh);
  return { title: 'Connections', node };
}
