// The three charts of an hour of activity, for one connection or for all:
// operations started, completed and failed per minute; provisioning
// durations as a histogram; items written per minute.

import { chart } from '../chart.js';
import { h } from '../dom.js';
import { durationBuckets, empty, median, minutes, read, sum, total } from '../statistics.js';
import { coalesce, isAbort } from './common.js';

const clock = (s) => `${new Date(s * 1000).toISOString().slice(11, 16)} UTC`;
const seconds = (v) => (v < 10 ? v.toFixed(1) : String(Math.round(v)));

/** activity builds the charts: {node, update(stats)}; what names whose
 * activity it is ("this connection", "3 connections"). */
export function activity({ signal, what }) {
  const zero = empty();
  const t = minutes(zero);
  const ops = chart({
    signal, kind: 'time', title: 'Operations per minute', description: 'loading…',
    xLabel: 'Minute', yLabel: 'operations / min', xFormat: clock,
    series: [{ label: 'Started', color: 'blue' }, { label: 'Completed', color: 'green' }, { label: 'Failed', color: 'red' }],
    data: [t, zero.operationsStarted, zero.operationsCompleted, zero.operationsFailed],
  });
  const buckets = durationBuckets([]);
  const provisioning = chart({
    signal, kind: 'bars', title: 'Provisioning durations', description: 'loading…',
    xLabel: 'Seconds', yLabel: 'registrations', xFormat: (s) => `${s}–${seconds(s + buckets.width)} s`,
    series: [{ label: 'Registrations', color: 'purple' }],
    data: [buckets.starts, buckets.counts],
  });
  const items = chart({
    signal, kind: 'time', title: 'Items written per minute', description: 'loading…',
    xLabel: 'Minute', yLabel: 'items / min', xFormat: clock,
    series: [{ label: 'Items written', color: 'blue' }],
    data: [t, zero.itemsWritten],
  });
  const node = h('div', { class: 'charts' }, ops.node, provisioning.node, items.node);

  return {
    node,
    update(s, whatNow = what) {
      const xs = minutes(s);
      ops.update([xs, s.operationsStarted, s.operationsCompleted, s.operationsFailed], {
        description: `${total(s.operationsStarted)} started, ${total(s.operationsCompleted)} completed, ` +
          `${total(s.operationsFailed)} failed in the last hour, ${whatNow}`,
        summary: `Line chart of operations per minute over the last hour: ${total(s.operationsStarted)} started, ` +
          `${total(s.operationsCompleted)} completed, ${total(s.operationsFailed)} failed.`,
      });
      const d = s.provisioningSeconds;
      const b = durationBuckets(d);
      buckets.width = b.width;
      provisioning.update([b.starts, b.counts], {
        description: d.length ? `${d.length} recent schema registration${d.length === 1 ? '' : 's'} by time to finish, ${whatNow}`
          : `no schema registration has finished yet, ${whatNow}`,
        summary: d.length ? `Histogram of ${d.length} provisioning durations in buckets of ${b.width} s; median ${seconds(median(d))} s.`
          : 'Histogram of provisioning durations: none yet.',
      });
      items.update([xs, s.itemsWritten], {
        description: `${total(s.itemsWritten)} written in the last hour, ${whatNow}`,
        summary: `Line chart of items written per minute over the last hour: ${total(s.itemsWritten)} in all.`,
      });
    },
  };
}

/**
 * liveActivity keeps the charts of some connections current: {node,
 * set(ids), changed(id), error}. set reads the statistics of every
 * connection in ids; changed marks one whose operations changed, read again
 * at most every 5 s. Once a minute, when the hour moves on by a minute,
 * all are read again: the statistics count items too, and item writes are
 * not on the change stream.
 */
export function liveActivity({ client, signal, what, onError = () => {} }) {
  const charts = activity({ signal, what: typeof what === 'function' ? what(0) : what });
  const stats = new Map(); // id -> statistics, or null while unread
  const dirty = new Set();
  let ids = [];

  async function readOne(id) {
    try {
      stats.set(id, read(await client.json(`${encodeURIComponent(id)}/statistics`, { signal })));
      onError(null);
    } catch (e) {
      if (isAbort(e)) return;
      onError(e);
    }
  }

  function draw() {
    if (signal.aborted) return;
    const known = ids.map((id) => stats.get(id)).filter(Boolean);
    charts.update(sum(known), typeof what === 'function' ? what(ids.length) : what);
  }

  async function readAll(list) {
    await Promise.all(list.map(readOne));
    draw();
  }

  const flush = coalesce(() => {
    const list = [...dirty].filter((id) => ids.includes(id));
    dirty.clear();
    readAll(list);
  }, 5000, signal);

  // The next minute starts the hour one minute later; read a few seconds
  // after it, when its first counts are in.
  let timer = null;
  function everyMinute() {
    const ms = 60000 - (Date.now() % 60000) + 3000;
    timer = setTimeout(() => {
      if (typeof document === 'undefined' || document.visibilityState !== 'hidden') readAll(ids);
      everyMinute();
    }, ms);
  }
  everyMinute();
  signal.addEventListener('abort', () => clearTimeout(timer));

  return {
    node: charts.node,
    /** set shows the sum of these connections, reading the new ones (all
     * with fresh set). */
    set(list, { fresh = false } = {}) {
      ids = [...list];
      for (const id of stats.keys()) if (!ids.includes(id)) stats.delete(id);
      return readAll(fresh ? ids : ids.filter((id) => !stats.has(id)));
    },
    changed(id) {
      if (!ids.includes(id)) return;
      dirty.add(id);
      flush();
    },
  };
}
