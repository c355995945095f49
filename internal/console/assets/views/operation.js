// An operation: its status, the full publicError when it failed, and (with
// the change stream) its timeline.

import { badge, h, links, replace, section, setText } from '../dom.js';
import { isAbort, show, showError } from './common.js';

export function operationView({ client, feed, signal, params }) {
  const { id: connectionID, operationId: operationID } = params;
  const path = `${encodeURIComponent(connectionID)}/operations/${encodeURIComponent(operationID)}`;
  const heading = h('h1', { tabindex: '-1' }, 'Operation');
  const statusSlot = h('dd', {}, '…');
  const errorSlot = h('div');
  const body = h('div');
  const node = h('div', { class: 'view' },
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' },
      h('a', { href: links.overview() }, 'Connections'), ' / ',
      h('a', { href: links.connection(connectionID) }, connectionID), ' / ',
      h('span', { 'aria-current': 'page' }, operationID)),
    h('div', { class: 'view-head' }, heading, h('p', { class: 'summary mono' }, operationID)),
    errorSlot,
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Status'), statusSlot),
      h('div', {}, h('dt', {}, 'Connection'), h('dd', {}, h('a', { href: links.connection(connectionID) }, connectionID)))),
    body,
    section('Timeline', h('p', { class: 'placeholder' },
      'Phase 2: every change to this operation (created, each status change, deleted), from the change stream. ' +
      'Nothing is shown here yet.')));

  let last = '';
  async function load() {
    let op;
    try {
      op = await client.json(path, { signal });
    } catch (e) {
      if (isAbort(e)) return;
      showError(errorSlot, e, 'The operation');
      return;
    }
    show(errorSlot, '');
    const json = JSON.stringify(op);
    if (json === last) return;
    last = json;
    setText(heading, `Operation ${statusWord(op.status)}`);
    replace(statusSlot, badge(op.status));
    replace(body, op.error ? publicError(op.error) : section('Error',
      h('p', { class: 'muted' }, op.status === 'failed' ? 'It failed without an error.' : 'None.')));
  }

  const unsubscribe = feed.subscribe((m) => {
    if (m.kind === 'change' && !(m.type.startsWith('operation.') && m.data?.id === operationID &&
      m.data?.connectionId === connectionID)) return;
    load();
  });
  signal.addEventListener('abort', unsubscribe);
  load();
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
