// The vendored uPlot is exactly the npm package's files, at the version
// package.json pins: update both together (see docs/console.md).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const vendored = new URL('../../internal/console/assets/vendor/uplot/', import.meta.url);
const packaged = new URL('./node_modules/uplot/', import.meta.url);

test('internal/console/assets/vendor/uplot matches the uplot package', () => {
  const pinned = JSON.parse(readFileSync(new URL('./package.json', import.meta.url))).devDependencies.uplot;
  const installed = JSON.parse(readFileSync(new URL('package.json', packaged))).version;
  assert.equal(installed, pinned);
  for (const [mine, theirs] of [['uPlot.esm.js', 'dist/uPlot.esm.js'], ['uPlot.min.css', 'dist/uPlot.min.css'], ['LICENSE', 'LICENSE']]) {
    assert.ok(readFileSync(new URL(mine, vendored)).equals(readFileSync(new URL(theirs, packaged))), `${mine} differs from uplot@${pinned}'s ${theirs}`);
  }
  assert.match(readFileSync(new URL('uPlot.esm.js', vendored), 'utf8'), new RegExp(`\\(v${pinned.replace(/\./g, '\\.')}\\)`));
});
