// @ts-check
/**
 * An app's webhook in the dashboard's Apps section (apps.js puts one per app), through
 * /v1/admin/apps/:appId/webhook: its URL, events and number setting, a form to set them, rotating
 * the signing secret (shown once, like keys) and removing it, and its failed deliveries with
 * redelivery. Read when opened, so a closed panel costs no call.
 */

/**
 * @typedef {{ url: string, events: string[], includePhoneNumber: boolean, secretVersion: number,
 *   previousSecretUntil: string | null, disabledAt: string | null, disabledReason: string | null }} Webhook
 * @typedef {{ eventId: string, type: string, requestId: string, occurredAt: string, attempts: number, lastErrorCode: string | null }} Delivery
 */

import { $, api, button, fmtTime, h, pill, showError, showKeys, td } from './apps-kit.js';

const EVENT_TYPES = ['otp.sent', 'otp.delivered', 'otp.failed', 'otp.expired', 'otp.verified'];
const MAX_OVERLAP_HOURS = 720;

/** The app's webhook, or null when it has none. @param {string} appId @returns {Promise<Webhook | null>} */
async function readWebhook(appId) {
  try {
    return (await api(`/v1/admin/apps/${encodeURIComponent(appId)}/webhook`)).webhook;
  } catch (error) {
    if (error instanceof Error && error.message.endsWith('(not_found)')) return null;
    throw error;
  }
}

/** @param {{ id: string, name: string }} app */
export function renderWebhook(app) {
  const body = h('div', { 'data-testid': 'webhook-body' });
  const details = h('details', { 'data-testid': 'app-webhook' }, h('summary', {}, 'Webhook'), body);
  const path = `/v1/admin/apps/${encodeURIComponent(app.id)}/webhook`;

  const load = async () => {
    $('apps-error').textContent = '';
    const [webhook, failed] = await Promise.all([readWebhook(app.id), api(`${path}/deliveries?status=failed&limit=20`).catch(() => ({ deliveries: [] }))]);
    body.replaceChildren(
      ...(webhook ? [describe(webhook)] : [h('p', { class: 'muted', 'data-testid': 'webhook-none' }, 'No webhook: this app polls.')]),
      form(webhook),
    );
    if (webhook) body.append(actions(), failedList(/** @type {{ deliveries: Delivery[] }} */ (failed).deliveries));
  };

  /** @param {Webhook} webhook */
  const describe = (webhook) =>
    h(
      'p',
      { 'data-testid': 'webhook-state' },
      pill(webhook.disabledAt ? 'disabled' : 'enabled'),
      ' Posting ',
      h('strong', {}, webhook.events.join(', ')),
      ` to `,
      h('code', { 'data-testid': 'webhook-url' }, webhook.url),
      webhook.includePhoneNumber ? ', with full numbers' : ', numbers masked',
      `; secret version ${webhook.secretVersion}`,
      webhook.previousSecretUntil ? ` (the previous one signs too until ${fmtTime(webhook.previousSecretUntil)})` : '',
      webhook.disabledAt ? `. Disabled ${fmtTime(webhook.disabledAt)} (${webhook.disabledReason}): save it again to enable it.` : '.',
    );

  /** @param {Webhook | null} webhook */
  const form = (webhook) => {
    const url = /** @type {HTMLInputElement} */ (h('input', { type: 'url', required: true, 'data-testid': 'webhook-url-input', placeholder: 'https://…' }));
    url.value = webhook?.url ?? '';
    const boxes = EVENT_TYPES.map((type) => {
      const box = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', 'data-event': type }));
      box.checked = webhook ? webhook.events.includes(type) : true;
      return h('label', { class: 'small' }, box, ` ${type}`);
    });
    const full = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', 'data-testid': 'webhook-full-number' }));
    full.checked = webhook?.includePhoneNumber ?? false;
    const save = async () => {
      const events = boxes
        .map((label) => /** @type {HTMLInputElement} */ (label.firstChild))
        .filter((box) => box.checked)
        .map((box) => box.dataset.event);
      /** @type {{ secret?: string }} */
      const answer = await api(path, { method: 'PUT', body: { url: url.value.trim(), events, includePhoneNumber: full.checked } });
      if (answer.secret) showKeys(`Webhook signing secret of “${app.name}”`, [{ kind: 'webhook secret', key: answer.secret }]);
      await load();
    };
    return h(
      'div',
      { class: 'filters' },
      h('label', {}, 'URL ', url),
      ...boxes,
      h('label', { class: 'small' }, full, ' full phone numbers'),
      button(webhook ? 'Save webhook' : 'Set webhook', 'webhook-save', save, ''),
    );
  };

  const actions = () =>
    h(
      'p',
      { class: 'app-actions' },
      button('Rotate secret', 'webhook-rotate', async () => {
        const answer = prompt(`For how many hours should the previous secret of “${app.name}” keep signing (0 to ${MAX_OVERLAP_HOURS})?`, '24');
        if (answer === null) return;
        const hours = Number(answer);
        if (answer.trim() === '' || !Number.isFinite(hours) || hours < 0 || hours > MAX_OVERLAP_HOURS) {
          throw new Error(`The overlap must be a number of hours from 0 to ${MAX_OVERLAP_HOURS}.`);
        }
        /** @type {{ secret: string }} */
        const { secret } = await api(`${path}/rotate-secret`, { method: 'POST', body: { overlapSeconds: Math.round(hours * 3600) } });
        showKeys(`New webhook signing secret of “${app.name}”`, [{ kind: 'webhook secret', key: secret }]);
        await load();
      }),
      button('Redeliver every failed event', 'webhook-redeliver-all', async () => {
        await api(`${path}/redeliver`, { method: 'POST', body: { allFailed: true } });
        await load();
      }),
      button(
        'Remove',
        'webhook-remove',
        async () => {
          if (!confirm(`Remove the webhook of “${app.name}”? Events still waiting are dropped, and a webhook set later gets a new secret.`)) return;
          await api(path, { method: 'DELETE' });
          await load();
        },
        'danger small',
      ),
    );

  /** @param {Delivery[]} deliveries */
  const failedList = (deliveries) =>
    deliveries.length === 0
      ? h('p', { class: 'muted small', 'data-testid': 'webhook-failed-none' }, 'No failed deliveries.')
      : h(
          'table',
          { class: 'cards-on-phone', 'data-testid': 'webhook-failed' },
          h('thead', {}, h('tr', {}, ...['failed event', 'request', 'happened', 'attempts', 'last error', ''].map((name) => h('th', {}, name)))),
          h(
            'tbody',
            {},
            ...deliveries.map((delivery) =>
              h(
                'tr',
                { 'data-testid': 'webhook-failed-row', 'data-event-id': delivery.eventId },
                td('failed event', delivery.type),
                td('request', h('code', {}, delivery.requestId)),
                td('happened', fmtTime(delivery.occurredAt)),
                td('attempts', String(delivery.attempts)),
                td('last error', delivery.lastErrorCode ?? '—'),
                td(
                  '',
                  button('Redeliver', 'webhook-redeliver', async () => {
                    await api(`${path}/redeliver`, { method: 'POST', body: { eventId: delivery.eventId } });
                    await load();
                  }),
                ),
              ),
            ),
          ),
        );

  details.addEventListener('toggle', () => {
    if (/** @type {HTMLDetailsElement} */ (details).open) load().catch(showError);
  });
  return details;
}
