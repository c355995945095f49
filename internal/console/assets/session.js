// The signed-in token lives in this tab only: sessionStorage (per tab, gone
// when the tab closes), never localStorage, never in a URL sent to connops.

const key = 'connops.console.token';

export function getToken() {
  try {
    return sessionStorage.getItem(key) ?? '';
  } catch {
    return memory;
  }
}

// memory is the fallback where sessionStorage is unavailable (some
// privacy modes throw on access): then the token lasts until reload.
let memory = '';

export function setToken(token) {
  memory = token;
  try {
    sessionStorage.setItem(key, token);
  } catch {
    // memory holds it.
  }
}

export function clearToken() {
  memory = '';
  try {
    sessionStorage.removeItem(key);
  } catch {
    // nothing stored.
  }
}

/**
 * takeTokenFromFragment reads a sign-in link's #token=..., keeps the token,
 * and removes it from the address bar and the current history entry. The
 * fragment never reached the server: browsers do not send it.
 */
export function takeTokenFromFragment(loc = window.location, history = window.history) {
  const match = /^#token=([^&]*)/.exec(loc.hash);
  if (!match) return false;
  let token = match[1];
  try {
    token = decodeURIComponent(token);
  } catch {
    // keep it as written.
  }
  history.replaceState(null, '', loc.pathname + loc.search + '#/');
  token = normalizeToken(token);
  if (token) setToken(token);
  return Boolean(token);
}

/** normalizeToken accepts a pasted "Bearer x" or a token with stray spaces. */
export function normalizeToken(text) {
  return String(text).trim().replace(/^bearer\s+/i, '').replace(/\s+/g, '');
}

/**
 * describeToken reads the claims of a JWT for display only (who the console
 * speaks as). It verifies nothing: connops does that on every call.
 */
export function describeToken(token) {
  try {
    const part = token.split('.')[1];
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    const roles = Array.isArray(claims.roles) ? claims.roles : [];
    const scopes = typeof claims.scp === 'string' ? claims.scp.split(' ').filter(Boolean) : [];
    return {
      tenant: typeof claims.tid === 'string' ? claims.tid : '',
      app: String(claims.appid ?? claims.azp ?? claims.sub ?? ''),
      permissions: [...roles, ...scopes].map(String),
      expires: typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : null,
    };
  } catch {
    return null;
  }
}
