// An operation: its status, the full publicError when it failed, and the
// timeline of its changes: the connection's operations stream from the
// start of the change log, filtered to this operation. Each change carries
// the operation as it then stood, so the page draws the status from the
// stream without asking again.

import { badge, h, links, replace, section, setText } from '../dom.js';
import { errorSummary, firstLoad, isAbort, show, showError } from './common.js';
import { changeState, followConnection, timeline } from './timeline.js';

export function operationView({ client, feed, signal, params }) {
  const { id: connectionID, operationId: operationID } = params;
  const path = `${encodeURIComponent(connectionID)}/operations/${encodeURIComponent(operationID)}`;
  const heading = h('h1', { tabindex: '-1' }, 'Operation');
  const statusSlot = h('dd', {}, '…');
  const errorSlot = h('div');
  const gone = h('div', { class: 'notice', role: 'status', hidden: true });
  const body = h('div');
  const mine = (c) => c.entity === 'operation' && c.data.id === operationID && c.connectionId === connectionID;
  const tl = timeline({
    label: 'Changes of this operation, newest first',
    emptyText: 'The change log holds no change of this operation.',
    filter: (c) => mine(c) || (c.entity === 'connection' && c.type === 'deleted'),
    describe: (c) => (c.entity === 'operation'
      ? [changeState(c), c.data.error ? [' ', errorSummary(c.data.error)] : null]
      : [`Connection ${connectionID} deleted`]),
  });
  const node = h('div', { class: 'view' },
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' },
      h('a', { href: links.overview() }, 'Connections'), ' / ',
      h('a', { href: links.connection(connectionID) }, connectionID), ' / ',
      h('span', { 'aria-current': 'page' }, operationID)),
    h('div', { class: 'view-head' }, heading, h('p', { class: 'summary mono' }, operationID)),
    errorSlot, gone,
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Status'), statusSlot),
      h('div', {}, h('dt', {}, 'Connection'), h('dd', {}, h('a', { href: links.connection(connectionID) }, connectionID)))),
    body,
    section('Timeline', tl.node));

  let last = '';
  function showOperation(op) {
    const json = JSON.stringify([op.status, op.error]);
    if (json === last) return;
    last = json;
    setText(heading, `Operation ${statusWord(op.status)}`);
    replace(statusSlot, badge(op.status));
    replace(body, op.error ? publicError(op.error) : section('Error',
      h('p', { class: 'muted' }, op.status === 'failed' ? 'It failed without an error.' : 'None.')));
  }

  // seq is the newest change drawn: an answer or a change older than it
  // is not drawn over it.
  let seq = 0;
  async function load() {
    const before = seq;
    let op;
    try {
      op = await client.json(path, { signal });
    } catch (e) {
      if (isAbort(e)) return;
      showError(errorSlot, e, 'The operation');
      return;
    }
    show(errorSlot, '');
    if (seq === before) showOperation(op);
  }

  function change(c, live) {
    if (!mine(c) && !(c.entity === 'connection' && c.type === 'deleted' && c.connectionId === connectionID)) return;
    tl.add(c, live);
    if (!live || c.seq <= seq) return;
    seq = c.seq;
    if (c.type === 'deleted') {
      gone.hidden = false;
      setText(gone, c.entity === 'operation' ? 'This operation was deleted. What the page shows is how it was.'
        : 'Its connection was deleted, and the operation with it. What the page shows is how it was.');
    }
    if (c.entity === 'operation') showOperation(c.data);
  }

  // The tab's feed brings the same changes; it matters where the stream is
  // not available, where it asks for a refresh every few seconds.
  const unsubscribe = feed.subscribe((m) => {
    if (m.kind === 'change') change(m, true);
    else load();
  });
  signal.addEventListener('abort', unsubscribe);
  firstLoad(feed, signal, load);
  followConnection({ client, feed, signal, connectionID, tl, onChange: change });
  return { title: `Operation ${operationID}`, node };
}

function statusWord(s) {
  return { inprogress: 'in progress', completed: 'completed', failed: 'failed', unspecified: '(status unspecified)' }[s] ?? String(s ?? '');
}

/** publicError shows every part of a Graph publicError. */
export function publicError(e) {
  const details = Array.isArray(e.details) ? e.details : [];
  return section('Error',
    h('dl', { class: 'error-fields' },
      field('Code', e.code, 'mono'), field('Message', e.message, 'message'), field('Target', e.target, 'mono')),
    h('h3', {}, 'Details'),
    details.length === 0 ? h('p', { class: 'muted' }, 'None.') : h('div', { class: 'table-wrap' },
      h('table', { class: 'grid cards' },
        h('caption', { class: 'visually-hidden' }, 'Error details'),
        h('thead', {}, h('tr', {}, ['Code', 'Message', 'Target'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, details.map((d) => h('tr', {},
          h('td', { 'data-label': 'Code', class: 'mono' }, text(d?.code)),
          h('td', { 'data-label': 'Message' }, text(d?.message)),
          h('td', { 'data-label': 'Target', class: 'mono' }, text(d?.target))))))),
    h('h3', {}, 'Inner error'),
    innerError(e.innerError));
}

function field(label, value, cls) {
  return h('div', {}, h('dt', {}, label), h('dd', { class: cls }, text(value)));
}

function text(v) {
  if (v == null || v === '') return h('span', { class: 'no' }, '—');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function innerError(inner) {
  if (!inner || typeof inner !== 'object') return h('p', { class: 'muted' }, 'None.');
  return h('dl', { class: 'error-fields' }, Object.entries(inner).map(([k, v]) =>
    h('div', {}, h('dt', { class: 'mono' }, k), h('dd', { class: typeof v === 'string' ? '' : 'mono' },
      typeof v === 'string' ? v : JSON.stringify(v, null, 2)))));
}
