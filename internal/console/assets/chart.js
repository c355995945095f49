// Charts, drawn with uPlot (vendored in vendor/uplot, MIT). Each chart is a
// figure with a caption, the canvas (sized to its box, redrawn on resize),
// and the same numbers as a table for people who cannot see the canvas.

import uPlot from './vendor/uplot/uPlot.esm.js';
import { h, replace, setText } from './dom.js';

const palette = { blue: '#1d4ed8', green: '#15803d', red: '#b91c1c', purple: '#6d28d9', grey: '#4b5563' };

/**
 * chart builds a chart: {node, update(data, summary)}. spec: title,
 * description, summary (the chart in words), kind ('time': x in unix
 * seconds, shown in UTC, one line per series; 'bars': x are bucket starts,
 * one bar per bucket), xLabel, yLabel, series [{label, color}], data
 * [xs, ...ys], xFormat (for the table), signal (destroys the chart when
 * aborted).
 */
export function chart(spec) {
  const box = h('div', { class: 'chart-canvas', role: 'img', 'aria-label': spec.summary ?? spec.title });
  const caption = h('span', {}, spec.description ?? '');
  const tbody = h('tbody');
  const node = h('figure', { class: 'chart' },
    h('figcaption', {}, h('strong', {}, spec.title), caption),
    box,
    dataTable(spec, tbody));
  let data = spec.data;
  let plot = null;
  fillTable(spec, tbody, data);
  const observer = new ResizeObserver(() => {
    const width = Math.floor(box.clientWidth);
    if (width <= 0) return;
    const height = Math.max(180, Math.min(280, Math.round(width * 0.4)));
    if (plot) plot.setSize({ width, height });
    else plot = new uPlot(options(spec, width, height), data, box);
  });
  observer.observe(box);
  spec.signal?.addEventListener('abort', () => {
    observer.disconnect();
    plot?.destroy();
  });
  return {
    node,
    /** update draws new numbers, in place (the figure keeps its focus). */
    update(next, { summary, description } = {}) {
      data = next;
      plot?.setData(next);
      fillTable(spec, tbody, next);
      if (summary != null) box.setAttribute('aria-label', summary);
      if (description != null) setText(caption, description);
    },
  };
}

function options(spec, width, height) {
  const bars = spec.kind === 'bars';
  const axis = { stroke: palette.grey, grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#d1d5db' } };
  return {
    width, height,
    // The tables say UTC; so do the axes.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: {
      // Each bar spans its bucket, the last one too.
      x: bars ? { time: false, range: (u, min, max) => [0, max + ((u.data[0][1] - u.data[0][0]) || 1)] } : { time: true },
      // Counts start at zero, and an empty hour still has an axis.
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      { label: spec.xLabel, value: bars ? (u, v) => (v == null ? '' : spec.xFormat(v)) : undefined },
      ...spec.series.map((s) => ({
        label: s.label,
        stroke: palette[s.color] ?? s.color,
        width: 2,
        fill: bars ? `${palette[s.color] ?? s.color}cc` : undefined,
        paths: bars ? uPlot.paths.bars({ size: [0.9, 64], align: 1 }) : undefined,
        points: { show: false },
      })),
    ],
    axes: [
      bars ? { ...axis, label: spec.xLabel }
        : { ...axis, label: 'UTC', values: (u, splits) => splits.map((v) => new Date(v * 1000).toISOString().slice(11, 16)) },
      { ...axis, label: spec.yLabel, size: 56 },
    ],
  };
}

function dataTable(spec, tbody) {
  return h('details', { class: 'chart-data' },
    h('summary', {}, 'The numbers as a table'),
    h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': `${spec.title}: numbers` },
      h('table', { class: 'grid compact' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, spec.xLabel),
          spec.series.map((s) => h('th', { scope: 'col', class: 'num' }, s.label)))),
        tbody)));
}

function fillTable(spec, tbody, data) {
  const [xs, ...ys] = data;
  const fmt = spec.xFormat ?? String;
  replace(tbody, xs.map((x, i) => h('tr', {}, h('th', { scope: 'row' }, fmt(x)),
    ys.map((col) => h('td', { class: 'num' }, String(col[i]))))));
}
