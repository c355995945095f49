// The numbers behind the plots: GET …/{id}/statistics (a connops extension)
// answers one connection's last hour per minute; these functions add
// connections together and bucket provisioning durations. Plain functions,
// so Node tests them.

const minute = 60;

/**
 * empty is an hour with nothing in it, ending at the minute of now (unix
 * seconds).
 */
export function empty(now = Date.now() / 1000, minutes = 60) {
  const last = Math.floor(now / minute) * minute;
  const zeros = () => new Array(minutes).fill(0);
  return {
    windowStart: last - (minutes - 1) * minute, minuteCount: minutes,
    operationsStarted: zeros(), operationsCompleted: zeros(), operationsFailed: zeros(), itemsWritten: zeros(),
    provisioningSeconds: [],
  };
}

/** read turns the API's answer into numbers: windowStart in unix seconds. */
export function read(body) {
  const start = Date.parse(body?.windowStart ?? '');
  const n = Number.isInteger(body?.minuteCount) ? body.minuteCount : 0;
  if (!Number.isFinite(start) || n <= 0) throw new TypeError('statistics without a window');
  const series = (k) => Array.from({ length: n }, (_, i) => Number(body[k]?.[i] ?? 0) || 0);
  return {
    windowStart: start / 1000, minuteCount: n,
    operationsStarted: series('operationsStarted'), operationsCompleted: series('operationsCompleted'),
    operationsFailed: series('operationsFailed'), itemsWritten: series('itemsWritten'),
    provisioningSeconds: (Array.isArray(body.provisioningSeconds) ? body.provisioningSeconds : [])
      .map(Number).filter((s) => Number.isFinite(s) && s >= 0),
  };
}

const seriesKeys = ['operationsStarted', 'operationsCompleted', 'operationsFailed', 'itemsWritten'];

/**
 * sum adds connections' statistics minute by minute. Answers read a few
 * seconds apart may straddle a minute: all are aligned on the newest
 * window, and minutes before it are dropped.
 */
export function sum(list, now) {
  const all = list.filter(Boolean);
  if (all.length === 0) return empty(now);
  const newest = all.reduce((a, s) => (s.windowStart > a.windowStart ? s : a));
  const n = newest.minuteCount;
  const out = { ...empty(0, n), windowStart: newest.windowStart, minuteCount: n };
  for (const s of all) {
    const shift = Math.round((newest.windowStart - s.windowStart) / minute);
    for (const k of seriesKeys) {
      s[k].forEach((v, i) => {
        const j = i - shift;
        if (j >= 0 && j < n) out[k][j] += v;
      });
    }
    out.provisioningSeconds.push(...s.provisioningSeconds);
  }
  return out;
}

/** minutes lists the start of each minute of s (unix seconds). */
export function minutes(s) {
  return Array.from({ length: s.minuteCount }, (_, i) => s.windowStart + i * minute);
}

const niceWidths = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

/**
 * durationBuckets is a histogram of durations in seconds: [starts, counts]
 * and the bucket width, at most maxBuckets buckets of a round width from 0.
 */
export function durationBuckets(values, maxBuckets = 20) {
  const max = values.length ? Math.max(...values) : 0;
  const width = niceWidths.find((w) => max < w * maxBuckets) ?? Math.ceil(max / maxBuckets);
  const buckets = Math.max(Math.min(maxBuckets, Math.floor(max / width) + 1), 5);
  const starts = Array.from({ length: buckets }, (_, i) => Math.round(i * width * 10) / 10);
  const counts = new Array(buckets).fill(0);
  for (const v of values) counts[Math.min(buckets - 1, Math.floor(v / width))]++;
  return { starts, counts, width };
}

/** total adds up a series. */
export function total(xs) {
  return xs.reduce((a, b) => a + b, 0);
}

/** median of a list of numbers (0 for none). */
export function median(xs) {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
