import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { providerOrder } from '../../config-providers';
import { drainProvider, listDrains, undrainProvider } from '../../db/provider-drains';
import { PROVIDER_EVENT_KINDS, recentProviderEvents } from '../../db/provider-events';
import { ApiError } from '../../errors';
import { providerRate } from '../../pacing/provider-slots';
import { providerByName } from '../../providers/select-provider';
import { CIRCUIT_STATES } from '../../routing/circuit';
import { readHealth } from '../../routing/provider-health-client';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders } from '../openapi-responses';

const security = ADMIN_BEARER;
const tags = tag('Admin: providers');
const EVENTS_SHOWN = 50;
const iso = (ms: number) => new Date(ms).toISOString();

const Provider = z
  .object({
    name: z.string(),
    position: z.number().int().openapi({ description: 'Place in PROVIDER_ORDER, from 1' }),
    configured: z.boolean().openapi({ description: 'false: a secret it needs is missing (`problem` says which)' }),
    problem: z.string().nullable(),
    channels: z.array(z.string()),
    idempotent: z.boolean(),
    ratePerSecond: z.number().int(),
    drained: z.object({ since: z.string(), by: z.string(), reason: z.string().nullable() }).nullable(),
    circuit: z.object({
      state: z.enum(CIRCUIT_STATES),
      since: z.string().nullable(),
      calls: z.number().int().openapi({ description: 'Calls within CIRCUIT_WINDOW_SECONDS' }),
      failures: z.number().int(),
      medianLatencyMs: z.number().nullable(),
    }),
  })
  .openapi('Provider');

const ProviderEvent = z
  .object({
    provider: z.string(),
    at: z.string(),
    kind: z.enum(PROVIDER_EVENT_KINDS),
    from: z.string().nullable(),
    to: z.string().nullable(),
    detail: z.string().nullable(),
  })
  .openapi('ProviderEvent');

const Name = z.object({
  name: z
    .string()
    .max(40)
    .openapi({ param: { name: 'name', in: 'path' }, example: 'startmessaging' }),
});

const list = createRoute({
  method: 'get',
  path: '/v1/admin/providers',
  operationId: 'listProviders',
  tags,
  summary: "The deployment's providers in order: circuit, drain, rate; and the latest circuit changes, drains and undrains",
  security,
  responses: {
    200: {
      description: 'Providers and events (newest first)',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ providers: z.array(Provider), events: z.array(ProviderEvent) }) } },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

const drain = createRoute({
  method: 'post',
  path: '/v1/admin/providers/{name}/drain',
  operationId: 'drainProvider',
  tags,
  summary: 'Stop routing to a provider (requests go to the next one; with none left they wait)',
  security,
  request: {
    params: Name,
    body: {
      required: false,
      content: {
        'application/json': { schema: z.object({ operator: z.string().min(1).max(80).default('operator'), reason: z.string().max(200).optional() }).strict() },
      },
    },
  },
  responses: {
    200: {
      description: 'Drained',
      headers: responseHeaders(),
      content: { 'application/json': { schema: z.object({ name: z.string(), drained: z.literal(true) }) } },
    },
    ...errorResponses(ADMIN_ROUTE, JSON_BODY, ['not_found']),
  },
});

const undrain = createRoute({
  method: 'post',
  path: '/v1/admin/providers/{name}/undrain',
  operationId: 'undrainProvider',
  tags,
  summary: 'Route to a drained provider again',
  security,
  request: {
    params: Name,
    body: { required: false, content: { 'application/json': { schema: z.object({ operator: z.string().min(1).max(80).default('operator') }).strict() } } },
  },
  responses: {
    200: {
      description: 'Back in routing (`changed: false` when it was not drained)',
      headers: responseHeaders(),
      content: { 'application/json': { schema: z.object({ name: z.string(), drained: z.literal(false), changed: z.boolean() }) } },
    },
    ...errorResponses(ADMIN_ROUTE, JSON_BODY, ['not_found']),
  },
});

function knownProvider(config: AppEnv['Variables']['config'], name: string): string {
  if (!(providerOrder(config) as string[]).includes(name))
    throw new ApiError('not_found', `No provider ${name} in PROVIDER_ORDER (${providerOrder(config).join(', ')})`);
  return name;
}

export const adminProviderRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(list, async (c) => {
    const config = c.get('config');
    const names = providerOrder(config);
    const [health, drains, events] = await Promise.all([readHealth(c.env, config, names), listDrains(c.env.DB), recentProviderEvents(c.env.DB, EVENTS_SHOWN)]);
    const providers = names.map((name, index) => {
      const choice = providerByName(name, config, c.env.DB);
      const view = health.get(name);
      const drained = drains.find((entry) => entry.provider === name);
      return {
        name,
        position: index + 1,
        configured: 'provider' in choice,
        problem: 'misconfigured' in choice ? choice.misconfigured : null,
        channels: 'provider' in choice ? [...choice.provider.channels] : [],
        idempotent: 'provider' in choice ? choice.provider.idempotent : false,
        ratePerSecond: providerRate(config, name),
        drained: drained ? { since: iso(drained.drainedAt), by: drained.actor, reason: drained.reason } : null,
        circuit: {
          state: view?.state ?? 'closed',
          since: view?.since ? iso(view.since) : null,
          calls: view?.calls ?? 0,
          failures: view?.failures ?? 0,
          medianLatencyMs: view?.medianLatencyMs ?? null,
        },
      };
    });
    const shown = events.map((event) => ({
      provider: event.provider,
      at: iso(event.at),
      kind: event.kind,
      from: event.fromState,
      to: event.toState,
      detail: event.detail,
    }));
    c.header('Cache-Control', 'no-store');
    return c.json({ providers, events: shown }, 200);
  })
  .openapi(drain, async (c) => {
    const name = knownProvider(c.get('config'), c.req.valid('param').name);
    const body = c.req.valid('json') ?? { operator: 'operator' };
    await drainProvider(c.env.DB, { provider: name, drainedAt: Date.now(), actor: body.operator, reason: body.reason ?? null });
    return c.json({ name, drained: true as const }, 200);
  })
  .openapi(undrain, async (c) => {
    const name = knownProvider(c.get('config'), c.req.valid('param').name);
    const body = c.req.valid('json') ?? { operator: 'operator' };
    const changed = await undrainProvider(c.env.DB, { provider: name, at: Date.now(), actor: body.operator });
    return c.json({ name, drained: false as const, changed }, 200);
  });
