// The API client: the same Graph routes any client calls, with the signed-in
// token in the Authorization header. Every URL it fetches is on this origin,
// so the token goes nowhere else.

/** ApiError is a non-2xx answer in Graph's error envelope (or no answer). */
export class ApiError extends Error {
  constructor(status, code, message, { target = '', requestID = '' } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.target = target;
    this.requestID = requestID;
  }
}

/** versionRoot is the API's /v1.0 on the origin that served the console
 * (also behind a proxy that mounts connops under a path). */
export function versionRoot(base = document.baseURI) {
  return new URL('../v1.0', base).pathname;
}

/**
 * toLocal turns an API link (an @odata.nextLink is absolute, and its host
 * may be PUBLIC_BASE_URL's) into a path on this origin under root.
 */
export function toLocal(link, root = versionRoot()) {
  const u = new URL(link, 'http://invalid');
  const at = u.pathname.indexOf('/v1.0/');
  if (at < 0) throw new ApiError(0, 'badLink', `The API sent a link outside /v1.0: ${link}`);
  return root + u.pathname.slice(at + '/v1.0'.length) + u.search;
}

const maxRetries = 2;
const maxParallel = 4;

/**
 * Client calls the API. onUnauthorized runs on any 401 (the token is wrong
 * or expired): the app signs out and says why.
 */
export class Client {
  constructor({ getToken, onUnauthorized, root = versionRoot(), fetchImpl = (...a) => window.fetch(...a) }) {
    this.getToken = getToken;
    this.onUnauthorized = onUnauthorized;
    this.connections = root + '/external/connections';
    this.fetch = fetchImpl;
    this.root = root;
    this.running = 0;
    this.waiting = [];
  }

  /** request fetches path (relative to the connections collection when it
   * does not start with /) and returns the Response of a 2xx. */
  async request(path, { accept = 'application/json', signal, headers = {}, queue = true } = {}) {
    const url = path.startsWith('/') ? path
      : `${this.connections}${path === '' || path.startsWith('?') ? path : `/${path}`}`;
    // A stream is not held up behind a page's figures.
    if (queue) await this.slot();
    try {
      for (let attempt = 0; ; attempt++) {
        const res = await this.send(url, accept, signal, headers);
        if (res.ok) return res;
        const err = await errorOf(res);
        if (res.status === 401 && this.onUnauthorized) this.onUnauthorized(err);
        const wait = retryDelay(res);
        if (wait == null || attempt >= maxRetries) throw err;
        await sleep(wait, signal);
      }
    } finally {
      if (queue) this.release();
    }
  }

  async send(url, accept, signal, headers) {
    try {
      return await this.fetch(url, {
        headers: { Authorization: `Bearer ${this.getToken()}`, Accept: accept, ...headers },
        signal, cache: 'no-store', credentials: 'omit', redirect: 'error',
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', `connops did not answer (${e.message}). Is it running?`);
    }
  }

  async json(path, opts) {
    return (await this.request(path, opts)).json();
  }

  /** optional is json, with null for a 404. */
  async optional(path, opts) {
    try {
      return await this.json(path, opts);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }

  /** count reads a $count route (a bare integer in text/plain). */
  async count(path, opts) {
    const text = await (await this.request(path, { ...opts, accept: 'text/plain' })).text();
    const n = Number.parseInt(text.trim(), 10);
    if (!Number.isFinite(n)) throw new ApiError(0, 'badCount', `The API answered ${path} with "${text.slice(0, 40)}", not a number.`);
    return n;
  }

  /** page fetches one page of a list: a path, or a nextLink. */
  async page(pathOrLink, opts) {
    const path = /^https?:/i.test(pathOrLink) ? toLocal(pathOrLink, this.root) : pathOrLink;
    const body = await this.json(path, opts);
    return { items: Array.isArray(body.value) ? body.value : [], next: body['@odata.nextLink'] ?? '' };
  }

  // At most maxParallel requests at once: a page of connections asks for
  // several figures each, and the rate limit is per tenant and app.
  slot() {
    if (this.running < maxParallel) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release() {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}

async function errorOf(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: fall back to the status line.
  }
  const e = body?.error ?? {};
  const message = typeof e.message === 'string' && e.message ? e.message : `HTTP ${res.status} ${res.statusText}`.trim();
  return new ApiError(res.status, typeof e.code === 'string' ? e.code : '', message, {
    target: typeof e.target === 'string' ? e.target : '',
    requestID: e.innerError?.['request-id'] ?? res.headers.get('request-id') ?? '',
  });
}

// retryDelay is how long to wait before retrying a 429 or 503 (their
// Retry-After), or null for an answer not worth retrying.
function retryDelay(res) {
  if (res.status !== 429 && res.status !== 503) return null;
  const s = Number.parseInt(res.headers.get('Retry-After') ?? '1', 10);
  return Math.min(Math.max(Number.isFinite(s) ? s : 1, 1), 10) * 1000;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('aborted', 'AbortError'));
    }, { once: true });
  });
}

/** filterFor builds an OData status filter; statuses are our own words, but
 * quotes are doubled all the same. */
export function statusFilter(status) {
  return `status eq '${String(status).replace(/'/g, "''")}'`;
}

/** query builds a query string from options, leaving out empty ones. */
export function query(params) {
  const parts = Object.entries(params).filter(([, v]) => v !== '' && v != null)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}
