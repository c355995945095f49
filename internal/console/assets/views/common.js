// Pieces the views share: error boxes, figures, and the commands shown in
// empty states (built with this page's own origin).

import { ApiError } from '../api.js';
import { h, replace } from '../dom.js';

/** isAbort tells a request cancelled by leaving the page, which is no error. */
export function isAbort(e) {
  return e?.name === 'AbortError';
}

/** errorBox explains a failed call: what happened and what to do next. */
export function errorBox(err, what = 'This') {
  const e = err instanceof ApiError ? err : new ApiError(0, 'script', String(err?.message ?? err));
  let title;
  let advice = '';
  switch (true) {
    case e.status === 403:
      title = 'Permission missing';
      advice = 'Sign in with a token that has the permission named above, for example one from ' +
        'connops token --tenant T --roles ExternalConnection.Read.All,ExternalItem.Read.All.';
      break;
    case e.status === 404:
      title = 'Not found';
      advice = 'It does not exist, or this token may not see it (another tenant, or an app confined to its own connections).';
      break;
    case e.status === 429:
      title = 'Too many requests';
      advice = 'connops is rate-limiting this token; the console tries again on its next refresh.';
      break;
    case e.status === 0:
      title = 'No answer from connops';
      break;
    case e.status >= 500:
      title = `connops failed (${e.status})`;
      advice = 'Try again; if it persists, give the request id below to whoever runs connops.';
      break;
    default:
      title = `${what} request failed (${e.status})`;
  }
  return h('div', { class: 'error-box', role: 'alert' },
    h('p', { class: 'error-title' }, title),
    h('p', {}, e.message),
    advice && h('p', { class: 'hint' }, advice),
    (e.code || e.requestID) && h('p', { class: 'meta' },
      e.code && `code ${e.code}`, e.code && e.requestID && ' · ', e.requestID && `request-id ${e.requestID}`));
}

/**
 * show puts what make() builds into slot, unless slot already shows the
 * same key: a refresh that finds the same error (or the same empty list)
 * leaves the page alone, so a screen reader does not hear the alert again
 * every few seconds. An empty key empties the slot.
 */
export function show(slot, key, make = () => null) {
  if (slot.dataset.shows === key) return;
  slot.dataset.shows = key;
  replace(slot, key ? make() : null);
}

/** showError shows errorBox(err) in slot, once per distinct error. */
export function showError(slot, err, what) {
  show(slot, `error ${err?.status} ${err?.message}`, () => errorBox(err, what));
}

/** origin is where this console (and so the API) is served. */
export function origin() {
  return window.location.origin;
}

export function createConnectionCommand() {
  return `curl -s -X POST ${origin()}/v1.0/external/connections \\
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
  -d '{"id":"contosohr","name":"Contoso HR"}'`;
}

export function registerSchemaCommand(connectionID) {
  return `curl -si -X PATCH ${origin()}/v1.0/external/connections/${connectionID}/schema \\
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
  -d '{"baseType":"microsoft.graph.externalItem","properties":[
        {"name":"title","type":"String","isSearchable":true,"isRetrievable":true,"labels":["title"]}]}'`;
}

/**
 * schemaStatus says where a connection's schema stands, from GET …/schema
 * (null for a 404). GET …/schema answers the schema being registered if
 * there is one, else the active one, and 404 when there is neither (also
 * after a failed first registration); its @connops.state annotation says
 * which of the two it is.
 */
export function schemaStatus(schema) {
  if (!schema) return 'none';
  return schema['@connops.state'] === 'pending' ? 'registering' : 'active';
}

export const operationStatuses = ['inprogress', 'completed', 'failed', 'unspecified'];

const itemPermissions = ['ExternalItem.Read.All', 'ExternalItem.ReadWrite.All', 'ExternalItem.ReadWrite.OwnedBy'];

/**
 * itemAccess is null when the token may read items (or its claims do not
 * say), else the error connops would answer: items need an item permission
 * beside the connection one, and asking anyway would only log a 403 per
 * connection in the browser's console.
 */
export function itemAccess(identity) {
  const perms = identity?.permissions ?? [];
  if (perms.length === 0 || perms.some((p) => itemPermissions.includes(p))) return null;
  return new ApiError(403, 'accessDenied', `Reading items requires ${itemPermissions.join(', ')}; this token has ${perms.join(', ')}.`);
}

/** figures fetches what the overview and a connection page count: the
 * schema, operations by status and items. Each settles on its own, so one
 * failure leaves the others. */
export async function figures(client, connection, signal, identity) {
  const id = encodeURIComponent(connection.id);
  const counted = (status) =>
    client.count(`${id}/operations/$count?$filter=${encodeURIComponent(`status eq '${status}'`)}`, { signal });
  const noItems = itemAccess(identity);
  const [schema, inprogress, completed, failed, items] = await Promise.allSettled([
    client.optional(`${id}/schema`, { signal }),
    counted('inprogress'), counted('completed'), counted('failed'),
    noItems ? Promise.reject(noItems) : client.count(`${id}/items/$count`, { signal }),
  ]);
  return {
    schema: schema.status === 'fulfilled' ? schemaStatus(schema.value) : schema.reason,
    schemaBody: schema.status === 'fulfilled' ? schema.value : null,
    inprogress: settled(inprogress), completed: settled(completed), failed: settled(failed),
    items: settled(items),
  };
}

// settled is a count, or the error that kept it from us.
function settled(r) {
  return r.status === 'fulfilled' ? r.value : r.reason;
}

/** figureText renders a count, a dash for one this token may not read, or
 * a question mark for an error (its message in the title). */
export function figureText(value) {
  if (typeof value === 'number') return { text: value.toLocaleString('en'), title: '' };
  if (isAbort(value)) return { text: '', title: '' };
  if (value instanceof ApiError && value.status === 403) return { text: '—', title: value.message };
  return { text: '?', title: value?.message ?? 'unknown error' };
}

/**
 * coalesce runs fn at most once per ms, the calls in between folded into
 * one run after it: a burst of changes costs one reload.
 */
export function coalesce(fn, ms, signal) {
  let timer = null;
  let last = 0;
  return () => {
    if (timer || signal?.aborted) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      if (!signal?.aborted) fn();
    }, Math.max(wait, 50));
  };
}

/** errorSummary shows an operation's publicError in one line. */
export function errorSummary(error) {
  if (!error || typeof error !== 'object') return h('span', { class: 'no' }, '—');
  return h('span', { class: 'error-line' }, error.code ? h('strong', {}, error.code) : null,
    error.code && error.message ? ': ' : '', truncate(error.message ?? '', 140));
}

/** truncate shortens s to n characters, with an ellipsis. */
export function truncate(s, n) {
  const str = String(s);
  return str.length > n ? `${str.slice(0, n - 1)}…` : str;
}

/**
 * firstLoad runs load once a view is built, except while the tab's feed is
 * opening its stream: it asks for a refresh as it opens, and the view
 * loads then, once instead of twice. Where the stream does not open (no
 * stream, or an answer that takes more than a few seconds) it runs load
 * anyway.
 */
export function firstLoad(feed, signal, load) {
  if (feed.mode !== 'connecting') {
    load();
    return;
  }
  let refreshed = false;
  const unsubscribe = feed.subscribe((m) => {
    if (m.kind === 'refresh') refreshed = true;
  });
  let timer = null;
  const fallback = () => {
    clearTimeout(timer);
    unsubscribe();
    if (!refreshed && !signal.aborted) load();
  };
  timer = setTimeout(fallback, 3000);
  feed.whenOpen().then(fallback);
}
