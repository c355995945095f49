// A connection: its figures, schema, operations (filtered by status, paged),
// items (paged), its last hour in charts, and the timeline of its changes.
// The page reads everything once, then follows the tab's feed: it reads
// again only what a change concerns.

import { badge, h, id, links, replace, section, setText } from '../dom.js';
import { liveActivity } from './activity.js';
import {
  coalesce, errorSummary, figures, figureText, firstLoad, isAbort, itemAccess, operationStatuses, show, showError, truncate,
} from './common.js';
import { pagedTable } from './paged.js';
import { schemaRenderer } from './schema.js';
import { changeState, followConnection, timeline } from './timeline.js';

const statusWords = { '': 'All', inprogress: 'In progress', completed: 'Completed', failed: 'Failed', unspecified: 'Unspecified' };

export function connectionView({ client, feed, signal, params, query, replaceQuery, identity }) {
  const connectionID = params.id;
  const enc = encodeURIComponent(connectionID);
  let status = operationStatuses.includes(query.get('status')) ? query.get('status') : '';
  let connection = null;

  const heading = h('h1', { tabindex: '-1' }, connectionID);
  const subtitle = h('p', { class: 'summary' }, 'Loading…');
  const errorSlot = h('div');
  const gone = h('div', { class: 'notice', role: 'status', hidden: true });
  const facts = {
    state: h('dd'), schema: h('dd'), inprogress: h('dd'), completed: h('dd'), failed: h('dd'), items: h('dd'),
  };
  const fact = (label, dd) => h('div', {}, h('dt', {}, label), dd);
  const factList = h('dl', { class: 'facts' }, fact('State', facts.state), fact('Schema', facts.schema),
    fact('In progress', facts.inprogress), fact('Completed', facts.completed), fact('Failed', facts.failed),
    fact('Items', facts.items));

  const schemaBody = h('div', {}, h('p', { class: 'muted' }, 'Loading the schema…'));
  const renderSchema = schemaRenderer(schemaBody, connectionID);

  const filterID = id('status');
  const filter = h('select', { id: filterID },
    ['', ...operationStatuses].map((s) => h('option', { value: s, selected: s === status }, statusWords[s])));
  const operationCount = h('p', { class: 'muted', 'aria-live': 'polite' });
  const operations = pagedTable({
    client, signal, caption: 'Operations of this connection, newest first',
    path: () => `${enc}/operations?$top=25&$orderby=${encodeURIComponent('id desc')}` +
      (status ? `&$filter=${encodeURIComponent(`status eq '${status}'`)}` : ''),
    key: (op) => op.id,
    columns: [
      { label: 'Operation', cls: 'first', cell: (op) => h('a', { href: links.operation(connectionID, op.id), class: 'mono' }, op.id) },
      { label: 'Status', cell: (op) => badge(op.status) },
      { label: 'Error', cell: (op) => errorSummary(op.error) },
    ],
    empty: () => h('div', { class: 'empty small' }, status
      ? h('p', {}, `No ${statusWords[status].toLowerCase()} operations. Choose "All" to see every operation.`)
      : h('p', {}, 'No operations yet. Registering a schema starts one.')),
    onCount: (n, more) => setText(operationCount, typeof n === 'number'
      ? `${n}${more ? '+' : ''} ${status ? statusWords[status].toLowerCase() + ' ' : ''}operation${n === 1 && !more ? '' : 's'} shown.` : ''),
  });
  filter.addEventListener('change', () => {
    status = filter.value;
    replaceQuery(status ? { status } : {});
    operations.reset();
  });

  const itemCount = h('p', { class: 'muted', 'aria-live': 'polite' });
  const items = pagedTable({
    client, signal, caption: 'Items of this connection',
    refused: itemAccess(identity),
    path: () => `${enc}/items?$top=25`,
    key: (item) => item.id,
    columns: [
      { label: 'Item', cls: 'first', cell: (item) => h('span', { class: 'mono' }, item.id) },
      { label: 'Properties', cell: (item) => propertiesSummary(item.properties) },
      { label: 'Access', cell: (item) => aclSummary(item.acl) },
    ],
    empty: () => h('div', { class: 'empty small' },
      h('p', {}, 'No items yet. They appear here when the connector writes them (PUT …/items/{id}).')),
    onCount: (n, more) => setText(itemCount, typeof n === 'number' ? `${n}${more ? '+' : ''} item${n === 1 && !more ? '' : 's'} shown.` : ''),
  });
  // Item writes are not on the change stream: they are read again on demand.
  const reloadItems = h('button', { type: 'button', class: 'secondary small', onclick: () => { items.refresh(); loadFigures(); } }, 'Reload items');

  const activityError = h('div');
  const charts = liveActivity({ client, signal, what: 'this connection', onError: (e) => (e ? showError(activityError, e, 'The statistics') : show(activityError, '')) });

  const tl = timeline({
    label: 'Changes of this connection and its operations, newest first',
    emptyText: 'No change of this connection\'s operations in the change log.',
    describe: (c) => (c.entity === 'operation'
      ? [h('a', { href: links.operation(connectionID, c.data.id), class: 'mono' }, `Operation ${c.data.id}`), ' ', changeState(c),
        c.data.error ? [' ', errorSummary(c.data.error)] : null]
      : [`Connection ${truncate(c.data.name || c.data.id, 80)}`, ' ', changeState(c)]),
  });

  const node = h('div', { class: 'view' },
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('a', { href: links.overview() }, 'Connections'), ' / ',
      h('span', { 'aria-current': 'page' }, connectionID)),
    h('div', { class: 'view-head' }, heading, subtitle),
    errorSlot, gone,
    factList,
    section('Schema', schemaBody),
    section('Operations',
      h('div', { class: 'toolbar' }, h('label', { for: filterID }, 'Status'), filter, operationCount),
      operations.node),
    section('Items', h('div', { class: 'toolbar' }, itemCount, reloadItems), items.node),
    section('Last hour', activityError, charts.node),
    section('Timeline', tl.node));

  function showConnection(c) {
    connection = c;
    setText(heading, c.name || c.id);
    setText(subtitle, [c.id, c.description].filter(Boolean).join(' · '));
    document.title = `${c.name || c.id} · connops console`;
    if (facts.state.dataset.value !== c.state) {
      facts.state.dataset.value = c.state;
      replace(facts.state, badge(c.state));
    }
  }

  async function loadConnection() {
    try {
      showConnection(await client.json(enc, { signal }));
    } catch (e) {
      if (isAbort(e)) return false;
      showError(errorSlot, e, 'The connection');
      setText(subtitle, e.status === 404 ? `No connection ${connectionID} for this token.` : 'Could not load the connection.');
      return false;
    }
    show(errorSlot, '');
    return true;
  }

  async function loadFigures() {
    if (!connection) return;
    const f = await figures(client, connection, signal, identity);
    if (signal.aborted) return;
    if (facts.schema.dataset.value !== String(f.schema)) {
      facts.schema.dataset.value = String(f.schema);
      replace(facts.schema, typeof f.schema === 'string' ? badge(f.schema) : '?');
    }
    for (const k of ['inprogress', 'completed', 'failed', 'items']) {
      const { text, title } = figureText(f[k]);
      setText(facts[k], text);
      facts[k].title = title;
    }
    renderSchema(f.schemaBody, f.schema);
  }

  let refreshing = null;
  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      if (!(await loadConnection())) return;
      await Promise.all([loadFigures(), operations.refresh(), items.refresh(), charts.set([connectionID], { fresh: true })]);
    })().finally(() => { refreshing = null; });
    return refreshing;
  }

  const figuresLater = coalesce(() => loadFigures().catch(() => {}), 250, signal);
  const operationsLater = coalesce(() => operations.refresh(), 250, signal);

  function change(m) {
    if (m.connectionId !== connectionID) return;
    if (m.entity === 'operation') {
      operationsLater();
      figuresLater();
      charts.changed(connectionID);
      return;
    }
    tl.add(m, true);
    if (m.type === 'deleted') {
      gone.hidden = false;
      setText(gone, 'This connection was deleted. What the page shows is how it was.');
      return;
    }
    showConnection({ ...connection, ...m.data });
    figuresLater();
  }

  const unsubscribe = feed.subscribe((m) => {
    if (m.kind === 'change') change(m);
    else refresh();
  });
  signal.addEventListener('abort', unsubscribe);

  firstLoad(feed, signal, refresh);
  followConnection({ client, feed, signal, connectionID, tl });
  return { title: connectionID, node };
}

function propertiesSummary(props) {
  if (!props || typeof props !== 'object') return h('span', { class: 'no' }, '—');
  const parts = Object.entries(props).filter(([k]) => !k.includes('@odata'))
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return truncate(parts.join(' · '), 200);
}

function aclSummary(acl) {
  if (!Array.isArray(acl) || acl.length === 0) return h('span', { class: 'no' }, '—');
  return acl.map((a) => `${a.accessType ?? '?'} ${a.type ?? ''} ${a.value ?? ''}`.trim()).join(', ');
}
