// A table over a paged API list: it follows @odata.nextLink on "Load more",
// and a refresh reloads as many rows as are shown, keeping rows that did not
// change (and so the focus in them).

import { h } from '../dom.js';
import { errorBox, isAbort, show } from './common.js';

/**
 * pagedTable options: client, signal, caption, path() (the first page's
 * path, read at every reset), columns [{label, cls, cell(item)}], key(item),
 * empty() (a node for an empty list), refused (an error to show instead of
 * asking: the token may not read the list), onCount(n, more).
 */
export function pagedTable(opts) {
  const { client, signal, caption, columns, key } = opts;
  const tbody = h('tbody');
  const table = h('table', { class: 'grid cards' },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.cls }, c.label)))),
    tbody);
  const status = h('div');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const node = h('div', { class: 'paged' }, status, h('div', { class: 'table-wrap' }, table), more);
  const rows = new Map(); // key -> {tr, json}
  let shown = [];
  let next = '';
  let generation = 0;
  let busy = false;

  more.addEventListener('click', () => loadMore());

  async function fetchPages(wanted, gen) {
    let page = await client.page(opts.path(), { signal });
    let items = page.items;
    while (page.next && items.length < wanted) {
      page = await client.page(page.next, { signal });
      items = items.concat(page.items);
    }
    return gen === generation ? { items, next: page.next } : null;
  }

  async function run(task) {
    const gen = generation;
    try {
      if (opts.refused) throw opts.refused;
      const got = await task(gen);
      if (!got || signal.aborted) return;
      render(got.items, got.next);
    } catch (e) {
      if (isAbort(e) || gen !== generation) return;
      table.hidden = true;
      more.hidden = true;
      show(status, `error ${e.status} ${e.message}`, () => errorBox(e));
      opts.onCount?.(e, false);
    }
  }

  function render(items, nextLink) {
    shown = items;
    next = nextLink;
    const seen = new Set();
    const order = [];
    for (const item of items) {
      const k = key(item);
      seen.add(k);
      const json = JSON.stringify(item);
      let row = rows.get(k);
      if (!row || row.json !== json) {
        const tr = h('tr', { 'data-key': k }, columns.map((c) => h('td', { 'data-label': c.label, class: c.cls }, c.cell(item))));
        if (row) row.tr.replaceWith(tr);
        row = { tr, json };
        rows.set(k, row);
      }
      order.push(row.tr);
    }
    for (const [k, row] of rows) {
      if (!seen.has(k)) {
        row.tr.remove();
        rows.delete(k);
      }
    }
    order.forEach((tr, i) => {
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
    });
    table.hidden = items.length === 0;
    more.hidden = !next;
    show(status, items.length === 0 ? `empty ${opts.path()}` : '', opts.empty);
    opts.onCount?.(items.length, Boolean(next));
  }

  async function loadMore() {
    if (!next || busy) return;
    busy = true;
    more.disabled = true;
    await run(async (gen) => {
      const page = await client.page(next, { signal });
      return gen === generation ? { items: shown.concat(page.items), next: page.next } : null;
    });
    busy = false;
    more.disabled = false;
  }

  return {
    node,
    /** reset starts again from the first page (after a filter change). */
    reset() {
      generation++;
      rows.clear();
      tbody.replaceChildren();
      shown = [];
      show(status, '');
      return run((gen) => fetchPages(0, gen));
    },
    /** refresh reloads what is shown. */
    refresh() {
      if (busy) return Promise.resolve();
      return run((gen) => fetchPages(shown.length, gen));
    },
  };
}
