// Sign-in: a bearer token, pasted. The textarea has no name, so even a form
// submitted without the script would carry no token.

import { h, replace } from '../dom.js';
import { normalizeToken } from '../session.js';

/** signInView: notice is why we are here (a refused token), onSubmit(token)
 * resolves when signed in or rejects with an Error to show. */
export function signInView({ notice, onSubmit }) {
  const field = h('textarea', {
    id: 'token', rows: '4', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', required: true,
    'aria-describedby': 'token-help', 'aria-invalid': notice ? 'true' : null,
  });
  const message = h('div', { id: 'signin-message', role: 'alert' },
    notice ? h('div', { class: 'error-box' }, h('p', { class: 'error-title' }, notice.title), h('p', {}, notice.text)) : null);
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'signin', novalidate: true },
    h('label', { for: 'token' }, 'Bearer token'),
    field,
    h('p', { id: 'token-help', class: 'hint' },
      'connops dev prints a sign-in link beside its token. Otherwise make a token with ',
      h('code', {}, 'connops token --tenant contoso --roles ExternalConnection.Read.All,ExternalItem.Read.All'),
      ' (AUTH_HS256_SECRET set as the server has it).'),
    h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = normalizeToken(field.value);
    if (!token) {
      showError(message, field, 'Enter a token', 'Paste the bearer token (a JWT, three parts separated by dots).');
      field.focus();
      return;
    }
    button.disabled = true;
    replace(message, h('p', { class: 'muted' }, 'Checking the token with connops…'));
    try {
      await onSubmit(token);
    } catch (err) {
      showError(message, field, err.title ?? 'Sign-in failed', err.message);
      field.focus();
    } finally {
      button.disabled = false;
    }
  });
  const node = h('div', { class: 'view narrow-view' },
    h('h1', { tabindex: '-1' }, 'Sign in to the connops console'),
    h('p', {}, 'The console calls the connops API with your bearer token and shows exactly what that token may see. ' +
      'The token stays in this browser tab and is sent only to this connops.'),
    message, form);
  return { title: 'Sign in', node, focus: notice ? field : null };
}

function showError(slot, field, title, text) {
  field.setAttribute('aria-invalid', 'true');
  replace(slot, h('div', { class: 'error-box' }, h('p', { class: 'error-title' }, title), h('p', {}, text)));
}
