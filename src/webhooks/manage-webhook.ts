import { type Config, REQUIRED_SECRETS, secretValue } from '../config';
import { appChangeIfChangedStatement } from '../db/app-changes';
import { getApp } from '../db/apps';
import {
  ALL_EVENTS_MASK,
  eventMask,
  eventTypesOf,
  getWebhook,
  removeWebhookStatement,
  rotateSecretStatement,
  setNewWebhookStatement,
  updateWebhookStatement,
  type WebhookEventType,
  type WebhookRow,
} from '../db/webhooks';
import { ApiError } from '../errors';
import { logError, logInfo } from '../log';
import { appSigningSecret } from './signing';
import { checkWebhookUrl } from './webhook-url';

/**
 * Operators' changes to an app's webhook. Each is written with its `app_changes` row in one D1
 * batch, the row conditional on the change having happened. The change log names what changed and
 * the receiver's origin, never the URL's path or query (which may hold a token) nor a secret.
 */

export interface WebhookInput {
  url: string;
  /** Absent: every event type. */
  events?: WebhookEventType[];
  includePhoneNumber?: boolean;
}

type Who = { actor: string; now: number };

/** The secret signing secrets are derived from, or `500 configuration_error` naming it. */
export function webhookSecretKey(config: Config): string {
  const key = secretValue(config, 'WEBHOOK_SECRET_KEY');
  if (key) return key;
  logError('config.missing_secret', { secret: 'WEBHOOK_SECRET_KEY', path: 'webhooks' });
  throw new ApiError('configuration_error', `WEBHOOK_SECRET_KEY is not set, so ${REQUIRED_SECRETS.WEBHOOK_SECRET_KEY}; the operator must set it`, {
    details: { missingSecret: 'WEBHOOK_SECRET_KEY' },
  });
}

/**
 * Sets an app's webhook. One it has not got (never, or removed) is made with the next secret
 * version, and its secret is answered this once; a set one is changed (and enabled again if 410
 * Gone disabled it), its secret unchanged and not shown.
 */
export async function setWebhook(
  db: D1Database,
  config: Config,
  appId: string,
  input: WebhookInput,
  who: Who,
): Promise<{ webhook: WebhookRow; secret: string | null }> {
  const key = webhookSecretKey(config);
  const checked = checkWebhookUrl(input.url, config.environment);
  if (!checked.ok) throw new ApiError('webhook_url_refused', `url: ${checked.message}`, { details: { reason: checked.reason } });
  const [app, existing] = await Promise.all([getApp(db, appId), getWebhook(db, appId)]);
  if (!app) throw new ApiError('not_found', 'No such app');
  const fields = {
    url: checked.url,
    eventMask: input.events ? eventMask(input.events) : ALL_EVENTS_MASK,
    includePhoneNumber: input.includePhoneNumber ?? false,
  };
  const { actor, now } = who;
  const described = { origin: new URL(checked.url).origin, events: eventTypesOf(fields.eventMask), includePhoneNumber: fields.includePhoneNumber };

  if (!existing || existing.url === null) {
    const version = (existing?.secret_version ?? 0) + 1;
    await db.batch([
      setNewWebhookStatement(db, appId, fields, version, now),
      appChangeIfChangedStatement(db, { appId, at: now, actor, action: 'webhook.set', detail: { ...described, secretVersion: version } }),
    ]);
    logInfo('app.changed', { appId, action: 'webhook.set', actor });
    return { webhook: (await getWebhook(db, appId))!, secret: await appSigningSecret(key, appId, version) };
  }

  const changed = [
    ...(existing.url !== fields.url ? ['url'] : []),
    ...(existing.event_mask !== fields.eventMask ? ['events'] : []),
    ...(existing.include_phone_number !== (fields.includePhoneNumber ? 1 : 0) ? ['includePhoneNumber'] : []),
    ...(existing.disabled_at !== null ? ['enabled'] : []),
  ];
  if (changed.length > 0) {
    await db.batch([
      updateWebhookStatement(db, appId, fields, now),
      appChangeIfChangedStatement(db, { appId, at: now, actor, action: 'webhook.updated', detail: { changed, ...described } }),
    ]);
    logInfo('app.changed', { appId, action: 'webhook.updated', actor });
  }
  return { webhook: (await getWebhook(db, appId))!, secret: null };
}

/** Removes an app's webhook: no event is written from now, and those still waiting fail unsent. */
export async function removeWebhook(db: D1Database, appId: string, who: Who): Promise<void> {
  const existing = await getWebhook(db, appId);
  if (!existing || existing.url === null) throw new ApiError('not_found', 'This app has no webhook');
  await db.batch([
    removeWebhookStatement(db, appId, who.now),
    appChangeIfChangedStatement(db, { appId, at: who.now, actor: who.actor, action: 'webhook.removed', detail: { origin: new URL(existing.url).origin } }),
  ]);
  logInfo('app.changed', { appId, action: 'webhook.removed', actor: who.actor });
}

/**
 * Makes the next signing secret, answered this once. The one it replaces keeps signing beside it
 * (two `v1,` signatures per post) for `overlapSeconds`, so the receiver can switch without missing
 * a post; 0 ends it now (a secret that leaked).
 */
export async function rotateWebhookSecret(
  db: D1Database,
  config: Config,
  appId: string,
  overlapSeconds: number,
  who: Who,
): Promise<{ webhook: WebhookRow; secret: string }> {
  const key = webhookSecretKey(config);
  const existing = await getWebhook(db, appId);
  if (!existing || existing.url === null) throw new ApiError('not_found', 'This app has no webhook');
  const previousUntil = overlapSeconds > 0 ? who.now + overlapSeconds * 1000 : null;
  const version = existing.secret_version + 1;
  const [rotated] = await db.batch([
    rotateSecretStatement(db, appId, existing.secret_version, previousUntil, who.now),
    appChangeIfChangedStatement(db, {
      appId,
      at: who.now,
      actor: who.actor,
      action: 'webhook.secret_rotated',
      detail: { secretVersion: version, overlapSeconds },
    }),
  ]);
  // Another operator rotated it first: their secret is the current one, this one was never made.
  if ((rotated?.meta.changes ?? 0) === 0)
    throw new ApiError('key_already_rotated', 'The secret was rotated meanwhile; read the webhook and rotate again if needed');
  logInfo('app.changed', { appId, action: 'webhook.secret_rotated', actor: who.actor });
  return { webhook: (await getWebhook(db, appId))!, secret: await appSigningSecret(key, appId, version) };
}
