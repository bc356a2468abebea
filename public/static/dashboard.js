// @ts-check
/**
 * The operator dashboard's script (public/dashboard.html): reads the admin API with the token the
 * operator signs in with. Charts are inline SVG; every value from the API is put in the page as
 * text, never as markup. Stable `data-testid`s are what the browser test uses.
 */

/**
 * What the page reads of the admin API's answers (the OpenAPI document at /openapi.json has them whole).
 * @typedef {'sent' | 'retry' | 'failed' | 'expired'} Outcome
 * @typedef {Record<Outcome, number>} ByOutcome
 * @typedef {{ code: string, message: string }} ErrorDetail
 * @typedef {{
 *   since: string, bucket: string,
 *   requests: { total: number, byStatus: Record<string, number>, byOrigin: Record<string, number> },
 *   delivery: { accepted: number, delivered: number, failed: number, verified: number, acceptedRate: number | null, successRate: number | null, verifiedRate: number | null },
 *   attempts: { perRequest: { average: number | null, max: number } },
 *   latencyMs: Latency,
 *   topErrors: Array<{ source: 'attempt' | 'status_check', code: string, count: number }>,
 *   byCountry: Array<{ country: string } & Record<CountryColumn, number>>,
 *   byProvider: Array<{ provider: string, channel: string, calls: number, attempts: ByOutcome, meanLatencyMs: number | null }>,
 *   byApp: Array<{ appId: string | null, name: string | null }>,
 *   series: SeriesPoint[],
 *   inFlight: { queued: number, sending: number, stuck: number, stuckAfterSeconds: number, oldestStuckAt: string | null },
 * }} Stats
 * @typedef {'requests' | 'accepted' | 'delivered' | 'failed' | 'expired' | 'verified'} CountryColumn
 * @typedef {{ start: string, attempts: ByOutcome }} SeriesPoint
 * @typedef {{ count: number, p50: number | null, p95: number | null, p99: number | null, max: number | null, histogram: Array<{ upToMs: number | null, count: number }> }} Latency
 * @typedef {{
 *   requestId: string, appId: string | null, phoneNumber: string, attemptNumber: number, startedAt: string, durationMs: number,
 *   outcome: Outcome, httpStatus: number | null, errorCode: string | null,
 * }} Attempt
 * @typedef {{
 *   requestId: string, appId: string | null, testNumber: boolean, status: string, phoneNumber: string, origin: string,
 *   replacesRequestId: string | null, attempts: number, deliveryStatus: string | null, lastError: ErrorDetail | null, createdAt: string,
 * }} RequestDetail
 * @typedef {{ at: string, event: string, detail: string }} TimelineEvent
 * @typedef {{ prefix: string, reason: string, note: string | null, since: string, until: string }} PrefixBlock
 * @typedef {{
 *   name: string, configured: boolean, problem: string | null, channels: string[],
 *   drained: { since: string, by: string, reason: string | null } | null,
 *   circuit: { state: string, since: string | null, calls: number, failures: number, medianLatencyMs: number | null },
 * }} Provider
 * @typedef {{ provider: string, at: string, kind: string, from: string | null, to: string | null, detail: string | null }} ProviderEvent
 * @typedef {{ phoneNumber: string, failures: number, lockedUntil: string }} LockedPhone
 * @typedef {{ resendId: string, createdAt: string, matched: number, enqueued: number, skipped: { total: number }, done: boolean }} Resend
 * @typedef {{ status: string[], since: string, until?: string, appId?: string, phoneNumbers?: string[] }} ResendFilter
 *
 * Attributes of an element made by h(): `class`, `on<event>` listeners, and the rest as attributes
 * (null, undefined and false leave one out; true sets it empty).
 * @typedef {Record<string, string | number | boolean | null | undefined | ((event: Event) => unknown)>} Attributes
 * @typedef {Node | string | number | null | undefined} Child
 */

const TOKEN_KEY = 'otpd.adminToken';
/** @type {Record<Outcome, string>} */
const COLORS = { sent: '#2e7d32', retry: '#e0a100', failed: '#c62828', expired: '#6d4c41' };
/** @type {Outcome[]} */
const OUTCOMES = ['sent', 'retry', 'failed', 'expired'];
const SVG = 'http://www.w3.org/2000/svg';

/**
 * An element of dashboard.html by id; one that is missing is a bug in the page, said so at once.
 * @param {string} id
 * @returns {HTMLElement}
 */
const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`dashboard.html has no #${id}`);
  return element;
};
/**
 * A form control of dashboard.html by id.
 * @param {string} id
 * @returns {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement | HTMLButtonElement}
 */
const control = (id) => {
  const element = $(id);
  if (
    !(
      element instanceof HTMLInputElement ||
      element instanceof HTMLSelectElement ||
      element instanceof HTMLTextAreaElement ||
      element instanceof HTMLButtonElement
    )
  ) {
    throw new Error(`#${id} is not a form control`);
  }
  return element;
};
let token = sessionStorage.getItem(TOKEN_KEY);
/** The app chosen in the toolbar (its options are app-filter.js's), or '' for every app. */
const appFilter = () => control('app-filter').value;
/** @type {string | null} */
let attemptsCursor = null;
/** @type {{ filter: string, matched: number } | null} */
let lastDryRun = null;

/**
 * @param {string} tag
 * @param {Attributes | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  return el;
}
/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {...(Node | string)} children
 * @returns {SVGElement}
 */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : String(child));
  return el;
}
/** @param {string} value */
const pill = (value) => h('span', { class: `pill ${value}` }, value);
/** @param {string | null | undefined} iso */
const fmtTime = (iso) =>
  iso ? new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '';
const NONE = '—';
/** @param {number | null | undefined} rate */
const fmtRate = (rate) => (rate === null || rate === undefined ? NONE : `${(rate * 100).toFixed(1)}%`);
// Durations are whole milliseconds: 0 means the call took under one (the sandbox never leaves the machine).
/** @param {number | null | undefined} ms */
const fmtMs = (ms) => (ms === null || ms === undefined ? NONE : ms === 0 ? '<1 ms' : `${ms} ms`);
/** @type {Record<string, string>} */
const BUCKET_NAMES = { '1m': '1-minute', '5m': '5-minute', '15m': '15-minute', '1h': 'hourly', '6h': '6-hour', '1d': 'daily' };
/**
 * @param {string} label
 * @param {Child} content
 * @param {Attributes} [attrs]
 */
const td = (label, content, attrs) => h('td', Object.assign({ 'data-label': label }, attrs || {}), content);
/**
 * @param {HTMLElement} tbody
 * @param {HTMLElement[]} rows
 * @param {string} empty
 * @param {number} columns
 */
const fill = (tbody, rows, empty, columns) => {
  tbody.replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: columns, class: 'muted' }, empty))]));
};

class Unauthorized extends Error {}
/** An answer other than 2xx or 401: the API's error message, and the HTTP status. */
class ApiFailure extends Error {
  /** @param {string} message @param {number} status */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}
/**
 * Calls the admin API with the token. The body is the answer's JSON (or text, for CSV), of the
 * type the caller names.
 * @param {string} path
 * @param {{ method?: string, body?: string }} [init]
 * @returns {Promise<{ body: any, response: Response }>}
 */
async function api(path, init) {
  const options = init || {};
  /** @type {Record<string, string>} */
  const headers = { Authorization: `Bearer ${token}` };
  if (options.body) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    signOut('That token was refused.');
    throw new Unauthorized();
  }
  const type = response.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    throw new ApiFailure(body?.error ? `${body.error.message} (${body.error.code})` : `HTTP ${response.status}`, response.status);
  }
  return { body, response };
}
/** @param {unknown} error */
const messageOf = (error) => (error instanceof Error ? error.message : String(error));
/** @param {string} target */
const report = (target) => /** @param {unknown} error */ (error) => {
  if (!(error instanceof Unauthorized)) $(target).textContent = messageOf(error);
};

/** @param {string} message */
function signOut(message) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('dashboard').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message || '';
  // Other sections (apps.js) drop what they show, such as keys shown once.
  document.dispatchEvent(new Event('dashboard:signed-out'));
}

/** @param {string} candidate */
async function signIn(candidate) {
  token = candidate;
  try {
    await api('/v1/admin/prefix-blocks');
  } catch (error) {
    if (!(error instanceof Unauthorized)) $('sign-in-error').textContent = messageOf(error);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, candidate);
  $('sign-in').hidden = true;
  $('sign-out').hidden = false;
  $('dashboard').hidden = false;
  control('token').value = '';
  initResendDates();
  refreshAll();
}

function refreshAll() {
  loadStats().catch(report('attempts-error'));
  loadAttempts(false).catch(report('attempts-error'));
  loadPrefixBlocks().catch(report('prefix-blocks-error'));
  loadProviders().catch(report('providers-error'));
  loadLockedPhones().catch(report('locked-phones-error'));
  loadResends().catch(report('resend-error'));
  // Sections in their own modules (apps.js, app-filter.js, recent-requests.js) load on this.
  document.dispatchEvent(new Event('dashboard:refresh'));
}

// ---- statistics
async function loadStats() {
  const until = Date.now();
  const range = control('range').value;
  const since = range === 'first' ? 'first' : String(until - Number(range));
  const app = appFilter() ? `&appId=${encodeURIComponent(appFilter())}` : '';
  /** @type {{ body: Stats }} */
  const { body } = await api(`/v1/admin/stats?since=${since}&until=${until}${app}`);
  // The app selector (app-filter.js) lists the apps seen here when the service has no apps route.
  document.dispatchEvent(new CustomEvent('dashboard:stats', { detail: body }));
  /**
   * @param {string} label
   * @param {string | number} value
   * @param {string} sub
   * @param {string} testid
   * @param {boolean} [alert]
   */
  const card = (label, value, sub, testid, alert) =>
    h(
      'div',
      { class: alert ? 'card alert' : 'card', 'data-testid': testid },
      h('div', { class: 'label' }, label),
      h('div', { class: 'value' }, value),
      h('div', { class: 'sub' }, sub || ''),
    );
  const failed = (body.requests.byStatus.failed || 0) + (body.requests.byStatus.expired || 0);
  const flight = body.inFlight;
  const latency = body.latencyMs;
  $('summary').replaceChildren(
    card('Requests', body.requests.total, `${body.requests.byOrigin.operator_resend} operator resends`, 'card-requests'),
    card('Accepted by provider', fmtRate(body.delivery.acceptedRate), `${body.delivery.accepted} accepted`, 'card-accepted'),
    card('Delivered', fmtRate(body.delivery.successRate), `${body.delivery.delivered} delivered, ${body.delivery.failed} not`, 'card-delivered'),
    card('Verified', fmtRate(body.delivery.verifiedRate), `${body.delivery.verified} verified`, 'card-verified'),
    card('Failed or expired', failed, 'requests', 'card-failed'),
    card(
      'Stuck / in flight',
      `${flight.stuck} / ${flight.queued + flight.sending}`,
      flight.stuck
        ? `untouched ${flight.stuckAfterSeconds / 60}+ min, oldest ${fmtTime(flight.oldestStuckAt)}`
        : `${flight.queued} queued, ${flight.sending} sending now`,
      'card-stuck',
      flight.stuck > 0,
    ),
    card(
      'Attempts per request',
      body.attempts.perRequest.average === null ? NONE : body.attempts.perRequest.average.toFixed(2),
      `max ${body.attempts.perRequest.max}`,
      'card-attempts',
    ),
    card(
      'Latency p50 / p95 / p99',
      fmtMs(latency.p50),
      latency.count ? `${fmtMs(latency.p95)} / ${fmtMs(latency.p99)}` : 'no provider calls in this range',
      'card-latency',
    ),
  );
  $('range-shown').textContent = `From ${fmtTime(body.since)}, ${BUCKET_NAMES[body.bucket]} bars.`;
  $('range-shown').dataset.bucket = body.bucket;
  drawSends(body.series);
  drawLatency(latency);
  fill(
    $('top-errors'),
    body.topErrors.map((e) =>
      h(
        'tr',
        { 'data-testid': 'error-row' },
        td('code', h('code', {}, e.code)),
        td('from', e.source === 'attempt' ? 'send' : 'status check'),
        td('count', e.count, { class: 'num' }),
      ),
    ),
    'No errors in this range',
    3,
  );
  /** @type {CountryColumn[]} */
  const countryColumns = ['requests', 'accepted', 'delivered', 'failed', 'expired', 'verified'];
  fill(
    $('by-country'),
    body.byCountry.map((c) => h('tr', { 'data-testid': 'country-row' }, td('code', c.country), ...countryColumns.map((k) => td(k, c[k], { class: 'num' })))),
    'No requests in this range',
    7,
  );
  /** @type {Outcome[]} */
  const outcomeColumns = ['sent', 'retry', 'failed', 'expired'];
  fill(
    $('by-provider'),
    body.byProvider.map((p) =>
      h(
        'tr',
        { 'data-testid': 'provider-stats-row' },
        td('provider', p.provider),
        td('channel', p.channel),
        td('calls', p.calls, { class: 'num' }),
        ...outcomeColumns.map((k) => td(k, p.attempts[k], { class: 'num' })),
        td('mean', fmtMs(p.meanLatencyMs), { class: 'num' }),
      ),
    ),
    'No provider calls in this range',
    8,
  );
  $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

/** @param {SeriesPoint[]} series */
function drawSends(series) {
  const W = 640,
    H = 220,
    top = 14,
    bottom = 22,
    left = 34;
  const totals = series.map((p) => OUTCOMES.reduce((sum, o) => sum + p.attempts[o], 0));
  const max = Math.max(1, ...totals);
  const slot = (W - left) / Math.max(1, series.length);
  /** @param {number} v */
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': 'Provider calls per time bucket, stacked by outcome',
    'data-bars': series.length,
  });
  svg.append(s('line', { x1: left, x2: W, y1: y(0), y2: y(0), stroke: '#d9dde5' }), s('line', { x1: left, x2: W, y1: y(max), y2: y(max), stroke: '#eef0f4' }));
  svg.append(s('text', { x: left - 4, y: y(max) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6475' }, String(max)));
  svg.append(s('text', { x: left - 4, y: y(0), 'text-anchor': 'end', 'font-size': 11, fill: '#5b6475' }, '0'));
  series.forEach((point, i) => {
    let base = 0;
    for (const outcome of OUTCOMES) {
      const v = point.attempts[outcome];
      if (!v) continue;
      const rect = s('rect', {
        x: left + i * slot + slot * 0.1,
        width: Math.max(1, slot * 0.8),
        y: y(base + v),
        height: y(base) - y(base + v),
        fill: COLORS[outcome],
        'data-outcome': outcome,
      });
      rect.append(s('title', {}, `${new Date(point.start).toLocaleString()}: ${v} ${outcome}`));
      svg.append(rect);
      base += v;
    }
  });
  const first = series[0],
    last = series[series.length - 1];
  if (first && last) {
    /** @param {string} iso */
    const label = (iso) => new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    svg.append(s('text', { x: left, y: H - 6, 'font-size': 11, fill: '#5b6475' }, label(first.start)));
    svg.append(s('text', { x: W, y: H - 6, 'font-size': 11, fill: '#5b6475', 'text-anchor': 'end' }, label(last.start)));
  }
  const legend = h('div', { class: 'legend' }, ...OUTCOMES.map((o) => h('span', {}, h('i', { 'data-color': o }), o)));
  legend.querySelectorAll('i').forEach((i) => {
    i.style.background = COLORS[/** @type {Outcome} */ (i.dataset.color)];
  });
  const total = totals.reduce((a, b) => a + b, 0);
  $('sends-chart').replaceChildren(svg, legend, h('p', { class: 'muted small' }, `${total} provider calls in this range`));
}

/** @param {Latency} latency */
function drawLatency(latency) {
  const W = 640,
    H = 200,
    top = 14,
    bottom = 34,
    left = 34;
  const bins = latency.histogram;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const slot = (W - left) / bins.length;
  /** @param {number} v */
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Provider call durations' });
  svg.append(s('line', { x1: left, x2: W, y1: y(0), y2: y(0), stroke: '#d9dde5' }));
  svg.append(s('text', { x: left - 4, y: y(max) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6475' }, String(max)));
  bins.forEach((bin, i) => {
    const rect = s('rect', { x: left + i * slot + slot * 0.12, width: slot * 0.76, y: y(bin.count), height: y(0) - y(bin.count), fill: '#0b5cad' });
    rect.append(s('title', {}, `${bin.count} calls`));
    svg.append(rect);
    const from = i === 0 ? 0 : bins[i - 1]?.upToMs;
    const text = bin.upToMs === null ? `≥${from}` : `<${bin.upToMs}`;
    svg.append(s('text', { x: left + i * slot + slot / 2, y: H - 18, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6475' }, text));
  });
  if (!latency.count)
    svg.append(s('text', { x: (W + left) / 2, y: H / 2, 'text-anchor': 'middle', 'font-size': 13, fill: '#5b6475' }, 'No provider calls in this range'));
  svg.append(s('text', { x: W, y: H - 3, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6475' }, 'milliseconds'));
  $('latency-chart').replaceChildren(
    svg,
    h(
      'p',
      { class: 'muted small', 'data-testid': 'latency-percentiles' },
      latency.count
        ? 'p50 ' +
            fmtMs(latency.p50) +
            ' · p95 ' +
            fmtMs(latency.p95) +
            ' · p99 ' +
            fmtMs(latency.p99) +
            ' · max ' +
            fmtMs(latency.max) +
            ' · ' +
            latency.count +
            ' calls'
        : 'No provider calls in this range',
    ),
  );
}

// ---- attempts
function attemptQuery() {
  const params = new URLSearchParams();
  if (appFilter()) params.set('appId', appFilter());
  const phone = control('filter-phone').value.trim();
  if (phone) params.set('phoneNumber', phone);
  if (control('filter-outcome').value) params.set('outcome', control('filter-outcome').value);
  const code = control('filter-error').value.trim();
  if (code) params.set('errorCode', code);
  return params;
}

/** @param {boolean} more */
async function loadAttempts(more) {
  $('attempts-error').textContent = '';
  const params = attemptQuery();
  params.set('limit', '25');
  if (more && attemptsCursor) params.set('cursor', attemptsCursor);
  /** @type {{ body: { attempts: Attempt[], nextCursor: string | null } }} */
  const { body } = await api(`/v1/admin/attempts?${params}`);
  const rows = body.attempts.map((a) =>
    h(
      'tr',
      { 'data-testid': 'attempt-row', 'data-outcome': a.outcome, 'data-app-id': a.appId || '' },
      h('td', { 'data-label': 'started' }, fmtTime(a.startedAt)),
      h(
        'td',
        { 'data-label': 'request' },
        h('button', { type: 'button', class: 'link', 'data-testid': 'open-request', onclick: () => openRequest(a.requestId) }, a.requestId),
      ),
      h('td', { 'data-label': 'phone' }, a.phoneNumber),
      h('td', { class: 'num', 'data-label': 'attempt' }, a.attemptNumber),
      h('td', { 'data-label': 'outcome' }, pill(a.outcome)),
      h('td', { class: 'num', 'data-label': 'HTTP' }, a.httpStatus === null ? '–' : a.httpStatus),
      h('td', { class: 'num', 'data-label': 'ms' }, a.durationMs),
      h('td', { class: 'wrap', 'data-label': 'error' }, a.errorCode ? h('code', {}, a.errorCode) : ''),
    ),
  );
  const tbody = $('attempts');
  if (more) tbody.append(...rows);
  else fill(tbody, rows, 'No attempts match', 8);
  attemptsCursor = body.nextCursor;
  $('attempts-more').hidden = !attemptsCursor;
}

async function exportAttempts() {
  const params = attemptQuery();
  params.set('format', 'csv');
  /** @type {{ body: string }} */
  const { body } = await api(`/v1/admin/attempts?${params}`);
  const link = h('a', { href: URL.createObjectURL(new Blob([body], { type: 'text/csv' })), download: 'attempts.csv' });
  document.body.append(link);
  link.click();
  link.remove();
}

// ---- one request
/** @param {string} requestId */
async function openRequest(requestId) {
  $('request-error').textContent = '';
  control('request-id').value = requestId;
  /** @type {{ body: { request: RequestDetail, timeline: TimelineEvent[] } }} */
  const { body } = await api(`/v1/admin/requests/${encodeURIComponent(requestId)}`).catch((error) => {
    report('request-error')(error);
    throw error;
  });
  const r = body.request;
  /** @type {Array<[string, Child]>} */
  const pairs = [
    ['request', h('code', { 'data-testid': 'request-id' }, r.requestId)],
    ['status', h('span', { 'data-testid': 'request-status' }, pill(r.status))],
    ['app', h('span', { 'data-testid': 'request-app' }, r.appId || '–')],
    ['phone', r.phoneNumber + (r.testNumber ? ' (test number: no SMS)' : '')],
    ['origin', r.origin + (r.replacesRequestId ? ` (replaces ${r.replacesRequestId})` : '')],
    ['attempts', r.attempts],
    ['delivery', r.deliveryStatus || '–'],
    ['last error', r.lastError ? `${r.lastError.code}: ${r.lastError.message}` : '–'],
    ['created', fmtTime(r.createdAt)],
  ];
  $('request-detail').replaceChildren(h('dl', { class: 'detail' }, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  $('timeline').replaceChildren(
    ...body.timeline.map((e) =>
      h(
        'li',
        { 'data-testid': 'timeline-event', 'data-event': e.event },
        h('span', { class: 'when' }, fmtTime(e.at)),
        h('span', { class: 'what' }, e.event),
        h('span', {}, e.detail),
      ),
    ),
  );
  $('request-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

// ---- prefix blocks and resends

/**
 * The last cell of a row an operator can lift (a prefix block, a locked phone).
 * @param {string} testId
 * @param {() => void} onclick
 */
const liftCell = (testId, onclick) => td('', h('button', { type: 'button', class: 'ghost small', 'data-testid': testId, onclick }, 'Lift'));

async function loadPrefixBlocks() {
  $('prefix-blocks-error').textContent = '';
  /** @type {{ body: { blocks: PrefixBlock[] } }} */
  const { body } = await api('/v1/admin/prefix-blocks');
  fill(
    $('prefix-blocks'),
    body.blocks.map((b) =>
      h(
        'tr',
        { 'data-testid': 'prefix-block-row', 'data-prefix': b.prefix },
        td('prefix', b.prefix),
        td('reason', b.reason),
        td('note', b.note || '', { class: 'note', 'data-testid': 'prefix-block-note' }),
        td('since', fmtTime(b.since), { class: 'when' }),
        td('until', b.until ? fmtTime(b.until) : 'until lifted', { class: 'when' }),
        liftCell('lift-prefix-block', () => liftPrefixBlock(b.prefix).catch(report('prefix-blocks-error'))),
      ),
    ),
    'No prefix is blocked',
    6,
  );
}

/** @param {string} prefix */
async function liftPrefixBlock(prefix) {
  if (!confirm(`Lift the block on ${prefix}? Sends to it are admitted again at once.`)) return;
  await api(`/v1/admin/prefix-blocks/${encodeURIComponent(prefix)}`, { method: 'DELETE' });
  await loadPrefixBlocks();
}

// ---- providers: circuits, drains and their history
async function loadProviders() {
  $('providers-error').textContent = '';
  /** @type {{ body: { providers: Provider[], events: ProviderEvent[] } }} */
  const { body } = await api('/v1/admin/providers');
  fill(
    $('providers'),
    body.providers.map((p) =>
      h(
        'tr',
        { 'data-testid': 'provider-row', 'data-provider': p.name },
        td('provider', p.configured ? p.name : `${p.name} (${p.problem})`),
        td('circuit', pill(p.circuit.state), { title: p.circuit.since ? `since ${fmtTime(p.circuit.since)}` : '' }),
        td('calls', String(p.circuit.calls), { class: 'num' }),
        td('failures', String(p.circuit.failures), { class: 'num' }),
        td('median', fmtMs(p.circuit.medianLatencyMs), { class: 'num' }),
        td('channels', p.channels.join(', ')),
        td('routing', p.drained ? `drained by ${p.drained.by} ${fmtTime(p.drained.since)}${p.drained.reason ? `: ${p.drained.reason}` : ''}` : 'in routing'),
        td(
          '',
          h(
            'button',
            {
              type: 'button',
              class: 'ghost small',
              'data-testid': p.drained ? 'undrain-provider' : 'drain-provider',
              onclick: () => toggleDrain(p).catch(report('providers-error')),
            },
            p.drained ? 'Undrain' : 'Drain',
          ),
        ),
      ),
    ),
    'No provider',
    8,
  );
  fill(
    $('provider-events'),
    body.events.map((e) =>
      h(
        'tr',
        { 'data-testid': 'provider-event' },
        td('when', fmtTime(e.at), { class: 'when' }),
        td('provider', e.provider),
        td('change', e.kind === 'circuit' ? `${e.from} → ${e.to}` : e.kind),
        td('detail', e.detail || ''),
      ),
    ),
    'No circuit change, drain or undrain yet',
    4,
  );
}

/** @param {Provider} provider */
async function toggleDrain(provider) {
  const action = provider.drained ? 'undrain' : 'drain';
  const reason = action === 'drain' ? prompt(`Drain ${provider.name}? Its requests go to the next provider. Reason (optional):`) : null;
  if (action === 'drain' && reason === null) return;
  if (action === 'undrain' && !confirm(`Route to ${provider.name} again?`)) return;
  const body = action === 'drain' && reason ? { reason } : {};
  await api(`/v1/admin/providers/${encodeURIComponent(provider.name)}/${action}`, { method: 'POST', body: JSON.stringify(body) });
  await loadProviders();
}

// GET /v1/admin/locked-phones → { lockedPhones: [{ phoneNumber, failures, lockedUntil }] }. A service
// without that route (404) shows no panel.
async function loadLockedPhones() {
  $('locked-phones-error').textContent = '';
  /** @type {{ lockedPhones: LockedPhone[] }} */
  let body;
  try {
    ({ body } = await api('/v1/admin/locked-phones'));
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) {
      $('locked-phones-panel').hidden = true;
      return;
    }
    throw error;
  }
  $('locked-phones-panel').hidden = false;
  fill(
    $('locked-phones'),
    body.lockedPhones.map((p) =>
      h(
        'tr',
        { 'data-testid': 'locked-phone-row', 'data-phone': p.phoneNumber },
        td('phone', p.phoneNumber),
        td('wrong codes', p.failures, { class: 'num' }),
        td('locked until', fmtTime(p.lockedUntil), { class: 'when' }),
        liftCell('lift-locked-phone', () => liftLockedPhone(p.phoneNumber).catch(report('locked-phones-error'))),
      ),
    ),
    'No phone is locked',
    4,
  );
}

/** @param {string} phoneNumber */
async function liftLockedPhone(phoneNumber) {
  if (!confirm(`Lift the lock on ${phoneNumber}? It can be sent codes and guess again at once.`)) return;
  await api(`/v1/admin/locked-phones/${encodeURIComponent(phoneNumber)}`, { method: 'DELETE' });
  await loadLockedPhones();
}

async function loadResends() {
  /** @type {{ body: { resends: Resend[] } }} */
  const { body } = await api('/v1/admin/resends?limit=10');
  fill(
    $('resends'),
    body.resends.map((j) =>
      h(
        'tr',
        { 'data-testid': 'resend-row' },
        td('created', fmtTime(j.createdAt)),
        td('matched', j.matched, { class: 'num' }),
        td('enqueued', j.enqueued, { class: 'num' }),
        td('skipped', j.skipped.total, { class: 'num' }),
        td('state', j.done ? pill('sent') : pill('pending')),
      ),
    ),
    'No resends yet',
    5,
  );
}

/** @param {number} ms */
const toLocalInput = (ms) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
};
function initResendDates() {
  if (!control('resend-since').value) control('resend-since').value = toLocalInput(Date.now() - 86400000);
}

function resendFilter() {
  const status = [...document.querySelectorAll('#resend-form input[name=status]:checked')].map((box) => /** @type {HTMLInputElement} */ (box).value);
  /** @type {ResendFilter} */
  const filter = { status, since: new Date(control('resend-since').value).toISOString() };
  if (control('resend-until').value) filter.until = new Date(control('resend-until').value).toISOString();
  if (appFilter()) filter.appId = appFilter();
  const phones = control('resend-phones')
    .value.split(/[\s,]+/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (phones.length) filter.phoneNumbers = phones;
  return filter;
}

async function dryRun() {
  $('resend-error').textContent = '';
  control('resend-run').disabled = true;
  const filter = resendFilter();
  /** @type {{ body: { matched: number, phones: number } }} */
  const { body } = await api('/v1/admin/resends', { method: 'POST', body: JSON.stringify({ filter, dryRun: true }) });
  lastDryRun = { filter: JSON.stringify(filter), matched: body.matched };
  $('resend-result').textContent =
    'Dry run: ' +
    body.matched +
    ' requests match, for ' +
    body.phones +
    ' phones. At most one new code per phone in each app; phones that verified since, have a newer code, are blocked or reached their daily cap are skipped.';
  $('resend-result').dataset.matched = String(body.matched);
  control('resend-run').disabled = body.matched === 0;
}

async function runResend() {
  const filter = resendFilter();
  if (!lastDryRun || lastDryRun.filter !== JSON.stringify(filter)) {
    $('resend-error').textContent = 'The filter changed: run the dry run again first.';
    return;
  }
  if (!confirm(`Send a new code to up to ${lastDryRun.matched} matching requests’ phones?`)) return;
  control('resend-run').disabled = true;
  /** @type {{ body: { resendId: string, matched: number } }} */
  const { body } = await api('/v1/admin/resends', { method: 'POST', body: JSON.stringify({ filter }) });
  $('resend-result').textContent = `Resend ${body.resendId} started for ${body.matched} matching requests.`;
  pollResend(body.resendId, 0);
}

/**
 * @param {string} resendId
 * @param {number} round
 */
async function pollResend(resendId, round) {
  /** @type {{ body: Resend }} */
  const { body } = await api(`/v1/admin/resends/${resendId}`);
  $('resend-result').textContent =
    `Resend ${resendId}: ${body.enqueued} new codes queued, ${body.skipped.total} matches skipped${body.done ? ', done.' : ', working…'}`;
  await loadResends();
  if (!body.done && round < 60) setTimeout(() => pollResend(resendId, round + 1).catch(report('resend-error')), 2000);
}

// ---- wiring
$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  signIn(control('token').value.trim());
});
$('sign-out').addEventListener('click', () => signOut(''));
document.addEventListener('dashboard:unauthorized', () => signOut('That token was refused.'));
$('refresh').addEventListener('click', refreshAll);
$('range').addEventListener('change', () => loadStats().catch(report('attempts-error')));
$('app-filter').addEventListener('change', () => {
  loadStats().catch(report('attempts-error'));
  loadAttempts(false).catch(report('attempts-error'));
  // A dry run counted another app's requests: run it again before a resend.
  lastDryRun = null;
  control('resend-run').disabled = true;
  $('resend-result').textContent = '';
});
$('attempt-filters').addEventListener('submit', (event) => {
  event.preventDefault();
  loadAttempts(false).catch(report('attempts-error'));
});
$('attempts-more').addEventListener('click', () => loadAttempts(true).catch(report('attempts-error')));
$('attempts-csv').addEventListener('click', () => exportAttempts().catch(report('attempts-error')));
$('request-lookup').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = control('request-id').value.trim();
  if (id) openRequest(id).catch(() => {});
});
$('resend-form').addEventListener('submit', (event) => {
  event.preventDefault();
  dryRun().catch(report('resend-error'));
});
$('resend-run').addEventListener('click', () => runResend().catch(report('resend-error')));
if (token) signIn(token);
else $('token').focus();
