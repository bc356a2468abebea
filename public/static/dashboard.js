// @ts-check
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
  const phones = $('resend-phones').value.split(/[\s,]+/).map((p) => p.trim()).filter(Boolean);
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
