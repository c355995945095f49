// Plots: the last hour of every connection the token may see, added up
// here from each connection's GET …/statistics (a connops extension):
// operations started, completed and failed per minute, provisioning
// durations, items written per minute.

import { h, setText } from '../dom.js';
import { liveActivity } from './activity.js';
import { firstLoad, isAbort, show, showError } from './common.js';

const maxConnections = 500;

export function plotsView({ client, feed, signal }) {
  const summary = h('p', { class: 'summary' }, 'Reading the connections…');
  const errorSlot = h('div');
  const what = (n) => `${n} connection${n === 1 ? '' : 's'}`;
  const charts = liveActivity({
    client, signal, what,
    onError: (e) => (e ? showError(errorSlot, e, 'The statistics') : show(errorSlot, '')),
  });
  const node = h('div', { class: 'view' },
    h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Plots'), summary),
    errorSlot,
    charts.node);

  let ids = [];
  let capped = false;
  async function listAll() {
    let page = await client.page('?$top=100&$select=id', { signal });
    let all = page.items;
    while (page.next && all.length < maxConnections) {
      page = await client.page(page.next, { signal });
      all = all.concat(page.items);
    }
    capped = Boolean(page.next);
    return all.map((c) => c.id);
  }

  function describe() {
    setText(summary, ids.length === 0
      ? 'No connections yet: the charts fill in once one has activity.'
      : `The last hour of ${capped ? 'the first ' : ''}${what(ids.length)}, added up, per minute (UTC). ` +
        'They follow the change stream, and move on every minute.');
  }

  async function load(fresh) {
    try {
      ids = await listAll();
    } catch (e) {
      if (isAbort(e)) return;
      showError(errorSlot, e, 'The connections');
      return;
    }
    describe();
    await charts.set(ids, { fresh });
  }

  const unsubscribe = feed.subscribe((m) => {
    if (m.kind !== 'change') {
      load(true);
    } else if (m.entity === 'connection' && m.type !== 'updated') {
      if (m.type === 'created' && !ids.includes(m.connectionId) && !capped) ids = [...ids, m.connectionId];
      if (m.type === 'deleted') ids = ids.filter((id) => id !== m.connectionId);
      describe();
      charts.set(ids);
    } else if (m.entity === 'operation') {
      charts.changed(m.connectionId);
    }
  });
  signal.addEventListener('abort', unsubscribe);
  firstLoad(feed, signal, () => load(false));
  return { title: 'Plots', node };
}
