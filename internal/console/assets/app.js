// The console's entry point: sign-in, the hash router, the header and the
// live feed. Routes live in the fragment (#/connections/x), so connops serves
// one page and never sees where you are.

import { Client } from './api.js';
import { h, links, relativeTime, replace } from './dom.js';
import { LiveFeed } from './live.js';
import * as session from './session.js';
import { connectionView } from './views/connection.js';
import { operationView } from './views/operation.js';
import { overviewView } from './views/overview.js';
import { plotsView } from './views/plots.js';
import { signInView } from './views/signin.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const live = document.getElementById('live');

let notice = null; // why the sign-in page is shown: {title, text}
let returnTo = '';
let current = null; // {name, controller}

const client = new Client({
  getToken: session.getToken,
  onUnauthorized: (err) => signOut({
    title: 'Token refused',
    text: `connops answered 401: ${err.message} The token is wrong or has expired; sign in again with a valid one.`,
  }),
});
const feed = new LiveFeed({ client, onState: showLive });

const routes = [
  { name: 'overview', match: (s) => s.length === 0, view: overviewView },
  { name: 'plots', match: (s) => s.length === 1 && s[0] === 'plots', view: plotsView },
  { name: 'connection', match: (s) => s.length === 2 && s[0] === 'connections', params: (s) => ({ id: s[1] }), view: connectionView },
  {
    name: 'operation', match: (s) => s.length === 4 && s[0] === 'connections' && s[2] === 'operations',
    params: (s) => ({ id: s[1], operationId: s[3] }), view: operationView,
  },
];

function parseRoute(hash) {
  const [path, q = ''] = hash.replace(/^#/, '').split('?');
  const segments = path.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  const route = routes.find((r) => r.match(segments));
  return { route, params: route?.params?.(segments) ?? {}, query: new URLSearchParams(q) };
}

// render shows the page for the address. After the first page it moves the
// focus to the new page's heading (or the view's chosen field), as a page
// load would for a screen reader; the first page leaves the focus at the
// top, where Tab reaches the skip link first.
function render({ first = false } = {}) {
  current?.controller.abort();
  const controller = new AbortController();
  const token = session.getToken();
  let view;
  let name;
  if (!token) {
    name = 'signin';
    nav.hidden = true;
    live.hidden = true;
    replace(who);
    view = signInView({ notice, onSubmit: signIn });
  } else {
    nav.hidden = false;
    live.hidden = false;
    showIdentity(token);
    const { route, params, query } = parseRoute(window.location.hash);
    name = route?.name ?? 'notFound';
    markNav(name);
    const replaceQuery = (q) => {
      const path = window.location.hash.replace(/^#/, '').split('?')[0] || '/';
      const qs = new URLSearchParams(q).toString();
      window.history.replaceState(null, '', `#${path}${qs ? `?${qs}` : ''}`);
    };
    const ctx = { client, feed, signal: controller.signal, params, query, replaceQuery, identity: session.describeToken(token) };
    view = route ? route.view(ctx) : notFoundView();
  }
  current = { name, controller };
  replace(main, view.node);
  document.title = `${view.title} · connops console`;
  if (view.focus) view.focus.focus({ preventScroll: true });
  else if (!first) main.querySelector('h1')?.focus({ preventScroll: true });
}

function notFoundView() {
  return {
    title: 'Not found',
    node: h('div', { class: 'view' }, h('h1', { tabindex: '-1' }, 'No such page'),
      h('p', {}, 'The console has no page at this address. ', h('a', { href: links.overview() }, 'Go to the connections.'))),
  };
}

async function signIn(token) {
  // Checked with a client of its own, so a 401 here is the form's to show.
  const check = new Client({ getToken: () => token });
  try {
    await check.request('?$top=1');
  } catch (e) {
    if (e.status === 401) {
      throw Object.assign(new Error(`connops answered 401: ${e.message} Check that you copied the whole token and that it has not expired.`),
        { title: 'Token refused' });
    }
    if (e.status !== 403) throw Object.assign(new Error(e.message), { title: 'Could not check the token' });
    // 403: the token is genuine but lacks a read permission; the pages say which.
  }
  session.setToken(token);
  notice = null;
  feed.start();
  window.history.replaceState(null, '', returnTo || '#/');
  returnTo = '';
  render();
}

function signOut(why) {
  if (!session.getToken() && current?.name === 'signin') return;
  session.clearToken();
  feed.stop();
  notice = why;
  if (why) returnTo = window.location.hash;
  render();
}

function showIdentity(token) {
  const t = session.describeToken(token);
  const parts = [];
  if (t?.tenant) parts.push(`tenant ${t.tenant}`);
  if (t?.app) parts.push(`app ${t.app}`);
  if (t?.expires) parts.push(`token expires ${relativeTime(t.expires)}`);
  replace(who,
    h('span', { class: 'who-text', title: t?.permissions.join(', ') ?? '' }, parts.join(' · ')),
    h('button', { type: 'button', class: 'secondary small', onclick: () => signOut(null) }, 'Sign out'));
}

function markNav(name) {
  for (const a of nav.querySelectorAll('a')) {
    const here = (a.dataset.route === 'overview' && ['overview', 'connection', 'operation'].includes(name)) || a.dataset.route === name;
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

const liveWords = {
  connecting: 'Connecting…',
  stream: 'Live',
  polling: 'Refreshing every 5 s',
  reconnecting: 'Reconnecting…',
  paused: 'Paused while hidden',
  stopped: '',
};

function showLive(mode) {
  live.className = `live live-${mode}`;
  live.textContent = liveWords[mode] ?? '';
  live.title = {
    stream: 'Changes arrive on connops\'s event stream as they happen.',
    polling: 'connops answered the event stream with no stream, so the console asks again every few seconds.',
    paused: 'The tab is hidden, so its streams are closed; they resume where they stopped when it is shown.',
  }[mode] ?? '';
}

window.addEventListener('hashchange', () => {
  // In-page anchors (#main) are not routes.
  if (window.location.hash === '' || window.location.hash.startsWith('#/')) render();
});
document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener('unhandledrejection', (e) => {
  // Leaving a page cancels its requests; that is not an error.
  if (e.reason?.name === 'AbortError') e.preventDefault();
});

session.takeTokenFromFragment();
if (!window.location.hash.startsWith('#/')) window.history.replaceState(null, '', '#/');
if (session.getToken()) feed.start();
render({ first: true });
