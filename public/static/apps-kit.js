// @ts-check
/**
 * What the dashboard's Apps section (apps.js) is built from: DOM helpers that put every value in
 * the page as text, the admin API call (with the signed-in token and the operator's name), and the
 * box that shows new keys once.
 */

import { $, h, pill } from './dashboard-kit.js';

export { $, h, pill };

/**
 * Attributes of an element made by h(): `class`, `on<event>` listeners, and the rest as attributes.
 * @typedef {Record<string, string | boolean | null | undefined | ((event: Event) => unknown)>} Attributes
 * @typedef {Node | string | null | undefined} Child
 */

/** Where dashboard.js keeps the signed-in token, and this section the operator's name. */
const TOKEN_KEY = 'otpd.adminToken';
export const OPERATOR_KEY = 'otpd.operator';
export const OPERATOR_PATTERN = /^[\x20-\x7e]{1,64}$/;

/** @param {string} id */
export const input = (id) => /** @type {HTMLInputElement} */ ($(id));

/** @param {string | null} iso */
export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : '—');
/** @param {string} label @param {Child} content */
export const td = (label, content) => h('td', { 'data-label': label }, content);
/** @param {string} text @param {string} testId @param {() => Promise<unknown>} action @param {string} [kind] */
export const button = (text, testId, action, kind = 'ghost small') =>
  h('button', { type: 'button', class: kind, 'data-testid': testId, onclick: () => action().catch(showError) }, text);

/** An answer other than 2xx: the API's own message and code. */
class ApiFailure extends Error {}
/** @param {unknown} error */
export const showError = (error) => {
  $('apps-error').textContent = error instanceof Error ? error.message : String(error);
};

/**
 * Calls the admin API with the signed-in token; changes carry the operator's name.
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [init]
 * @returns {Promise<any>}
 */
export async function api(path, init = {}) {
  /** @type {Record<string, string>} */
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` };
  const operator = sessionStorage.getItem(OPERATOR_KEY);
  if (operator && init.method) headers['X-Operator'] = operator;
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  const response = await fetch(path, { method: init.method || 'GET', headers, body });
  if (response.status === 401) {
    document.dispatchEvent(new Event('dashboard:unauthorized'));
    throw new ApiFailure('That token was refused.');
  }
  const answer = await response.json();
  if (!response.ok) throw new ApiFailure(answer?.error ? `${answer.error.message} (${answer.error.code})` : `HTTP ${response.status}`);
  return answer;
}

/**
 * Shows new keys in full, this once, with a way to copy each; the next one shown, Done or signing out removes them.
 * @param {string} title
 * @param {Array<{ kind: string, key: string }>} keys
 */
export function showKeys(title, keys) {
  const box = $('new-keys');
  box.replaceChildren(
    h('strong', {}, title),
    h('p', { class: 'small' }, 'Copy these keys now and keep them somewhere safe: they are never shown again. Only their first characters stay visible here.'),
    ...keys.map(({ kind, key }) => {
      const copy = h('button', { type: 'button', class: 'ghost small', 'data-testid': 'copy-key' }, 'Copy');
      copy.addEventListener('click', () =>
        navigator.clipboard.writeText(key).then(
          () => {
            copy.textContent = 'Copied';
          },
          () => {
            copy.textContent = 'Select and copy it by hand';
          },
        ),
      );
      return h('div', { class: 'new-key' }, h('span', { class: 'muted small' }, kind), h('code', { 'data-testid': 'new-key', 'data-kind': kind }, key), copy);
    }),
    h('button', { type: 'button', class: 'small', 'data-testid': 'new-keys-done', onclick: hideKeys }, 'Done: I have copied them'),
  );
  box.hidden = false;
}
export function hideKeys() {
  $('new-keys').replaceChildren();
  $('new-keys').hidden = true;
}
