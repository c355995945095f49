// Charts, drawn with uPlot (vendored in vendor/uplot, MIT). Each chart is a
// figure with a caption, the canvas (sized to its box, redrawn on resize),
// and the same numbers as a table for people who cannot see the canvas.

import uPlot from './vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';

const palette = { blue: '#1d4ed8', green: '#15803d', red: '#b91c1c', purple: '#6d28d9', grey: '#4b5563' };

/**
 * chart builds a chart. spec: title, description, kind ('time': x in unix
 * seconds, one line per series; 'bars': x are bucket starts, one bar per
 * bucket), xLabel, yLabel, series [{label, color}], data [xs, ...ys],
 * xFormat (for the table), signal (destroys the chart when aborted).
 */
export function chart(spec) {
  const box = h('div', { class: 'chart-canvas', role: 'img', 'aria-label': spec.summary ?? spec.title });
  const node = h('figure', { class: 'chart' },
    h('figcaption', {}, h('strong', {}, spec.title), spec.description ? h('span', {}, spec.description) : null),
    box,
    dataTable(spec));
  let plot = null;
  const observer = new ResizeObserver(() => {
    const width = Math.floor(box.clientWidth);
    if (width <= 0) return;
    const height = Math.max(180, Math.min(280, Math.round(width * 0.4)));
    if (plot) plot.setSize({ width, height });
    else plot = new uPlot(options(spec, width, height), spec.data, box);
  });
  observer.observe(box);
  spec.signal?.addEventListener('abort', () => {
    observer.disconnect();
    plot?.destroy();
  });
  return node;
}

function options(spec, width, height) {
  const bars = spec.kind === 'bars';
  const axis = { stroke: palette.grey, grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#d1d5db' } };
  return {
    width, height,
    scales: { x: { time: !bars } },
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      { label: spec.xLabel },
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
      { ...axis, label: bars ? spec.xLabel : undefined },
      { ...axis, label: spec.yLabel, size: 56 },
    ],
  };
}

function dataTable(spec) {
  const [xs, ...ys] = spec.data;
  const fmt = spec.xFormat ?? String;
  return h('details', { class: 'chart-data' },
    h('summary', {}, 'The numbers as a table'),
    h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': `${spec.title}: numbers` },
      h('table', { class: 'grid compact' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, spec.xLabel),
          spec.series.map((s) => h('th', { scope: 'col', class: 'num' }, s.label)))),
        h('tbody', {}, xs.map((x, i) => h('tr', {}, h('th', { scope: 'row' }, fmt(x)),
          ys.map((col) => h('td', { class: 'num' }, String(col[i])))))))));
}

/** histogram counts values into buckets of width from 0: [starts, counts]. */
export function histogram(values, width, buckets) {
  const starts = Array.from({ length: buckets }, (_, i) => i * width);
  const counts = new Array(buckets).fill(0);
  for (const v of values) counts[Math.min(buckets - 1, Math.max(0, Math.floor(v / width)))]++;
  return [starts, counts];
}
