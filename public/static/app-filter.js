// @ts-check
/**
 * The dashboard's app selector (dashboard.html #app-filter): the choice keeps the figures, the
 * recent requests, the attempts and the bulk-resend form to one app (dashboard.js and
 * recent-requests.js read it on `change`). Its apps come from GET /v1/admin/apps; a service
 * without that route (404) lists instead the apps the statistics' `byApp` has shown, which
 * dashboard.js hands over with each `dashboard:stats` event.
 */
import { $, ApiFailure, adminGet, h, loadWithDashboard } from './dashboard-kit.js';

/**
 * What the selector reads of the admin API's answers.
 * @typedef {{ id: string, name: string, disabledAt: string | null }} App
 * @typedef {{ appId: string | null, name: string | null }} AppFigures
 * @typedef {{ id: string, label: string }} Choice
 */

const select = /** @type {HTMLSelectElement} */ ($('app-filter'));
/** @type {'apps' | 'stats' | null} where the list comes from, once known */
let source = null;
/** Apps the statistics have shown since the page was loaded, by id, with their names. */
/** @type {Map<string, string | null>} */
const seenInStats = new Map();

/** @param {string} id @param {string | null} name */
const label = (id, name) => (name ? `${name} (${id})` : id);

/** @param {Choice[]} choices */
function show(choices) {
  const chosen = select.value;
  const options = choices.map((choice) => h('option', { value: choice.id }, choice.label));
  // The app in use stays listed (and chosen) even when the new list lacks it.
  if (chosen && !choices.some((choice) => choice.id === chosen)) options.push(h('option', { value: chosen }, chosen));
  select.replaceChildren(h('option', { value: '' }, 'all apps'), ...options);
  select.value = chosen;
  select.dataset.source = source ?? '';
}

const fromStats = () => [...seenInStats].map(([id, name]) => ({ id, label: label(id, name) })).sort((a, b) => a.label.localeCompare(b.label));

async function loadApps() {
  $('app-filter-error').textContent = '';
  /** @type {{ apps: App[] }} */
  let body;
  try {
    body = await adminGet('/v1/admin/apps');
  } catch (error) {
    if (!(error instanceof ApiFailure && error.status === 404)) throw error;
    source = 'stats';
    show(fromStats());
    return;
  }
  source = 'apps';
  show(body.apps.map((app) => ({ id: app.id, label: label(app.id, app.name) + (app.disabledAt ? ', disabled' : '') })));
}

document.addEventListener('dashboard:stats', (event) => {
  const stats = /** @type {CustomEvent<{ byApp?: AppFigures[] }>} */ (event).detail;
  for (const app of stats.byApp || []) if (app.appId) seenInStats.set(app.appId, app.name);
  if (source === 'stats') show(fromStats());
});
loadWithDashboard(loadApps, 'app-filter-error');
