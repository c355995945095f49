// Timelines: a connection's changes, or one operation's, from connops's
// change log. The connection's operations stream is read from Last-Event-ID
// 0, which replays every change the log still holds, then stays open for
// new ones. Changes are ordered by their id, which is commit order.

import { badge, h, setText } from '../dom.js';
import { EventStream } from '../stream.js';

const pageSize = 200;
const kept = 5000;

/**
 * timeline builds the list: {node, add(change, live), note(text)}.
 * describe(change) gives what the entry says after its kind; filter(change)
 * keeps only some changes. Each entry carries the time its change
 * committed (@connops.changedAt); a change without one is dated when it
 * arrived, if it arrived live.
 */
export function timeline({ label, describe, filter = () => true, emptyText }) {
  const status = h('p', { class: 'muted', role: 'status' }, 'Reading the change log…');
  const summary = h('p', { class: 'muted' });
  const list = h('ol', { class: 'timeline', 'aria-label': label, reversed: true });
  const more = h('button', { type: 'button', class: 'secondary small', hidden: true }, 'Show older changes');
  const empty = h('p', { class: 'empty small', hidden: true }, emptyText);
  const node = h('div', { class: 'timeline-wrap' }, status, summary, empty, list, more);
  const entries = []; // newest first
  const seen = new Set();
  const rendered = new Map(); // seq -> li
  let shown = pageSize;
  let dropped = false;
  let scheduled = false;

  more.addEventListener('click', () => {
    shown += pageSize;
    render();
  });

  function add(change, live) {
    if (!filter(change) || seen.has(change.seq)) return;
    seen.add(change.seq);
    const committed = Date.parse(change.data?.['@connops.changedAt'] ?? '');
    const entry = { change, at: Number.isNaN(committed) ? (live ? new Date() : null) : new Date(committed) };
    // Mostly newer than all before it; a change from the other stream may
    // slot in between.
    let i = 0;
    while (i < entries.length && entries[i].change.seq > change.seq) i++;
    entries.splice(i, 0, entry);
    if (entries.length > kept) {
      const gone = entries.pop();
      seen.delete(gone.change.seq);
      rendered.get(gone.change.seq)?.remove();
      rendered.delete(gone.change.seq);
      dropped = true;
    }
    if (!scheduled) {
      // A replay brings many changes at once: draw once they are in.
      scheduled = true;
      setTimeout(render, 0);
    }
  }

  function render() {
    scheduled = false;
    const visible = entries.slice(0, shown);
    const keep = new Set(visible.map((e) => e.change.seq));
    for (const [seq, li] of rendered) {
      if (!keep.has(seq)) {
        li.remove();
        rendered.delete(seq);
      }
    }
    visible.forEach((e, i) => {
      let li = rendered.get(e.change.seq);
      if (!li) {
        li = entryNode(e, describe);
        rendered.set(e.change.seq, li);
      }
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
    });
    more.hidden = entries.length <= shown;
    empty.hidden = entries.length > 0;
    const n = entries.length;
    setText(summary, n === 0 ? '' : `${n} change${n === 1 ? '' : 's'}, newest first` +
      (n > shown ? `; the newest ${shown} shown` : '') + (dropped ? `; only the newest ${kept} are kept` : '') + '.');
  }

  return {
    node,
    add,
    /** note says where the timeline's stream stands. */
    note(text) {
      setText(status, text);
      if (!scheduled) render();
    },
  };
}

function entryNode({ change, at }, describe) {
  return h('li', { class: `tl tl-${change.type}`, 'data-seq': change.seq },
    h('span', { class: 'tl-seq', title: 'change id (commit order)' }, `#${change.seq}`),
    badge(change.type),
    h('span', { class: 'tl-what' }, describe(change)),
    at ? h('time', { class: 'tl-time', datetime: at.toISOString() }, at.toLocaleTimeString('en-GB')) : null);
}

/** changeState is the status of an operation or the state of a connection,
 * as a badge. */
export function changeState(change) {
  return badge(change.entity === 'operation' ? change.data.status : change.data.state);
}

const endWords = {
  deleted: 'The connection was deleted: its timeline ends here.',
  notFound: 'No such connection for this token: it has no timeline.',
  forbidden: 'This token may not read the change stream.',
  unavailable: 'connops offers no change stream here, so there is no timeline.',
  unauthorized: '',
};

/**
 * followConnection reads a connection's operations stream from the start
 * of the log, then live, into tl (and calls onChange for each change, with
 * live set for those made since the page opened). It waits for the tab's
 * feed first: its position tells old changes from new ones.
 */
export async function followConnection({ client, feed, signal, connectionID, tl, onChange = () => {} }) {
  const start = Number(await feed.whenOpen()) || 0;
  if (signal.aborted) return;
  if (!start && feed.mode !== 'stream') {
    tl.note('The change stream is not available, so there is no timeline; the page refreshes every few seconds instead.');
    return;
  }
  let purged = '';
  const stream = new EventStream({
    client, connectionID, lastEventID: '0',
    path: `${encodeURIComponent(connectionID)}/operations`,
    onState: (s) => {
      if (s === 'open') tl.note(`${purged}Live: new changes appear as they happen.`);
      else if (s === 'reconnecting') tl.note('Reconnecting to the change stream…');
      else if (s === 'paused') tl.note('Paused while the tab is hidden.');
    },
    onChange: (change) => {
      const live = change.seq > start;
      tl.add(change, live);
      onChange(change, live);
    },
    onGone: () => {
      purged = 'connops no longer holds every older change (CHANGE_RETENTION has removed some), so the timeline starts now. ';
    },
    onEnd: (reason) => tl.note(endWords[reason] ?? `The change stream ended (${reason}).`),
  });
  signal.addEventListener('abort', () => stream.stop());
  stream.start();
  return stream;
}
