// @ts-check
/**
 * The dashboard's erase form (dashboard.html #erasure-panel): erases everything held for one
 * phone number (POST /v1/admin/erasures, with the operator's name from the Apps panel as
 * X-Operator) and says how many rows went. The record of erasures is GET /v1/admin/erasures.
 */
import { $, api, input } from './apps-kit.js';

/** @typedef {{ erasureId: string, total: number, rows: Record<string, number> }} Erasure */

$('erasure-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('erasure-error').textContent = '';
  $('erasure-result').textContent = '';
  const phoneNumber = input('erasure-phone').value.trim();
  if (!confirm(`Erase everything held for ${phoneNumber}: its requests, their audit rows and its limits? This cannot be undone.`)) return;
  try {
    /** @type {Erasure} */
    const erased = await api('/v1/admin/erasures', { method: 'POST', body: { phoneNumber } });
    const tables = Object.entries(erased.rows).filter(([, count]) => count > 0);
    $('erasure-result').textContent =
      erased.total === 0
        ? `Nothing was held for this number (recorded as ${erased.erasureId}).`
        : `Erased ${erased.total} rows (${tables.map(([table, count]) => `${table} ${count}`).join(', ')}); recorded as ${erased.erasureId}.`;
    input('erasure-phone').value = '';
  } catch (error) {
    $('erasure-error').textContent = error instanceof Error ? error.message : String(error);
  }
});
