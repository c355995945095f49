// A connection's schema: each property's type, flags, labels and aliases,
// or the command that registers one.

import { codeBlock, h, replace } from '../dom.js';
import { errorBox, registerSchemaCommand } from './common.js';

const statusWords = {
  registering: ' A registration is in progress: this is the schema submitted. It becomes the active schema (and a draft connection ready) when its operation completes.',
  active: ' This is the active schema: items are checked against it.',
};

/** schemaRenderer returns a function that fills body with the schema (null: none) and its status
 * ('none', 'registering', 'active', or the error that kept it from us). It
 * redraws only when either changed. */
export function schemaRenderer(body, connectionID) {
  let last = '';
  return (schema, status) => {
    const key = JSON.stringify(schema) + String(typeof status === 'string' ? status : status?.message);
    if (key === last) return;
    last = key;
    if (schema) {
      replace(body, schemaTable(schema, status));
    } else if (status === 'none') {
      replace(body, h('div', { class: 'empty small' },
        h('p', {}, 'No schema: none was registered, or the first registration failed (its operation says why). ' +
          'Register one (connops completes it after PROVISIONING_DELAY):'),
        codeBlock('Command that registers a schema', registerSchemaCommand(connectionID))));
    } else {
      replace(body, errorBox(status, 'The schema'));
    }
  };
}

function schemaTable(schema, status) {
  const flag = (v) => (v ? h('span', { class: 'yes' }, 'yes') : h('span', { class: 'no' }, 'no'));
  const list = (xs) => (Array.isArray(xs) && xs.length ? xs.join(', ') : h('span', { class: 'no' }, '—'));
  const props = Array.isArray(schema.properties) ? schema.properties : [];
  return h('div', {},
    h('p', { class: 'muted' }, `${props.length} propert${props.length === 1 ? 'y' : 'ies'} on ${schema.baseType ?? '?'}.`,
      statusWords[status] ?? ''),
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
