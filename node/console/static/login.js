// The login page: operator name + password -> POST /v1/session (sets the HttpOnly cookie).
import {post} from './api.js';

const page = () => document.getElementById('login-page');

export function showLogin(message, onLoggedIn) {
  document.getElementById('app').hidden = true;
  const form = document.getElementById('login');
  const alert = document.getElementById('login-error');
  const button = form.querySelector('button[type=submit]');
  page().hidden = false;
  alert.textContent = message || '';
  alert.hidden = !message;
  form.elements.password.value = '';
  (form.elements.name.value ? form.elements.password : form.elements.name).focus();

  form.onsubmit = async (e) => {
    e.preventDefault();
    alert.hidden = true;
    button.disabled = true;
    let retryIn = 0;
    try {
      const session = await post('/v1/session', {name: form.elements.name.value.trim(), password: form.elements.password.value});
      form.elements.password.value = '';
      page().hidden = true;
      onLoggedIn(session);
    } catch (err) {
      alert.textContent = err.message;
      alert.hidden = false;
      form.elements.password.select();
      // Rate limited: keep the button off for Retry-After so the officer sees why.
      retryIn = err.code === 'rate_limited' && err.retryAfter ? err.retryAfter : 0;
    } finally {
      if (retryIn) setTimeout(() => { button.disabled = false; }, retryIn * 1000);
      else button.disabled = false;
    }
  };
}
