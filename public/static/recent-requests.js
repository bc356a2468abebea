// @ts-check
/**
 * The dashboard's recent requests (dashboard.html #requests-panel): the newest requests of the app
 * chosen in the toolbar (or of every app), with their app and a mark on sends to an app's test
 * number. A request id opens its timeline through the page's request lookup form (dashboard.js).
 */
import { $, adminGet, fill, fmtTime, h, loadWithDashboard, pill, selectedAppId, td } from './dashboard-kit.js';

/**
 * What the panel reads of GET /v1/admin/requests.
 * @typedef {{ requestId: string, appId: string | null, testNumber: boolean, status: string, phoneNumber: string, createdAt: string }} AdminRequest
 */

const SHOWN = 20;

/** @param {string} requestId */
function openTimeline(requestId) {
  /** @type {HTMLInputElement} */ ($('request-id')).value = requestId;
  /** @type {HTMLFormElement} */ ($('request-lookup')).requestSubmit();
}

async function loadRequests() {
  $('requests-error').textContent = '';
  const params = new URLSearchParams({ limit: String(SHOWN) });
  const appId = selectedAppId();
  if (appId) params.set('appId', appId);
  /** @type {{ requests: AdminRequest[] }} */
  const body = await adminGet(`/v1/admin/requests?${params}`);
  fill(
    $('requests'),
    body.requests.map((r) =>
      h(
        'tr',
        { 'data-testid': 'recent-request-row', 'data-app-id': r.appId ?? '' },
        td('created', fmtTime(r.createdAt), { class: 'when' }),
        td(
          'request',
          h('button', { type: 'button', class: 'link', 'data-testid': 'recent-request-open', onclick: () => openTimeline(r.requestId) }, r.requestId),
        ),
        td('app', r.appId ?? '—', { class: 'wrap' }),
        td('phone', r.phoneNumber),
        td('status', pill(r.status)),
        td('test number', r.testNumber ? 'yes' : ''),
      ),
    ),
    appId ? 'No requests of this app' : 'No requests yet',
    6,
  );
}

const reload = loadWithDashboard(loadRequests, 'requests-error');
$('app-filter').addEventListener('change', reload);
