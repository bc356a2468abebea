// @ts-check
/**
 * The dashboard's conversion scopes (dashboard.html #conversion-scopes-panel): each country's,
 * app's and the deployment's conversion over the window, whether it is stepped up (and whether
 * by the signal or an operator), and the override buttons: force it stepped up, force it normal,
 * or hand it back to the signal (docs/abuse-defence.md#conversion-scopes-and-the-step-up).
 */
import { api } from './apps-kit.js';
import { $, adminGet, fill, fmtTime, h, loadWithDashboard, pill, td } from './dashboard-kit.js';

/**
 * What the panel reads of GET /v1/admin/conversion-scopes.
 * @typedef {{ mode: string, note: string | null, at: string }} ScopeOverride
 * @typedef {{ scope: string, mode: string, signal: string, since: string | null, sends: number, refused: number,
 *   solved: number, settledSends: number, settledVerified: number, conversion: number | null, override: ScopeOverride | null }} ConversionScope
 */

/** @param {number | null} value */
const percent = (value) => (value === null ? '—' : `${Math.round(value * 100)}%`);

/**
 * @param {string} scope
 * @param {'stepped_up' | 'normal' | 'auto'} mode
 */
async function override(scope, mode) {
  const note = mode === 'auto' ? undefined : prompt(`Note for forcing ${scope} ${mode === 'stepped_up' ? 'stepped up' : 'normal'} (optional)`);
  if (note === null) return;
  const body = note ? { mode, note } : { mode };
  await api(`/v1/admin/conversion-scopes/${encodeURIComponent(scope)}/override`, { method: 'PUT', body });
  await reload();
}

/** @param {ConversionScope} s */
function actions(s) {
  /** @param {string} label @param {string} testId @param {'stepped_up' | 'normal' | 'auto'} mode */
  const button = (label, testId, mode) =>
    h('button', { type: 'button', class: 'ghost small', 'data-testid': testId, onclick: () => override(s.scope, mode).catch(showError) }, label);
  const buttons = [];
  if (s.override?.mode !== 'stepped_up') buttons.push(button('Step up', 'scope-force-step-up', 'stepped_up'));
  if (s.override?.mode !== 'normal') buttons.push(button('Force normal', 'scope-force-normal', 'normal'));
  if (s.override) buttons.push(button('Back to signal', 'scope-auto', 'auto'));
  return td('', h('span', { class: 'actions' }, ...buttons));
}

/** @param {ConversionScope} s */
function stateOf(s) {
  if (s.override) return h('span', {}, pill(s.mode), ` forced${s.override.note ? `: ${s.override.note}` : ''}`);
  return h('span', {}, pill(s.mode), s.since && s.mode === 'stepped_up' ? ` since ${fmtTime(s.since)}` : '');
}

async function loadScopes() {
  $('conversion-scopes-error').textContent = '';
  /** @type {{ windowSeconds: number, scopes: ConversionScope[] }} */
  const body = await adminGet('/v1/admin/conversion-scopes');
  $('conversion-scopes-window').textContent = `${Math.round(body.windowSeconds / 60)} min`;
  fill(
    $('conversion-scopes'),
    body.scopes.map((s) =>
      h(
        'tr',
        { 'data-testid': 'conversion-scope-row', 'data-scope': s.scope, 'data-mode': s.mode },
        td('scope', s.scope),
        td('state', stateOf(s)),
        td('conversion', percent(s.conversion), { class: 'num' }),
        td('settled sends', String(s.settledSends), { class: 'num' }),
        td('sends', String(s.sends), { class: 'num' }),
        td('refused (solved)', `${s.refused} (${s.solved})`, { class: 'num' }),
        actions(s),
      ),
    ),
    'No sends in the window',
    7,
  );
}

/** @param {unknown} error */
function showError(error) {
  $('conversion-scopes-error').textContent = error instanceof Error ? error.message : String(error);
}

const reload = loadWithDashboard(loadScopes, 'conversion-scopes-error');
