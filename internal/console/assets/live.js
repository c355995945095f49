// The live feed of a signed-in tab: the connections collection's event
// stream, or, where connops answers it with no stream, a refresh every few
// seconds. Views subscribe to it for what changed.

import { EventStream } from './stream.js';

/**
 * LiveFeed tells its subscribers what changed. Each gets every change of
 * the stream ({kind: 'change', ...}, see stream.js changeOf), and
 * {kind: 'refresh'} when it should reload what it shows: when the stream
 * opens afresh (not when it resumes after Last-Event-ID, which misses
 * nothing; after a 410, when connops no longer holds the changes it would
 * resume after, it opens afresh), and at every poll. onState hears the mode: 'connecting', 'stream',
 * 'polling', 'reconnecting', 'paused', 'stopped'.
 */
export class LiveFeed {
  constructor({
    client, pollMs = 5000, streamRetryMs = 60000, onState = () => {}, now = () => Date.now(), hideMs,
    // A subscriber's error is thrown on its own, so it reaches the console
    // without stopping the feed.
    onError = (e) => setTimeout(() => { throw e; }),
  }) {
    Object.assign(this, { client, pollMs, streamRetryMs, onState, now, hideMs, onError });
    this.subscribers = new Set();
    this.stream = null;
    this.timer = null;
    this.stopped = true;
    this.mode = 'stopped';
    this.lastEventID = '';
    this.waiters = [];
  }

  subscribe(fn) {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.openStream();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stream?.stop();
    this.stream = null;
    this.lastEventID = '';
    this.setMode('stopped');
  }

  /** position is the id of the newest change the stream has passed ('' when
   * not streaming): changes up to it happened before now. */
  get position() {
    return this.mode === 'stream' || this.mode === 'reconnecting' || this.mode === 'paused' ? this.lastEventID : '';
  }

  /** whenOpen resolves with position once the stream has been open, or
   * with '' once the feed polls or stops instead. */
  whenOpen() {
    if (this.position || this.mode === 'polling' || this.stopped) return Promise.resolve(this.position);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  setMode(mode) {
    if (this.mode !== mode) {
      this.mode = mode;
      this.onState(mode);
    }
    if (this.position || mode === 'polling' || mode === 'stopped') {
      for (const w of this.waiters.splice(0)) w(this.position);
    }
  }

  emit(message) {
    for (const fn of [...this.subscribers]) {
      try {
        fn(message);
      } catch (e) {
        // One view's failure must not stop the others from hearing.
        this.onError(e);
      }
    }
  }

  openStream() {
    if (this.stopped) return;
    const polling = this.mode === 'polling';
    const stream = new EventStream({
      client: this.client, path: '', lastEventID: this.lastEventID, hideMs: this.hideMs,
      onState: (s) => {
        // While polling, another try at the stream is not news.
        if (polling && s === 'connecting') return;
        this.setMode({ open: 'stream', connecting: 'connecting', reconnecting: 'reconnecting', paused: 'paused' }[s] ?? s);
      },
      onOpen: ({ resumed }) => {
        this.lastEventID = stream.lastEventID;
        clearTimeout(this.timer);
        this.setMode('stream');
        if (!resumed) this.emit({ kind: 'refresh' });
      },
      onChange: (change) => {
        this.lastEventID = stream.lastEventID;
        this.emit(change);
      },
      // After a 410 the stream starts again without Last-Event-ID, and so
      // asks for a refresh as it opens.
      onEnd: (reason) => {
        if (this.stream !== stream) return;
        this.stream = null;
        // A refused token is the views' to explain; asking again every few
        // seconds would only be refused again.
        if (reason === 'unauthorized' || reason === 'forbidden' || this.stopped) this.stop();
        else this.poll();
      },
    });
    this.stream = stream;
    stream.start();
  }

  // poll asks every subscriber to refresh every pollMs while the page is
  // visible, and tries the stream again after streamRetryMs.
  poll() {
    this.setMode('polling');
    const since = this.now();
    const tick = () => {
      if (this.stopped) return;
      if (this.now() - since >= this.streamRetryMs) {
        this.openStream();
        return;
      }
      if (typeof document === 'undefined' || document.visibilityState !== 'hidden') this.emit({ kind: 'refresh' });
      this.timer = setTimeout(tick, this.pollMs);
    };
    clearTimeout(this.timer);
    this.timer = setTimeout(tick, this.pollMs);
  }
}
