// Unit tests of the plots' arithmetic: reading GET …/statistics, adding
// connections up minute by minute, bucketing provisioning durations.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { durationBuckets, empty, median, minutes, read, sum, total } from '../../internal/console/assets/statistics.js';

const at = (iso) => Date.parse(iso) / 1000;

function body(windowStart, fill = {}) {
  const series = (k) => Array.from({ length: 60 }, (_, i) => fill[k]?.[i] ?? 0);
  return {
    windowStart, minuteCount: 60, operationsStarted: series('started'), operationsCompleted: series('completed'),
    operationsFailed: series('failed'), itemsWritten: series('items'), provisioningSeconds: fill.provisioning ?? [],
  };
}

describe('statistics', () => {
  test('read takes the API answer', () => {
    const s = read(body('2026-12-01T09:01:00Z', { started: { 59: 3 }, provisioning: [5.2, 0.4] }));
    assert.equal(s.windowStart, at('2026-12-01T09:01:00Z'));
    assert.equal(s.operationsStarted[59], 3);
    assert.deepEqual(s.provisioningSeconds, [5.2, 0.4]);
    assert.deepEqual(minutes(s).slice(0, 2), [at('2026-12-01T09:01:00Z'), at('2026-12-01T09:02:00Z')]);
    assert.throws(() => read({ minuteCount: 60 }), TypeError);
  });

  test('sum adds connections minute by minute', () => {
    const a = read(body('2026-12-01T09:01:00Z', { started: { 0: 1, 59: 2 }, items: { 10: 7 }, provisioning: [1] }));
    const b = read(body('2026-12-01T09:01:00Z', { started: { 59: 5 }, failed: { 3: 1 }, provisioning: [2, 3] }));
    const s = sum([a, b]);
    assert.equal(s.operationsStarted[0], 1);
    assert.equal(s.operationsStarted[59], 7);
    assert.equal(s.operationsFailed[3], 1);
    assert.equal(s.itemsWritten[10], 7);
    assert.deepEqual(s.provisioningSeconds, [1, 2, 3]);
  });

  test('answers that straddle a minute are aligned on the newest, and the oldest minute dropped', () => {
    const older = read(body('2026-12-01T09:00:00Z', { started: { 0: 4, 59: 1 } }));
    const newer = read(body('2026-12-01T09:01:00Z', { started: { 58: 2 } }));
    const s = sum([older, newer]);
    assert.equal(s.windowStart, newer.windowStart);
    assert.equal(total(s.operationsStarted), 3); // the older's first minute is out of the hour
    assert.equal(s.operationsStarted[58], 3);
  });

  test('no connection is an empty hour ending now', () => {
    const s = sum([], at('2026-12-01T10:00:30Z'));
    assert.equal(s.windowStart, at('2026-12-01T09:01:00Z'));
    assert.equal(total(s.operationsStarted), 0);
    assert.deepEqual(s, empty(at('2026-12-01T10:00:59Z')));
  });

  test('durations fall into round buckets from zero', () => {
    const b = durationBuckets([0.2, 4.9, 5.1, 5.3, 12]);
    assert.equal(b.width, 1);
    assert.equal(b.starts[0], 0);
    assert.equal(b.counts.length, 13);
    assert.equal(b.counts[0], 1);
    assert.equal(b.counts[4], 1);
    assert.equal(b.counts[5], 2);
    assert.equal(b.counts[12], 1);
    assert.equal(total(b.counts), 5);
    assert.equal(durationBuckets([0.01, 0.02]).width, 0.1);
    assert.equal(durationBuckets([3600]).width, 300);
    assert.equal(durationBuckets([]).counts.length, 5);
  });

  test('median', () => {
    assert.equal(median([]), 0);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
  });
});
