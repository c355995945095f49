// Plots: operations per minute, provisioning durations, items per minute.
// Phase 1 draws fixed sample data; phase 2 feeds the same charts from the
// API's history.

import { chart, histogram } from '../chart.js';
import { h } from '../dom.js';
import { itemsPerMinute, operationsPerMinute, provisioningSeconds } from '../sample-data.js';

const clock = (s) => new Date(s * 1000).toISOString().slice(11, 16) + ' UTC';

export function plotsView({ signal }) {
  const ops = operationsPerMinute();
  const durations = provisioningSeconds();
  const [starts, counts] = histogram(durations, 0.5, 20);
  const items = itemsPerMinute();
  const node = h('div', { class: 'view' },
    h('div', { class: 'view-head' }, h('h1', { tabindex: '-1' }, 'Plots'),
      h('p', { class: 'summary' }, 'Operations, provisioning and items over the last hour.')),
    h('div', { class: 'notice', role: 'note' },
      h('strong', {}, 'Sample data. '),
      'connops does not report this history yet, so these charts show fixed example numbers in the real units. ' +
      'They will show your tenant once the change stream lands.'),
    h('div', { class: 'charts' },
      chart({
        signal, kind: 'time', title: 'Operations per minute',
        description: 'started, completed and failed, last hour',
        summary: `Line chart of operations per minute over one hour: ${sum(ops.started)} started, ` +
          `${sum(ops.completed)} completed, ${sum(ops.failed)} failed.`,
        xLabel: 'Minute', yLabel: 'operations / min', xFormat: clock,
        series: [{ label: 'Started', color: 'blue' }, { label: 'Completed', color: 'green' }, { label: 'Failed', color: 'red' }],
        data: [ops.t, ops.started, ops.completed, ops.failed],
      }),
      chart({
        signal, kind: 'bars', title: 'Provisioning durations',
        description: `schema registrations by time to complete, ${durations.length} registrations`,
        summary: `Histogram of ${durations.length} provisioning durations in half-second buckets; ` +
          `median ${median(durations)} s.`,
        xLabel: 'Seconds', yLabel: 'registrations',
        xFormat: (s) => `${s.toFixed(1)}–${(s + 0.5).toFixed(1)} s`,
        series: [{ label: 'Registrations', color: 'purple' }],
        data: [starts, counts],
      }),
      chart({
        signal, kind: 'time', title: 'Items written per minute', description: 'last hour',
        summary: `Line chart of items written per minute over one hour: ${sum(items.written)} in all.`,
        xLabel: 'Minute', yLabel: 'items / min', xFormat: clock,
        series: [{ label: 'Items written', color: 'blue' }],
        data: [items.t, items.written],
      })));
  return { title: 'Plots', node };
}

function sum(xs) {
  return xs.reduce((a, b) => a + b, 0);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
