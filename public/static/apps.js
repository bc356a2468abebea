// @ts-check
/**
 * The dashboard's Apps section (dashboard.html #apps-panel), through /v1/admin/apps: apps with their
 * keys' prefixes, states and last use; creating apps and keys, rotating and revoking keys, editing
 * settings as JSON (checked by the server, whose message is shown), disabling and enabling apps,
 * and each app's webhook (app-webhook.js).
 * A key's full text is shown once, right after it is made, and dropped from the page when the
 * operator dismisses it or signs out. Changes carry the operator's name as `X-Operator` when one
 * is given. dashboard.js owns signing in: it sends `dashboard:refresh` once signed in and on
 * Refresh, `dashboard:signed-out`, and signs out on this module's `dashboard:unauthorized`.
 */

/**
 * What the page reads of the admin API's answers (the OpenAPI document has them whole).
 * @typedef {{
 *   id: string, kind: 'secret' | 'publishable', prefix: string, state: 'active' | 'expiring' | 'expired' | 'revoked',
 *   createdAt: string, expiresAt: string | null, revokedAt: string | null, replacedBy: string | null, lastUsedAt: string | null,
 * }} AppKey
 * @typedef {{ id: string, name: string, settings: Record<string, unknown> | null, disabledAt: string | null, keys: AppKey[] }} App
 * @typedef {{ at: string, actor: string, action: string, detail: Record<string, unknown> }} AppChange
 */

import { renderWebhook } from './app-webhook.js';
import { $, api, button, fmtTime, h, hideKeys, input, OPERATOR_KEY, OPERATOR_PATTERN, pill, showError, showKeys, td } from './apps-kit.js';

const MAX_OVERLAP_HOURS = 720;

async function loadApps() {
  $('apps-error').textContent = '';
  /** @type {{ apps: App[] }} */
  const { apps } = await api('/v1/admin/apps');
  const list = $('apps');
  list.replaceChildren(...apps.map((app) => renderApp(app)));
  if (apps.length === 0) list.append(h('p', { class: 'muted' }, 'No apps yet.'));
}

/** Shows one app afresh in place (after a change to it), its settings editor open when it was. @param {string} appId @param {string} [note] */
async function reloadApp(appId, note) {
  /** @type {{ app: App }} */
  const { app } = await api(`/v1/admin/apps/${encodeURIComponent(appId)}`);
  document.querySelector(`[data-testid="app-row"][data-app-id="${CSS.escape(appId)}"]`)?.replaceWith(renderApp(app, note));
}

/** @param {App} app @param {string} [settingsNote] shown in the settings editor, which is then open */
function renderApp(app, settingsNote) {
  const disabled = app.disabledAt !== null;
  return h(
    'article',
    { class: 'app', 'data-testid': 'app-row', 'data-app-id': app.id },
    h(
      'div',
      { class: 'app-head' },
      h('strong', { 'data-testid': 'app-name' }, app.name),
      h('code', {}, app.id),
      h('span', { 'data-testid': 'app-state' }, pill(disabled ? 'disabled' : 'enabled')),
      h(
        'span',
        { class: 'app-actions' },
        button('Add secret key', 'add-secret-key', () => addKey(app, 'secret')),
        button('Add publishable key', 'add-publishable-key', () => addKey(app, 'publishable')),
        disabled ? button('Enable', 'app-enable', () => setDisabled(app, false)) : button('Disable', 'app-disable', () => setDisabled(app, true)),
      ),
    ),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'cards-on-phone', 'data-testid': 'app-keys' },
        h('thead', {}, h('tr', {}, ...['key', 'kind', 'state', 'created', 'last used', 'ends', ''].map((name) => h('th', {}, name)))),
        h('tbody', {}, ...app.keys.map((key) => renderKey(app, key))),
      ),
    ),
    renderSettings(app, settingsNote),
    renderWebhook(app),
    renderHistory(app),
  );
}

/** @param {App} app @param {AppKey} key */
function renderKey(app, key) {
  const ends = key.revokedAt ? `revoked ${fmtTime(key.revokedAt)}` : key.expiresAt ? fmtTime(key.expiresAt) : '—';
  return h(
    'tr',
    { 'data-testid': 'key-row', 'data-key-id': key.id, 'data-state': key.state },
    td('key', h('code', { 'data-testid': 'key-prefix' }, `${key.prefix}…`)),
    td('kind', key.kind),
    td('state', pill(key.state)),
    td('created', fmtTime(key.createdAt)),
    td('last used', key.lastUsedAt ? fmtTime(key.lastUsedAt) : 'never'),
    td('ends', ends),
    td(
      '',
      h(
        'span',
        { class: 'app-actions' },
        key.state === 'active' ? button('Rotate', 'rotate-key', () => rotateKey(app, key)) : null,
        key.state === 'active' || key.state === 'expiring' ? button('Revoke', 'revoke-key', () => revokeKey(app, key), 'danger small') : null,
      ),
    ),
  );
}

/** @param {App} app @param {string} [note] */
function renderSettings(app, note) {
  const text = h('textarea', { rows: '6', spellcheck: 'false', 'data-testid': 'settings-json' });
  /** @type {HTMLTextAreaElement} */ (text).value = app.settings === null ? '' : JSON.stringify(app.settings, null, 2);
  const message = h('p', { class: 'error', role: 'alert', 'data-testid': 'settings-error' });
  const status = h('p', { class: 'muted small', role: 'status', 'data-testid': 'settings-status' }, note || '');
  const save = async () => {
    message.textContent = '';
    let settings;
    try {
      settings = JSON.parse(/** @type {HTMLTextAreaElement} */ (text).value || '{}');
    } catch (error) {
      message.textContent = `Not JSON: ${error instanceof Error ? error.message : error}`;
      return;
    }
    try {
      await api(`/v1/admin/apps/${encodeURIComponent(app.id)}`, { method: 'PATCH', body: { settings } });
    } catch (error) {
      message.textContent = error instanceof Error ? error.message : String(error);
      return;
    }
    await reloadApp(app.id, `Saved ${new Date().toLocaleTimeString()}.`);
  };
  return h(
    'details',
    { 'data-testid': 'app-settings', open: note !== undefined },
    h('summary', {}, 'Settings (JSON; each one left out uses the deployment’s default)'),
    app.settings === null ? h('p', { class: 'error' }, 'The stored settings no longer parse: save new ones.') : null,
    text,
    button('Save settings', 'settings-save', save, ''),
    message,
    status,
  );
}

/** The last 50 changes, read when opened. @param {App} app */
function renderHistory(app) {
  const list = h('ol', { class: 'changes', 'data-testid': 'app-changes' });
  const details = h('details', { 'data-testid': 'app-history' }, h('summary', {}, 'Changes'), list);
  details.addEventListener('toggle', () => {
    if (!(/** @type {HTMLDetailsElement} */ (details).open)) return;
    api(`/v1/admin/apps/${encodeURIComponent(app.id)}`)
      .then((/** @type {{ changes: AppChange[] }} */ { changes }) =>
        list.replaceChildren(
          ...changes.map((change) =>
            h(
              'li',
              { 'data-testid': 'app-change', 'data-action': change.action },
              h('span', { class: 'when' }, fmtTime(change.at)),
              ` ${change.actor}: `,
              h('strong', {}, change.action),
              ` ${JSON.stringify(change.detail)}`,
            ),
          ),
        ),
      )
      .catch(showError);
  });
  return details;
}

async function createApp() {
  $('apps-error').textContent = '';
  /** @type {{ app: App, secretKey: string, publishableKey: string }} */
  const created = await api('/v1/admin/apps', { method: 'POST', body: { name: input('app-name').value } });
  input('app-name').value = '';
  showKeys(`App “${created.app.name}” created (${created.app.id})`, [
    { kind: 'secret', key: created.secretKey },
    { kind: 'publishable', key: created.publishableKey },
  ]);
  await loadApps();
}

/** @param {App} app @param {'secret' | 'publishable'} kind */
async function addKey(app, kind) {
  /** @type {{ apiKey: string }} */
  const { apiKey } = await api(`/v1/admin/apps/${encodeURIComponent(app.id)}/keys`, { method: 'POST', body: { kind } });
  showKeys(`New ${kind} key for “${app.name}”`, [{ kind, key: apiKey }]);
  await reloadApp(app.id);
}

/** @param {App} app @param {AppKey} key */
async function rotateKey(app, key) {
  const answer = prompt(`Rotate ${key.prefix}… of “${app.name}”. For how many hours should the old key keep working (0 to ${MAX_OVERLAP_HOURS})?`, '24');
  if (answer === null) return;
  const hours = Number(answer);
  if (answer.trim() === '' || !Number.isFinite(hours) || hours < 0 || hours > MAX_OVERLAP_HOURS) {
    throw new Error(`The overlap must be a number of hours from 0 to ${MAX_OVERLAP_HOURS}.`);
  }
  /** @type {{ apiKey: string, replaced: AppKey }} */
  const rotated = await api(`/v1/admin/apps/${encodeURIComponent(app.id)}/keys/${encodeURIComponent(key.id)}/rotate`, {
    method: 'POST',
    body: { overlapSeconds: Math.round(hours * 3600) },
  });
  showKeys(`${key.prefix}… rotated: the old key works until ${fmtTime(rotated.replaced.expiresAt)}`, [{ kind: key.kind, key: rotated.apiKey }]);
  await reloadApp(app.id);
}

/** @param {App} app @param {AppKey} key */
async function revokeKey(app, key) {
  if (!confirm(`Revoke ${key.prefix}… of “${app.name}”? Calls with it are refused at once here and within 30 seconds everywhere.`)) return;
  await api(`/v1/admin/apps/${encodeURIComponent(app.id)}/keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' });
  await reloadApp(app.id);
}

/** @param {App} app @param {boolean} disabled */
async function setDisabled(app, disabled) {
  if (disabled && !confirm(`Disable “${app.name}”? None of its keys works (within 30 seconds everywhere) until it is enabled again.`)) return;
  await api(`/v1/admin/apps/${encodeURIComponent(app.id)}`, { method: 'PATCH', body: { disabled } });
  await reloadApp(app.id);
}

function saveOperator() {
  const name = input('operator-name').value.trim();
  const valid = name === '' || OPERATOR_PATTERN.test(name);
  $('operator-error').textContent = valid ? '' : 'Your name must be 1 to 64 printable ASCII characters (letters, digits, punctuation, spaces).';
  if (name === '') sessionStorage.removeItem(OPERATOR_KEY);
  else if (valid) sessionStorage.setItem(OPERATOR_KEY, name);
}

input('operator-name').value = sessionStorage.getItem(OPERATOR_KEY) || '';
input('operator-name').addEventListener('change', saveOperator);
$('app-create').addEventListener('submit', (event) => {
  event.preventDefault();
  createApp().catch(showError);
});
document.addEventListener('dashboard:refresh', () => {
  loadApps().catch(showError);
});
// This module runs after dashboard.js: a sign-in that finished first has sent its refresh already.
if (!$('dashboard').hidden) loadApps().catch(showError);
document.addEventListener('dashboard:signed-out', () => {
  hideKeys();
  $('apps').replaceChildren();
  input('operator-name').value = '';
  sessionStorage.removeItem(OPERATOR_KEY);
});
