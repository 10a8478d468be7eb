// The sign-in page: a broadcaster's API key or the operator's admin token.

import { session } from './api.js';
import { h } from './dom.js';

// mountSignIn shows the form; signedIn(who) is called with the session.
export function mountSignIn(main, signedIn) {
  const error = h('p', { class: 'form-error', id: 'signin-error', role: 'alert' });
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'current-password',
    spellcheck: false, 'aria-describedby': 'token-help signin-error',
  });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'signin-form', novalidate: true }, 
    h('label', { for: 'token' }, 'API key or admin token'),
    input,
    h('p', { id: 'token-help', class: 'help' },
      'Broadcasters: the API key your operator gave you. Operators: the admin token ',
      '(printed at first start and kept in the data directory as ', h('code', {}, 'admin-token'), ').'),
    error,
    button,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) {
      fail('Enter an API key or the admin token.');
      return;
    }
    button.disabled = true;
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    try {
      const who = await session.signIn(token);
      input.value = '';
      signedIn(who);
    } catch (err) {
      fail(err.status === 401 ? 'That key or token was not accepted. Check it and try again.' : err.message);
    } finally {
      button.disabled = false;
    }
  });

  function fail(message) {
    error.textContent = message;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  main.replaceChildren(h('section', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', tabIndex: -1 }, 'Sign in to Podium'),
    form,
  ));
  input.focus();
  return () => {};
}
