// A connection: its figures, schema, operations (filtered by status, paged),
// items (paged) and, with the change stream, its timeline.

import { badge, codeBlock, h, id, links, replace, section, setText } from '../dom.js';
import {
  errorBox, figures, figureText, isAbort, operationStatuses, registerSchemaCommand, show, showError,
} from './common.js';
import { pagedTable } from './paged.js';

const statusWords = { '': 'All', inprogress: 'In progress', completed: 'Completed', failed: 'Failed', unspecified: 'Unspecified' };

export function connectionView({ client, feed, signal, params, query, replaceQuery }) {
  const connectionID = params.id;
  const enc = encodeURIComponent(connectionID);
  let status = operationStatuses.includes(query.get('status')) ? query.get('status') : '';
  let connection = null;

  const heading = h('h1', { tabindex: '-1' }, connectionID);
  const subtitle = h('p', { class: 'summary' }, 'Loading…');
  const errorSlot = h('div');
  const facts = {
    state: h('dd'), schema: h('dd'), inprogress: h('dd'), completed: h('dd'), failed: h('dd'), items: h('dd'),
  };
  const factList = h('dl', { class: 'facts' },
    h('div', {}, h('dt', {}, 'State'), facts.state),
    h('div', {}, h('dt', {}, 'Schema'), facts.schema),
    h('div', {}, h('dt', {}, 'In progress'), facts.inprogress),
    h('div', {}, h('dt', {}, 'Completed'), facts.completed),
    h('div', {}, h('dt', {}, 'Failed'), facts.failed),
    h('div', {}, h('dt', {}, 'Items'), facts.items));

  const schemaBody = h('div', {}, h('p', { class: 'muted' }, 'Loading the schema…'));

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

  const items = pagedTable({
    client, signal, caption: 'Items of this connection',
    path: () => `${enc}/items?$top=25`,
    key: (item) => item.id,
    columns: [
      { label: 'Item', cls: 'first', cell: (item) => h('span', { class: 'mono' }, item.id) },
      { label: 'Properties', cell: (item) => propertiesSummary(item.properties) },
      { label: 'Access', cell: (item) => aclSummary(item.acl) },
    ],
    empty: () => h('div', { class: 'empty small' },
      h('p', {}, 'No items yet. They appear here when the connector writes them (PUT …/items/{id}).')),
    missing: () => h('div', { class: 'empty small' },
      h('p', {}, '— This connops does not serve items yet; they will appear here once it does.')),
  });

  const node = h('div', { class: 'view' },
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('a', { href: links.overview() }, 'Connections'), ' / ',
      h('span', { 'aria-current': 'page' }, connectionID)),
    h('div', { class: 'view-head' }, heading, subtitle),
    errorSlot,
    factList,
    section('Schema', schemaBody),
    section('Operations',
      h('div', { class: 'toolbar' }, h('label', { for: filterID }, 'Status'), filter, operationCount),
      operations.node),
    section('Items', items.node),
    section('Timeline', h('p', { class: 'placeholder' },
      'Phase 2: every change to this connection and its operations, newest first, from the change stream. ' +
      'Nothing is shown here yet.')));

  async function loadConnection() {
    try {
      connection = await client.json(enc, { signal });
    } catch (e) {
      if (isAbort(e)) return false;
      showError(errorSlot, e, 'The connection');
      setText(subtitle, e.status === 404 ? `No connection ${connectionID} for this token.` : 'Could not load the connection.');
      return false;
    }
    show(errorSlot, '');
    setText(heading, connection.name || connection.id);
    setText(subtitle, [connection.id, connection.description].filter(Boolean).join(' · '));
    document.title = `${connection.name || connection.id} · connops console`;
    if (facts.state.dataset.value !== connection.state) {
      facts.state.dataset.value = connection.state;
      replace(facts.state, badge(connection.state));
    }
    return true;
  }

  async function loadFigures() {
    const f = await figures(client, connection, signal);
    if (signal.aborted) return;
    replace(facts.schema, typeof f.schema === 'string' ? badge(f.schema) : '?');
    for (const k of ['inprogress', 'completed', 'failed', 'items']) {
      const { text, title } = figureText(f[k]);
      setText(facts[k], text);
      facts[k].title = title;
    }
    renderSchema(f.schemaBody, f.schema);
  }

  let lastSchema = '';
  function renderSchema(schema, state) {
    const json = JSON.stringify(schema) + String(state);
    if (json === lastSchema) return;
    lastSchema = json;
    if (schema) {
      replace(schemaBody, schemaTable(schema, state));
    } else if (state === 'none') {
      replace(schemaBody, h('div', { class: 'empty small' },
        h('p', {}, 'No schema yet. Register one (connops completes it after PROVISIONING_DELAY):'),
        codeBlock('Command that registers a schema', registerSchemaCommand(connectionID))));
    } else {
      replace(schemaBody, errorBox(state, 'The schema'));
    }
  }

  let refreshing = null;
  async function refresh(all) {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      if (!(await loadConnection())) return;
      await Promise.all([loadFigures(), all ? operations.refresh() : null, all ? items.refresh() : null]);
    })().finally(() => { refreshing = null; });
    return refreshing;
  }

  const unsubscribe = feed.subscribe((m) => {
    if (m.kind === 'change') {
      const mine = m.type.startsWith('connection.') ? m.data?.id === connectionID : m.data?.connectionId === connectionID;
      if (!mine) return;
    }
    refresh(true);
  });
  signal.addEventListener('abort', unsubscribe);

  (async () => {
    if (await loadConnection()) {
      await Promise.all([loadFigures(), operations.reset(), items.reset()]);
    }
  })();
  return { title: connectionID, node };
}

function schemaTable(schema, state) {
  const flag = (v) => (v ? h('span', { class: 'yes' }, 'yes') : h('span', { class: 'no' }, 'no'));
  const list = (xs) => (Array.isArray(xs) && xs.length ? xs.join(', ') : h('span', { class: 'no' }, '—'));
  const props = Array.isArray(schema.properties) ? schema.properties : [];
  return h('div', {},
    h('p', { class: 'muted' }, `${props.length} propert${props.length === 1 ? 'y' : 'ies'} on ${schema.baseType ?? '?'}`,
      state === 'registering' ? ' — registration in progress; this is the submitted schema.' : '.'),
    h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Schema properties (scrolls sideways)' },
      h('table', { class: 'grid schema' },
        h('caption', { class: 'visually-hidden' }, 'Schema properties with their types, flags, labels and aliases'),
        h('thead', {}, h('tr', {}, ['Property', 'Type', 'Searchable', 'Queryable', 'Retrievable', 'Refinable',
          'Exact match', 'Labels', 'Aliases'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, props.map((p) => h('tr', {},
          h('th', { scope: 'row', class: 'mono' }, p.name),
          h('td', { class: 'mono' }, p.type),
          h('td', {}, flag(p.isSearchable)), h('td', {}, flag(p.isQueryable)),
          h('td', {}, flag(p.isRetrievable)), h('td', {}, flag(p.isRefinable)),
          h('td', {}, flag(p.isExactMatchRequired)),
          h('td', {}, list(p.labels)), h('td', {}, list(p.aliases))))))));
}

/** errorSummary shows an operation's publicError in one line. */
export function errorSummary(error) {
  if (!error || typeof error !== 'object') return h('span', { class: 'no' }, '—');
  return h('span', { class: 'error-line' }, error.code ? h('strong', {}, error.code) : null,
    error.code && error.message ? ': ' : '', truncate(error.message ?? '', 140));
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

function truncate(s, n) {
  const str = String(s);
  return str.length > n ? `${str.slice(0, n - 1)}…` : str;
}
