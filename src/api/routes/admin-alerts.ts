import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ALERT_RULES, type IncidentRow, listIncidents, NOTICE_STATES } from '../../db/alert-incidents';
import { alertSigningSecret } from '../../webhooks/signing';
import { checkWebhookUrl } from '../../webhooks/webhook-url';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, responseHeaders } from '../openapi-responses';
import { requireSecret } from '../required-secret';

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
const DateTime = z.string().openapi({ format: 'date-time' });

const Incident = z
  .object({
    id: z.string().openapi({ example: 'inc_3q2-7wEjQ1mB0Yk5c9f8Zg' }),
    rule: z.enum(ALERT_RULES),
    scope: z.string().nullable().openapi({ description: 'The provider or prefix it is about; null for the whole service', example: 'startmessaging' }),
    state: z.enum(['open', 'cleared']),
    openedAt: DateTime,
    clearedAt: DateTime.nullable(),
    summary: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()).openapi({ description: 'What the rule measured when the incident opened' }),
    notices: z.object({
      opened: z.enum(NOTICE_STATES),
      cleared: z.enum(NOTICE_STATES).nullable(),
      attempts: z.number().int().openapi({ description: 'Posts of the pending notice so far' }),
      nextAttemptAt: DateTime.nullable(),
      lastNotifiedAt: DateTime.nullable(),
      lastError: z.string().nullable(),
    }),
  })
  .openapi('AlertIncident');

const Receiver = z
  .object({
    url: z.string().nullable().openapi({ description: 'ALERT_WEBHOOK_URL; null when unset (incidents are only listed)' }),
    problem: z.string().nullable().openapi({ description: 'Why the URL is refused (the rules of app webhooks), or null' }),
    secretVersion: z.number().int().openapi({ description: 'ALERT_WEBHOOK_SECRET_VERSION' }),
  })
  .openapi('AlertReceiver');

const security = ADMIN_BEARER;
const tags = tag('Admin: alerts');

const list = createRoute({
  method: 'get',
  path: '/v1/admin/alerts',
  operationId: 'listAlertIncidents',
  tags,
  summary: 'Alert incidents: every open one (oldest first), then those opened in the last `days` (newest first)',
  security,
  request: {
    query: z.object({
      days: z.coerce.number().int().min(1).max(90).optional().openapi({ description: 'How far back cleared incidents are listed: 7 by default, at most 90' }),
      limit: z.coerce.number().int().min(1).max(500).optional().openapi({ description: 'Incidents listed: 100 by default, at most 500' }),
    }),
  },
  responses: {
    200: {
      description: 'The incidents and where their notices go',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ incidents: z.array(Incident), receiver: Receiver }) } },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

const receiverSecret = createRoute({
  method: 'get',
  path: '/v1/admin/alerts/receiver',
  operationId: 'getAlertReceiver',
  tags,
  summary: "The alert receiver's URL and the `whsec_…` secret its posts are signed with (Standard Webhooks)",
  description: 'The secret is derived from WEBHOOK_SECRET_KEY and ALERT_WEBHOOK_SECRET_VERSION (docs/operators.md#alerts); D1 holds none.',
  security,
  responses: {
    200: {
      description: 'The receiver and its current secret',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ receiver: Receiver, secret: z.string().openapi({ example: 'whsec_…' }) }) } },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

function incidentView(row: IncidentRow) {
  const { summary, ...detail } = JSON.parse(row.detail_json) as Record<string, unknown>;
  return {
    id: row.id,
    rule: row.rule,
    scope: row.scope === '' ? null : row.scope,
    state: row.cleared_at === null ? ('open' as const) : ('cleared' as const),
    openedAt: iso(row.opened_at)!,
    clearedAt: iso(row.cleared_at),
    summary: typeof summary === 'string' ? summary : null,
    detail,
    notices: {
      opened: row.opened_notice,
      cleared: row.cleared_notice,
      attempts: row.notice_attempts,
      nextAttemptAt: iso(row.notice_due_at),
      lastNotifiedAt: iso(row.last_notified_at),
      lastError: row.last_notice_error,
    },
  };
}

function receiverView(alerts: { webhookUrl: string | null; secretVersion: number }, environment: Parameters<typeof checkWebhookUrl>[1]) {
  const checked = alerts.webhookUrl === null ? null : checkWebhookUrl(alerts.webhookUrl, environment);
  return {
    url: alerts.webhookUrl,
    problem: checked && !checked.ok ? `${checked.reason}: the URL ${checked.message}` : null,
    secretVersion: alerts.secretVersion,
  };
}

/** Operators read incidents and the receiver's secret; rules run on the cron (src/alerts). */
export const adminAlertRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(list, async (c) => {
    const { days = 7, limit = 100 } = c.req.valid('query');
    const config = c.get('config');
    const rows = await listIncidents(c.env.DB, { since: Date.now() - days * 86_400_000, limit });
    c.header('Cache-Control', 'no-store');
    return c.json({ incidents: rows.map(incidentView), receiver: receiverView(config.alerts, config.environment) }, 200);
  })
  .openapi(receiverSecret, async (c) => {
    const config = c.get('config');
    const secretKey = requireSecret(config, 'WEBHOOK_SECRET_KEY', c.req.path);
    c.header('Cache-Control', 'no-store');
    return c.json({ receiver: receiverView(config.alerts, config.environment), secret: await alertSigningSecret(secretKey, config.alerts.secretVersion) }, 200);
  });
