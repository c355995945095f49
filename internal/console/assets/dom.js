// DOM helpers. Every value from the API goes into the page as text: h()
// turns strings into text nodes and sets attributes one by one, and nothing
// in the console assigns innerHTML.

/**
 * h builds an element. props: "class", "text", event listeners as functions
 * under "on<event>", and plain attributes (strings; true for a bare one;
 * null, undefined and false leave it out). children: nodes, strings, numbers,
 * arrays of them, or null.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new TypeError(`${key} must be a function`);
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'text') {
      el.textContent = String(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

/** replace empties el and puts children in its place. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** setText changes a node's text only when it differs, so a refresh that
 * changes nothing does not disturb the page. */
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/** Hash-route links, with every id escaped. */
export const links = {
  overview: () => '#/',
  plots: () => '#/plots',
  connection: (id, status) =>
    `#/connections/${encodeURIComponent(id)}` + (status ? `?status=${encodeURIComponent(status)}` : ''),
  operation: (connectionId, id) =>
    `#/connections/${encodeURIComponent(connectionId)}/operations/${encodeURIComponent(id)}`,
};

let uid = 0;
/** id returns a fresh element id for label/aria wiring. */
export function id(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** badge renders an enum value as a coloured label; only known values get a
 * colour class, so no API value ever chooses a class name. */
const badgeKinds = new Set(['draft', 'ready', 'obsolete', 'limitExceeded', 'unspecified', 'inprogress',
  'completed', 'failed', 'none', 'registering', 'active', 'unknownFutureValue', 'created', 'updated', 'deleted']);
const badgeWords = { inprogress: 'in progress', limitExceeded: 'limit exceeded' };
export function badge(value) {
  const v = value == null ? '' : String(value);
  const cls = badgeKinds.has(v) ? `badge badge-${v}` : 'badge';
  return h('span', { class: cls }, badgeWords[v] ?? (v || '—'));
}

/** section builds a titled region. */
export function section(title, ...children) {
  const headingID = id('h');
  return h('section', { class: 'panel', 'aria-labelledby': headingID },
    h('h2', { id: headingID }, title), ...children);
}

/** codeBlock shows a command people can copy. */
export function codeBlock(label, text) {
  const pre = h('pre', { class: 'code', tabindex: '0', 'aria-label': label }, h('code', {}, text));
  const note = h('span', { class: 'copy-note', role: 'status' });
  const copy = h('button', {
    type: 'button', class: 'secondary small',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        note.textContent = 'Copied.';
      } catch {
        note.textContent = 'Select the text and copy it yourself: the browser refused.';
      }
    },
  }, 'Copy');
  return h('div', { class: 'code-wrap' }, pre, h('div', { class: 'code-actions' }, copy, note));
}

/** relativeTime says how far away a date is, in words. */
export function relativeTime(date, now = Date.now()) {
  const s = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(s);
  const [n, unit] = abs < 90 ? [abs, 'second'] : abs < 5400 ? [Math.round(abs / 60), 'minute']
    : abs < 129600 ? [Math.round(abs / 3600), 'hour'] : [Math.round(abs / 86400), 'day'];
  const words = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return s >= 0 ? `in ${words}` : `${words} ago`;
}
