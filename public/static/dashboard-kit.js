// @ts-check
/**
 * What the dashboard's module scripts share (dashboard.js, a classic script, keeps its own
 * helpers): elements by id, elements built from text (never markup), the admin API read with the
 * signed-in token, the app chosen in the toolbar, and loading when the dashboard is shown.
 * dashboard.js owns signing in: it sends `dashboard:refresh` once signed in and on Refresh, and
 * signs out on `dashboard:unauthorized`.
 */

/**
 * @typedef {Record<string, string | number | boolean | null | undefined | ((event: Event) => unknown)>} Attributes
 * @typedef {Node | string | number | null | undefined} Child
 */

const TOKEN_KEY = 'otpd.adminToken';

/**
 * An element of dashboard.html by id; one that is missing is a bug in the page, said so at once.
 * @param {string} id
 * @returns {HTMLElement}
 */
export const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`dashboard.html has no #${id}`);
  return element;
};

/**
 * @param {string} tag
 * @param {Attributes | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
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

/** @param {string} value */
export const pill = (value) => h('span', { class: `pill ${value}` }, value);
/** @param {string | null | undefined} iso */
export const fmtTime = (iso) =>
  iso ? new Date(iso).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '';
/**
 * A table cell labelled for the phone layout, where each row is a card.
 * @param {string} label
 * @param {Child} content
 * @param {Attributes} [attrs]
 */
export const td = (label, content, attrs) => h('td', Object.assign({ 'data-label': label }, attrs || {}), content);
/**
 * @param {HTMLElement} tbody
 * @param {HTMLElement[]} rows
 * @param {string} empty
 * @param {number} columns
 */
export const fill = (tbody, rows, empty, columns) => {
  tbody.replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: columns, class: 'muted' }, empty))]));
};

/** An answer other than 2xx or 401: the API's error message, and the HTTP status. */
export class ApiFailure extends Error {
  /** @param {string} message @param {number} status */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * Reads the admin API with the signed-in token; the body is the answer's JSON, of the type the
 * caller names. A refused token signs the page out (dashboard.js).
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function adminGet(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` } });
  if (response.status === 401) {
    document.dispatchEvent(new Event('dashboard:unauthorized'));
    throw new ApiFailure('That token was refused.', 401);
  }
  const body = (response.headers.get('Content-Type') || '').includes('json') ? await response.json() : null;
  if (!response.ok) throw new ApiFailure(body?.error ? `${body.error.message} (${body.error.code})` : `HTTP ${response.status}`, response.status);
  return body;
}

/** The app chosen in the toolbar's selector (#app-filter), or '' for every app. */
export const selectedAppId = () => /** @type {HTMLSelectElement} */ ($('app-filter')).value;

/**
 * Runs `load` whenever the dashboard loads its data (signed in, Refresh), and now if it is already
 * shown (this module may run after dashboard.js signed in from the stored token).
 * @param {() => Promise<void>} load
 * @param {string} errorTarget id of the element that shows a failure
 */
export function loadWithDashboard(load, errorTarget) {
  const run = () =>
    load().catch((error) => {
      if (!(error instanceof ApiFailure && error.status === 401)) $(errorTarget).textContent = error instanceof Error ? error.message : String(error);
    });
  document.addEventListener('dashboard:refresh', run);
  if (!$('dashboard').hidden) run();
  return run;
}
