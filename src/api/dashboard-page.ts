/**
 * The operator dashboard, one self-contained page (no CDN, no build step) that reads the admin API
 * with the token the operator signs in with. Charts are inline SVG; every value from the API is
 * put in the page as text, never as markup. Stable `data-testid`s are what the browser test uses.
 */
export function dashboardPage(options: { nonce: string; development: boolean }): string {
  const { nonce } = options;
  const hint = options.development
    ? '<p class="hint" data-testid="development-hint">Local development: the token is <code>ADMIN_TOKEN</code> in <code>.dev.vars</code>, which <code>npm run dev</code> writes.</p>'
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>OTP dispatcher · Operations</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header class="top">
  <h1>OTP dispatcher <span class="muted">· Operations</span></h1>
  <button type="button" id="sign-out" class="ghost" data-testid="sign-out" hidden>Sign out</button>
</header>

<section id="sign-in" class="panel narrow" data-testid="sign-in-panel">
  <h2>Sign in</h2>
  <form id="sign-in-form">
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required data-testid="token-input">
    <button type="submit" data-testid="sign-in">Sign in</button>
    <p class="error" id="sign-in-error" data-testid="sign-in-error" role="alert"></p>
  </form>
  ${hint}
  <p class="muted small">The token stays in this tab (sessionStorage) and is sent only to this service's admin API.</p>
</section>

<main id="dashboard" data-testid="dashboard" hidden>
  <section class="toolbar">
    <label>Range
      <select id="range" data-testid="range">
        <option value="first" selected>since the first request</option>
        <option value="3600000">last hour</option>
        <option value="86400000">last 24 hours</option>
        <option value="604800000">last 7 days</option>
        <option value="2592000000">last 30 days</option>
      </select>
    </label>
    <button type="button" id="refresh" data-testid="refresh">Refresh</button>
    <span class="muted small" id="range-shown" data-testid="range-shown"></span>
    <span class="muted small" id="updated" data-testid="updated"></span>
  </section>

  <section class="cards" id="summary" data-testid="summary"></section>

  <div class="grid">
    <section class="panel">
      <h2>Sends over time, by outcome</h2>
      <div id="sends-chart" data-testid="sends-chart" class="chart"></div>
    </section>
    <section class="panel">
      <h2>Provider latency</h2>
      <div id="latency-chart" data-testid="latency-chart" class="chart"></div>
    </section>
    <section class="panel">
      <h2>Top errors</h2>
      <div class="scroll"><table data-testid="top-errors" class="cards-on-phone"><thead><tr><th>code</th><th>from</th><th class="num">count</th></tr></thead><tbody id="top-errors"></tbody></table></div>
    </section>
    <section class="panel">
      <h2>By country</h2>
      <div class="scroll"><table data-testid="by-country" class="cards-on-phone"><thead><tr><th>code</th><th class="num">requests</th><th class="num">accepted</th><th class="num">delivered</th><th class="num">failed</th><th class="num">expired</th><th class="num">verified</th></tr></thead><tbody id="by-country"></tbody></table></div>
    </section>
  </div>

  <section class="panel">
    <h2>Recent attempts</h2>
    <form id="attempt-filters" class="filters">
      <label>Phone <input id="filter-phone" data-testid="filter-phone" placeholder="+919876543210" inputmode="tel"></label>
      <label>Outcome
        <select id="filter-outcome" data-testid="filter-outcome">
          <option value="">any</option><option>sent</option><option>retry</option><option>failed</option><option>expired</option>
        </select>
      </label>
      <label>Error code <input id="filter-error" data-testid="filter-error" placeholder="provider_unavailable"></label>
      <button type="submit" data-testid="filter-apply">Filter</button>
      <button type="button" class="ghost" id="attempts-csv" data-testid="attempts-csv">Export CSV</button>
    </form>
    <p class="error" id="attempts-error" role="alert"></p>
    <div class="scroll">
      <table data-testid="attempts-table" class="cards-on-phone">
        <thead><tr><th>started</th><th>request</th><th>phone</th><th>#</th><th>outcome</th><th class="num">HTTP</th><th class="num">ms</th><th>error</th></tr></thead>
        <tbody id="attempts"></tbody>
      </table>
    </div>
    <button type="button" class="ghost" id="attempts-more" data-testid="attempts-more" hidden>Load more</button>
  </section>

  <section class="panel" id="request-panel" data-testid="request-panel">
    <h2>Request timeline</h2>
    <form id="request-lookup" class="filters">
      <label>Request id <input id="request-id" data-testid="request-id-input" placeholder="otp_…" spellcheck="false"></label>
      <button type="submit" data-testid="request-open">Open</button>
    </form>
    <p class="error" id="request-error" role="alert"></p>
    <div id="request-detail" data-testid="request-detail"></div>
    <ol id="timeline" class="timeline" data-testid="timeline"></ol>
  </section>

  <div class="grid">
    <section class="panel">
      <h2>Bulk resend</h2>
      <form id="resend-form" data-testid="resend-form" class="stack">
        <fieldset>
          <legend>Requests that are</legend>
          <label class="inline"><input type="checkbox" name="status" value="failed" checked data-testid="resend-status-failed"> failed</label>
          <label class="inline"><input type="checkbox" name="status" value="expired" checked data-testid="resend-status-expired"> expired</label>
          <label class="inline"><input type="checkbox" name="status" value="sent" data-testid="resend-status-sent"> sent, never reported delivered</label>
        </fieldset>
        <div class="filters">
          <label>Created from <input type="datetime-local" id="resend-since" data-testid="resend-since" required></label>
          <label>until <input type="datetime-local" id="resend-until" data-testid="resend-until"></label>
        </div>
        <label>Only these phones (optional, one per line)<textarea id="resend-phones" data-testid="resend-phones" rows="2" placeholder="+919876543210"></textarea></label>
        <div>
          <button type="submit" data-testid="resend-dry-run">Dry run</button>
          <button type="button" id="resend-run" class="danger" data-testid="resend-run" disabled>Resend</button>
        </div>
        <p id="resend-result" data-testid="resend-result" role="status"></p>
        <p class="error" id="resend-error" role="alert"></p>
      </form>
      <h3>Recent resends</h3>
      <div class="scroll"><table data-testid="resend-list" class="cards-on-phone"><thead><tr><th>created</th><th class="num">matched</th><th class="num">enqueued</th><th class="num">skipped</th><th>state</th></tr></thead><tbody id="resends"></tbody></table></div>
    </section>
    <section class="panel">
      <h2>Active prefix blocks</h2>
      <p class="error" id="prefix-blocks-error" role="alert"></p>
      <div class="scroll"><table data-testid="prefix-blocks" class="cards-on-phone"><thead><tr><th>prefix</th><th>reason</th><th>note</th><th>since</th><th>until</th><th></th></tr></thead><tbody id="prefix-blocks"></tbody></table></div>
    </section>
    <section class="panel" id="locked-phones-panel" data-testid="locked-phones-panel" hidden>
      <h2>Locked phones</h2>
      <p class="muted small">Phones that used up their wrong-code budget: no code is sent to them until the lock ends or is lifted.</p>
      <p class="error" id="locked-phones-error" role="alert"></p>
      <div class="scroll"><table data-testid="locked-phones" class="cards-on-phone"><thead><tr><th>phone</th><th class="num">wrong codes</th><th>locked until</th><th></th></tr></thead><tbody id="locked-phones"></tbody></table></div>
    </section>
  </div>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

const STYLE = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f5f7fa; --card: #fff; --accent: #0b5cad;
  --sent: #2e7d32; --retry: #e0a100; --failed: #c62828; --expired: #6d4c41; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
.top { display: flex; align-items: center; justify-content: space-between; padding: .75rem 1rem; background: #16213a; color: #fff; }
.top h1 { font-size: 1.1rem; margin: 0; } .top .muted { color: #b8c2d6; font-weight: 400; }
main, .narrow { padding: 1rem; max-width: 90rem; margin: 0 auto; }
.narrow { max-width: 26rem; margin-top: 2rem; }
h2 { font-size: 1rem; margin: 0 0 .6rem; } h3 { font-size: .9rem; margin: 1rem 0 .4rem; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin-bottom: 1rem; min-width: 0; }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 30rem), 1fr)); }
.grid > .panel { margin-bottom: 0; } .grid { margin-bottom: 1rem; }
.cards { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(8.5rem, 1fr)); margin-bottom: 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .7rem .8rem; }
.card .label { color: var(--muted); font-size: .8rem; } .card .value { font-size: 1.35rem; font-weight: 650; }
.card .sub { color: var(--muted); font-size: .78rem; }
.card.alert { border-color: var(--failed); } .card.alert .value { color: var(--failed); }
.toolbar { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; margin-bottom: 1rem; }
label { display: block; font-size: .85rem; color: var(--muted); } label.inline { display: inline-flex; gap: .3rem; margin-right: .9rem; color: var(--fg); }
input, select, textarea { font: inherit; padding: .4rem .5rem; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: var(--fg); max-width: 100%; }
input:not([type=checkbox]), textarea { width: 100%; } textarea { resize: vertical; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: flex-end; margin-bottom: .6rem; }
.filters label { flex: 1 1 11rem; }
.stack > * { margin-bottom: .6rem; } fieldset { border: 1px solid var(--line); border-radius: 6px; }
button { font: inherit; padding: .45rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.ghost { background: transparent; color: var(--accent); } .top button.ghost { color: #fff; border-color: #8da2c8; }
button.danger { background: var(--failed); border-color: var(--failed); } button:disabled { opacity: .45; cursor: not-allowed; }
button.small { padding: .1rem .55rem; font-size: .8rem; }
button.link { border: 0; background: none; color: var(--accent); padding: 0; font-family: ui-monospace, monospace; font-size: .8rem; text-decoration: underline; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; min-width: 12rem; }
td.note { white-space: normal; min-width: 8rem; overflow-wrap: anywhere; } td.when { white-space: normal; min-width: 5.5rem; }
.pill { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .78rem; color: #fff; background: var(--muted); }
.pill.sent, .pill.delivered, .pill.verified { background: var(--sent); } .pill.retry, .pill.queued, .pill.sending, .pill.pending { background: var(--retry); color: #222; }
.pill.failed { background: var(--failed); } .pill.expired, .pill.superseded, .pill.unknown { background: var(--expired); }
.chart svg { width: 100%; height: auto; display: block; } .legend { display: flex; flex-wrap: wrap; gap: .8rem; font-size: .8rem; color: var(--muted); margin-top: .4rem; }
.legend i { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
.error { color: var(--failed); min-height: 1em; margin: .3rem 0; } .muted { color: var(--muted); } .small { font-size: .8rem; }
.hint { background: #fff8e1; border: 1px solid #f0d98a; border-radius: 6px; padding: .5rem .7rem; font-size: .85rem; }
.timeline { list-style: none; padding: 0; margin: .6rem 0 0; border-left: 2px solid var(--line); }
.timeline li { position: relative; padding: .2rem 0 .6rem 1rem; } .timeline li::before { content: ""; position: absolute; left: -6px; top: .55rem; width: 10px; height: 10px; border-radius: 50%; background: var(--accent); }
.timeline .when { color: var(--muted); font-size: .78rem; font-family: ui-monospace, monospace; } .timeline .what { font-weight: 600; margin: 0 .4rem; }
dl.detail { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .8rem; font-size: .85rem; margin: 0; }
dl.detail dt { color: var(--muted); } dl.detail dd { margin: 0; overflow-wrap: anywhere; }
code { font-family: ui-monospace, monospace; font-size: .85em; }
@media (max-width: 640px) {
  body { font-size: 14px; } main { padding: .6rem; } .panel { padding: .75rem; } .card .value { font-size: 1.15rem; }
  table.cards-on-phone thead { display: none; }
  table.cards-on-phone tr { display: block; padding: .35rem 0; border-bottom: 1px solid var(--line); }
  table.cards-on-phone td { display: flex; justify-content: space-between; gap: 1rem; border: 0; padding: .1rem 0; white-space: normal; text-align: right; min-width: 0; overflow-wrap: anywhere; }
  table.cards-on-phone td::before { content: attr(data-label); color: var(--muted); text-align: left; flex: none; }
  table.cards-on-phone td[colspan] { justify-content: flex-start; text-align: left; }
}
`;

// Client script. Plain strings and no template literals, so nothing here is interpolated by the server.
const SCRIPT = `
'use strict';
const TOKEN_KEY = 'otpd.adminToken';
const COLORS = { sent: '#2e7d32', retry: '#e0a100', failed: '#c62828', expired: '#6d4c41' };
const OUTCOMES = ['sent', 'retry', 'failed', 'expired'];
const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY);
let attemptsCursor = null;
let lastDryRun = null;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  return el;
}
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : String(child));
  return el;
}
const pill = (value) => h('span', { class: 'pill ' + value }, value);
const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '');
const NONE = '—';
const fmtRate = (rate) => (rate === null || rate === undefined ? NONE : (rate * 100).toFixed(1) + '%');
// Durations are whole milliseconds: 0 means the call took under one (the sandbox never leaves the machine).
const fmtMs = (ms) => (ms === null || ms === undefined ? NONE : ms === 0 ? '<1 ms' : ms + ' ms');
const BUCKET_NAMES = { '1m': '1-minute', '5m': '5-minute', '15m': '15-minute', '1h': 'hourly', '6h': '6-hour', '1d': 'daily' };
const td = (label, content, attrs) => h('td', Object.assign({ 'data-label': label }, attrs || {}), content);
const fill = (tbody, rows, empty, columns) => {
  tbody.replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: columns, class: 'muted' }, empty))]));
};

class Unauthorized extends Error {}
async function api(path, init) {
  const options = init || {};
  const headers = Object.assign({ Authorization: 'Bearer ' + token }, options.headers || {});
  if (options.body) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) { signOut('That token was refused.'); throw new Unauthorized(); }
  const type = response.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) {
    const error = new Error(body && body.error ? body.error.message + ' (' + body.error.code + ')' : 'HTTP ' + response.status);
    error.status = response.status;
    throw error;
  }
  return { body, response };
}
const report = (target) => (error) => { if (!(error instanceof Unauthorized)) $(target).textContent = error.message; };

function signOut(message) {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('dashboard').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message || '';
}

async function signIn(candidate) {
  token = candidate;
  try {
    await api('/v1/admin/prefix-blocks');
  } catch (error) {
    if (!(error instanceof Unauthorized)) $('sign-in-error').textContent = error.message;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, candidate);
  $('sign-in').hidden = true;
  $('sign-out').hidden = false;
  $('dashboard').hidden = false;
  $('token').value = '';
  initResendDates();
  refreshAll();
}

function refreshAll() {
  loadStats().catch(report('attempts-error'));
  loadAttempts(false).catch(report('attempts-error'));
  loadPrefixBlocks().catch(report('prefix-blocks-error'));
  loadLockedPhones().catch(report('locked-phones-error'));
  loadResends().catch(report('resend-error'));
}

// ---- statistics
async function loadStats() {
  const until = Date.now();
  const range = $('range').value;
  const since = range === 'first' ? 'first' : String(until - Number(range));
  const { body } = await api('/v1/admin/stats?since=' + since + '&until=' + until);
  const card = (label, value, sub, testid, alert) =>
    h('div', { class: alert ? 'card alert' : 'card', 'data-testid': testid }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), h('div', { class: 'sub' }, sub || ''));
  const failed = (body.requests.byStatus.failed || 0) + (body.requests.byStatus.expired || 0);
  const flight = body.inFlight;
  const latency = body.latencyMs;
  $('summary').replaceChildren(
    card('Requests', body.requests.total, body.requests.byOrigin.operator_resend + ' operator resends', 'card-requests'),
    card('Accepted by provider', fmtRate(body.delivery.acceptedRate), body.delivery.accepted + ' accepted', 'card-accepted'),
    card('Delivered', fmtRate(body.delivery.successRate), body.delivery.delivered + ' delivered, ' + body.delivery.failed + ' not', 'card-delivered'),
    card('Verified', fmtRate(body.delivery.verifiedRate), body.delivery.verified + ' verified', 'card-verified'),
    card('Failed or expired', failed, 'requests', 'card-failed'),
    card('Stuck / in flight', flight.stuck + ' / ' + (flight.queued + flight.sending),
      flight.stuck ? 'untouched ' + flight.stuckAfterSeconds / 60 + '+ min, oldest ' + fmtTime(flight.oldestStuckAt) : flight.queued + ' queued, ' + flight.sending + ' sending now', 'card-stuck', flight.stuck > 0),
    card('Attempts per request', body.attempts.perRequest.average === null ? NONE : body.attempts.perRequest.average.toFixed(2), 'max ' + body.attempts.perRequest.max, 'card-attempts'),
    card('Latency p50 / p95 / p99', fmtMs(latency.p50), latency.count ? fmtMs(latency.p95) + ' / ' + fmtMs(latency.p99) : 'no provider calls in this range', 'card-latency'),
  );
  $('range-shown').textContent = 'From ' + fmtTime(body.since) + ', ' + BUCKET_NAMES[body.bucket] + ' bars.';
  $('range-shown').dataset.bucket = body.bucket;
  drawSends(body.series);
  drawLatency(latency);
  fill($('top-errors'), body.topErrors.map((e) => h('tr', { 'data-testid': 'error-row' }, td('code', h('code', {}, e.code)), td('from', e.source === 'attempt' ? 'send' : 'status check'), td('count', e.count, { class: 'num' }))), 'No errors in this range', 3);
  const countryColumns = ['requests', 'accepted', 'delivered', 'failed', 'expired', 'verified'];
  fill($('by-country'), body.byCountry.map((c) => h('tr', { 'data-testid': 'country-row' }, td('code', c.country), ...countryColumns.map((k) => td(k, c[k], { class: 'num' })))), 'No requests in this range', 7);
  $('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
}

function drawSends(series) {
  const W = 640, H = 220, top = 14, bottom = 22, left = 34;
  const totals = series.map((p) => OUTCOMES.reduce((sum, o) => sum + p.attempts[o], 0));
  const max = Math.max(1, ...totals);
  const slot = (W - left) / Math.max(1, series.length);
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Provider calls per time bucket, stacked by outcome', 'data-bars': series.length });
  svg.append(s('line', { x1: left, x2: W, y1: y(0), y2: y(0), stroke: '#d9dde5' }), s('line', { x1: left, x2: W, y1: y(max), y2: y(max), stroke: '#eef0f4' }));
  svg.append(s('text', { x: left - 4, y: y(max) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6475' }, String(max)));
  svg.append(s('text', { x: left - 4, y: y(0), 'text-anchor': 'end', 'font-size': 11, fill: '#5b6475' }, '0'));
  series.forEach((point, i) => {
    let base = 0;
    for (const outcome of OUTCOMES) {
      const v = point.attempts[outcome];
      if (!v) continue;
      const rect = s('rect', { x: left + i * slot + slot * 0.1, width: Math.max(1, slot * 0.8), y: y(base + v), height: y(base) - y(base + v), fill: COLORS[outcome], 'data-outcome': outcome });
      rect.append(s('title', {}, new Date(point.start).toLocaleString() + ': ' + v + ' ' + outcome));
      svg.append(rect);
      base += v;
    }
  });
  if (series.length) {
    const label = (iso) => new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    svg.append(s('text', { x: left, y: H - 6, 'font-size': 11, fill: '#5b6475' }, label(series[0].start)));
    svg.append(s('text', { x: W, y: H - 6, 'font-size': 11, fill: '#5b6475', 'text-anchor': 'end' }, label(series[series.length - 1].start)));
  }
  const legend = h('div', { class: 'legend' }, ...OUTCOMES.map((o) => h('span', {}, h('i', { 'data-color': o }), o)));
  legend.querySelectorAll('i').forEach((i) => { i.style.background = COLORS[i.dataset.color]; });
  const total = totals.reduce((a, b) => a + b, 0);
  $('sends-chart').replaceChildren(svg, legend, h('p', { class: 'muted small' }, total + ' provider calls in this range'));
}

function drawLatency(latency) {
  const W = 640, H = 200, top = 14, bottom = 34, left = 34;
  const bins = latency.histogram;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const slot = (W - left) / bins.length;
  const y = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Provider call durations' });
  svg.append(s('line', { x1: left, x2: W, y1: y(0), y2: y(0), stroke: '#d9dde5' }));
  svg.append(s('text', { x: left - 4, y: y(max) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6475' }, String(max)));
  bins.forEach((bin, i) => {
    const rect = s('rect', { x: left + i * slot + slot * 0.12, width: slot * 0.76, y: y(bin.count), height: y(0) - y(bin.count), fill: '#0b5cad' });
    rect.append(s('title', {}, bin.count + ' calls'));
    svg.append(rect);
    const from = i === 0 ? 0 : bins[i - 1].upToMs;
    const text = bin.upToMs === null ? '≥' + from : '<' + bin.upToMs;
    svg.append(s('text', { x: left + i * slot + slot / 2, y: H - 18, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6475' }, text));
  });
  if (!latency.count) svg.append(s('text', { x: (W + left) / 2, y: H / 2, 'text-anchor': 'middle', 'font-size': 13, fill: '#5b6475' }, 'No provider calls in this range'));
  svg.append(s('text', { x: W, y: H - 3, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6475' }, 'milliseconds'));
  $('latency-chart').replaceChildren(svg, h('p', { class: 'muted small', 'data-testid': 'latency-percentiles' },
    latency.count ? 'p50 ' + fmtMs(latency.p50) + ' · p95 ' + fmtMs(latency.p95) + ' · p99 ' + fmtMs(latency.p99) + ' · max ' + fmtMs(latency.max) + ' · ' + latency.count + ' calls' : 'No provider calls in this range'));
}

// ---- attempts
function attemptQuery() {
  const params = new URLSearchParams();
  const phone = $('filter-phone').value.trim();
  if (phone) params.set('phoneNumber', phone);
  if ($('filter-outcome').value) params.set('outcome', $('filter-outcome').value);
  const code = $('filter-error').value.trim();
  if (code) params.set('errorCode', code);
  return params;
}

async function loadAttempts(more) {
  $('attempts-error').textContent = '';
  const params = attemptQuery();
  params.set('limit', '25');
  if (more && attemptsCursor) params.set('cursor', attemptsCursor);
  const { body } = await api('/v1/admin/attempts?' + params);
  const rows = body.attempts.map((a) =>
    h('tr', { 'data-testid': 'attempt-row', 'data-outcome': a.outcome },
      h('td', { 'data-label': 'started' }, fmtTime(a.startedAt)),
      h('td', { 'data-label': 'request' }, h('button', { type: 'button', class: 'link', 'data-testid': 'open-request', onclick: () => openRequest(a.requestId) }, a.requestId)),
      h('td', { 'data-label': 'phone' }, a.phoneNumber),
      h('td', { class: 'num', 'data-label': 'attempt' }, a.attemptNumber),
      h('td', { 'data-label': 'outcome' }, pill(a.outcome)),
      h('td', { class: 'num', 'data-label': 'HTTP' }, a.httpStatus === null ? '–' : a.httpStatus),
      h('td', { class: 'num', 'data-label': 'ms' }, a.durationMs),
      h('td', { class: 'wrap', 'data-label': 'error' }, a.errorCode ? h('code', {}, a.errorCode) : '')));
  const tbody = $('attempts');
  if (more) tbody.append(...rows);
  else fill(tbody, rows, 'No attempts match', 8);
  attemptsCursor = body.nextCursor;
  $('attempts-more').hidden = !attemptsCursor;
}

async function exportAttempts() {
  const params = attemptQuery();
  params.set('format', 'csv');
  const { body } = await api('/v1/admin/attempts?' + params);
  const link = h('a', { href: URL.createObjectURL(new Blob([body], { type: 'text/csv' })), download: 'attempts.csv' });
  document.body.append(link);
  link.click();
  link.remove();
}

// ---- one request
async function openRequest(requestId) {
  $('request-error').textContent = '';
  $('request-id').value = requestId;
  const { body } = await api('/v1/admin/requests/' + encodeURIComponent(requestId)).catch((error) => {
    report('request-error')(error);
    throw error;
  });
  const r = body.request;
  const pairs = [
    ['request', h('code', { 'data-testid': 'request-id' }, r.requestId)],
    ['status', h('span', { 'data-testid': 'request-status' }, pill(r.status))],
    ['phone', r.phoneNumber],
    ['origin', r.origin + (r.replacesRequestId ? ' (replaces ' + r.replacesRequestId + ')' : '')],
    ['attempts', r.attempts],
    ['delivery', r.deliveryStatus || '–'],
    ['last error', r.lastError ? r.lastError.code + ': ' + r.lastError.message : '–'],
    ['created', fmtTime(r.createdAt)],
  ];
  $('request-detail').replaceChildren(h('dl', { class: 'detail' }, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  $('timeline').replaceChildren(...body.timeline.map((e) =>
    h('li', { 'data-testid': 'timeline-event', 'data-event': e.event }, h('span', { class: 'when' }, fmtTime(e.at)), h('span', { class: 'what' }, e.event), h('span', {}, e.detail))));
  $('request-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

// ---- prefix blocks and resends
async function loadPrefixBlocks() {
  $('prefix-blocks-error').textContent = '';
  const { body } = await api('/v1/admin/prefix-blocks');
  fill($('prefix-blocks'), body.blocks.map((b) => h('tr', { 'data-testid': 'prefix-block-row', 'data-prefix': b.prefix },
    td('prefix', b.prefix), td('reason', b.reason), td('note', b.note || '', { class: 'note', 'data-testid': 'prefix-block-note' }),
    td('since', fmtTime(b.since), { class: 'when' }), td('until', b.until ? fmtTime(b.until) : 'until lifted', { class: 'when' }),
    td('', h('button', { type: 'button', class: 'ghost small', 'data-testid': 'lift-prefix-block', onclick: () => liftPrefixBlock(b.prefix).catch(report('prefix-blocks-error')) }, 'Lift')))),
    'No prefix is blocked', 6);
}

async function liftPrefixBlock(prefix) {
  if (!confirm('Lift the block on ' + prefix + '? Sends to it are admitted again at once.')) return;
  await api('/v1/admin/prefix-blocks/' + encodeURIComponent(prefix), { method: 'DELETE' });
  await loadPrefixBlocks();
}

// GET /v1/admin/locked-phones → { lockedPhones: [{ phoneNumber, failures, lockedUntil }] }. A service
// without that route (404) shows no panel.
async function loadLockedPhones() {
  $('locked-phones-error').textContent = '';
  let body;
  try {
    ({ body } = await api('/v1/admin/locked-phones'));
  } catch (error) {
    if (error.status === 404) { $('locked-phones-panel').hidden = true; return; }
    throw error;
  }
  $('locked-phones-panel').hidden = false;
  fill($('locked-phones'), body.lockedPhones.map((p) => h('tr', { 'data-testid': 'locked-phone-row', 'data-phone': p.phoneNumber },
    td('phone', p.phoneNumber), td('wrong codes', p.failures, { class: 'num' }), td('locked until', fmtTime(p.lockedUntil), { class: 'when' }),
    td('', h('button', { type: 'button', class: 'ghost small', 'data-testid': 'lift-locked-phone', onclick: () => liftLockedPhone(p.phoneNumber).catch(report('locked-phones-error')) }, 'Lift')))),
    'No phone is locked', 4);
}

async function liftLockedPhone(phoneNumber) {
  if (!confirm('Lift the lock on ' + phoneNumber + '? It can be sent codes and guess again at once.')) return;
  await api('/v1/admin/locked-phones/' + encodeURIComponent(phoneNumber), { method: 'DELETE' });
  await loadLockedPhones();
}

async function loadResends() {
  const { body } = await api('/v1/admin/resends?limit=10');
  fill($('resends'), body.resends.map((j) => h('tr', { 'data-testid': 'resend-row' },
    td('created', fmtTime(j.createdAt)), td('matched', j.matched, { class: 'num' }), td('enqueued', j.enqueued, { class: 'num' }), td('skipped', j.skipped.total, { class: 'num' }),
    td('state', j.done ? pill('sent') : pill('pending')))), 'No resends yet', 5);
}

const toLocalInput = (ms) => { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000); return d.toISOString().slice(0, 16); };
function initResendDates() {
  if (!$('resend-since').value) $('resend-since').value = toLocalInput(Date.now() - 86400000);
}

function resendFilter() {
  const status = [...document.querySelectorAll('#resend-form input[name=status]:checked')].map((box) => box.value);
  const filter = { status, since: new Date($('resend-since').value).toISOString() };
  if ($('resend-until').value) filter.until = new Date($('resend-until').value).toISOString();
  const phones = $('resend-phones').value.split(/[\\s,]+/).map((p) => p.trim()).filter(Boolean);
  if (phones.length) filter.phoneNumbers = phones;
  return filter;
}

async function dryRun() {
  $('resend-error').textContent = '';
  $('resend-run').disabled = true;
  const filter = resendFilter();
  const { body } = await api('/v1/admin/resends', { method: 'POST', body: JSON.stringify({ filter, dryRun: true }) });
  lastDryRun = { filter: JSON.stringify(filter), matched: body.matched };
  $('resend-result').textContent = 'Dry run: ' + body.matched + ' requests match, for ' + body.phones + ' phones. At most one new code per phone; phones that verified since, have a newer code, are blocked or reached their daily cap are skipped.';
  $('resend-result').dataset.matched = String(body.matched);
  $('resend-run').disabled = body.matched === 0;
}

async function runResend() {
  const filter = resendFilter();
  if (!lastDryRun || lastDryRun.filter !== JSON.stringify(filter)) { $('resend-error').textContent = 'The filter changed: run the dry run again first.'; return; }
  if (!confirm('Send a new code to up to ' + lastDryRun.matched + ' matching requests’ phones?')) return;
  $('resend-run').disabled = true;
  const { body } = await api('/v1/admin/resends', { method: 'POST', body: JSON.stringify({ filter }) });
  $('resend-result').textContent = 'Resend ' + body.resendId + ' started for ' + body.matched + ' matching requests.';
  pollResend(body.resendId, 0);
}

async function pollResend(resendId, round) {
  const { body } = await api('/v1/admin/resends/' + resendId);
  $('resend-result').textContent = 'Resend ' + resendId + ': ' + body.enqueued + ' new codes queued, ' + body.skipped.total + ' matches skipped' + (body.done ? ', done.' : ', working…');
  await loadResends();
  if (!body.done && round < 60) setTimeout(() => pollResend(resendId, round + 1).catch(report('resend-error')), 2000);
}

// ---- wiring
$('sign-in-form').addEventListener('submit', (event) => { event.preventDefault(); signIn($('token').value.trim()); });
$('sign-out').addEventListener('click', () => signOut(''));
$('refresh').addEventListener('click', refreshAll);
$('range').addEventListener('change', () => loadStats().catch(report('attempts-error')));
$('attempt-filters').addEventListener('submit', (event) => { event.preventDefault(); loadAttempts(false).catch(report('attempts-error')); });
$('attempts-more').addEventListener('click', () => loadAttempts(true).catch(report('attempts-error')));
$('attempts-csv').addEventListener('click', () => exportAttempts().catch(report('attempts-error')));
$('request-lookup').addEventListener('submit', (event) => { event.preventDefault(); const id = $('request-id').value.trim(); if (id) openRequest(id).catch(() => {}); });
$('resend-form').addEventListener('submit', (event) => { event.preventDefault(); dryRun().catch(report('resend-error')); });
$('resend-run').addEventListener('click', () => runResend().catch(report('resend-error')));
if (token) signIn(token); else $('token').focus();
`;
