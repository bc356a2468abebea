import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { SCOPE_PATTERN } from '../../limiter/conversion-scopes';
import type { ScopeView } from '../../limiter/scope-ledger';
import { scopeLedgerFor, scopeWatch, stepUpPolicyOf } from '../../limiter/scope-watch';
import type { AppEnv } from '../app-env';
import { validationHook } from '../error-handler';
import { ADMIN_BEARER, tag } from '../openapi-document';
import { ADMIN_ROUTE, errorResponses, JSON_BODY, responseHeaders } from '../openapi-responses';

const ScopeName = z
  .string()
  .regex(SCOPE_PATTERN, { error: 'must be all, country:<ISO country> (or country:+<calling code> for a number no country claims) or app:<app id>' })
  .openapi({ example: 'country:IN' });

const Mode = z.enum(['normal', 'stepped_up']);

const Scope = z
  .object({
    scope: z.string(),
    mode: Mode.openapi({ description: 'What applies now: the override when there is one, else the signal' }),
    signal: Mode.openapi({ description: 'What the conversion signal alone says' }),
    since: z.string().openapi({ format: 'date-time' }).nullable().openapi({ description: 'When the signal stepped the scope up (null: it has not)' }),
    sends: z.number().int().openapi({ description: 'Sends within the window' }),
    refused: z.number().int().openapi({ description: 'Sends the step-up refused within the window' }),
    solved: z.number().int().openapi({ description: 'Of those, Turnstile challenges a browser then solved (a real user sending again)' }),
    settledSends: z.number().int().openapi({ description: 'Sends past the grace period, which conversion is judged on' }),
    settledVerified: z.number().int(),
    conversion: z.number().nullable().openapi({ description: 'settledVerified / settledSends (null: no settled sends)' }),
    override: z
      .object({ mode: Mode, note: z.string().nullable(), at: z.string().openapi({ format: 'date-time' }) })
      .nullable()
      .openapi({ description: "An operator's forced mode (null: the signal decides)" }),
  })
  .openapi('ConversionScope');

const security = ADMIN_BEARER;
const tags = tag('Admin: abuse');

const list = createRoute({
  method: 'get',
  path: '/v1/admin/conversion-scopes',
  operationId: 'listConversionScopes',
  tags,
  summary: 'Conversion of each country, app and the deployment, and which are stepped up',
  security,
  responses: {
    200: {
      description: 'Every scope with sends in the window or a state on record, busiest first',
      headers: responseHeaders('Cache-Control'),
      content: { 'application/json': { schema: z.object({ windowSeconds: z.number().int(), scopes: z.array(Scope) }) } },
    },
    ...errorResponses(ADMIN_ROUTE),
  },
});

const override = createRoute({
  method: 'put',
  path: '/v1/admin/conversion-scopes/{scope}/override',
  operationId: 'overrideConversionScope',
  tags,
  summary: "Force a scope's step-up on or off, or give it back to the signal",
  description:
    '`stepped_up` forces the step-up (returning numbers pass, fresh ones trickle or need Turnstile), `normal` keeps the scope open whatever its conversion, ' +
    '`auto` removes the override. Other isolates apply it within STEP_UP_REFRESH_SECONDS.',
  security,
  request: {
    params: z.object({ scope: ScopeName }),
    body: {
      required: true,
      content: {
        'application/json': { schema: z.object({ mode: z.enum(['normal', 'stepped_up', 'auto']), note: z.string().max(200).optional() }).strict() },
      },
    },
  },
  responses: {
    200: { description: 'The scope with its override', headers: responseHeaders(), content: { 'application/json': { schema: Scope } } },
    ...errorResponses(ADMIN_ROUTE, JSON_BODY),
  },
});

const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());

const view = (scope: ScopeView) => ({
  scope: scope.scope,
  mode: scope.mode,
  signal: scope.signal,
  since: iso(scope.since),
  sends: scope.sends,
  refused: scope.refused,
  solved: scope.solved,
  settledSends: scope.settledSends,
  settledVerified: scope.settledVerified,
  conversion: scope.conversion,
  override: scope.override ? { mode: scope.override.mode, note: scope.override.note, at: new Date(scope.override.at).toISOString() } : null,
});

const emptyScope = (scope: string): ScopeView => ({
  scope,
  mode: 'normal',
  signal: 'normal',
  since: null,
  sends: 0,
  refused: 0,
  solved: 0,
  settledSends: 0,
  settledVerified: 0,
  conversion: null,
  override: null,
});

/** Operators see each scope's conversion and step-up (see limiter/scope-ledger.ts) and override it. */
export const adminConversionScopeRoutes = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(list, async (c) => {
    const config = c.get('config');
    const scopes = await scopeLedgerFor(c.env).list({ now: Date.now(), policy: stepUpPolicyOf(config) });
    c.header('Cache-Control', 'no-store');
    return c.json({ windowSeconds: config.stepUp.windowSeconds, scopes: scopes.map(view) }, 200);
  })
  .openapi(override, async (c) => {
    const { scope } = c.req.valid('param');
    const { mode, note } = c.req.valid('json');
    const config = c.get('config');
    const ledger = scopeLedgerFor(c.env);
    const now = Date.now();
    await ledger.override({ scope, mode: mode === 'auto' ? null : mode, note: note ?? null, now });
    const scopes = await ledger.list({ now, policy: stepUpPolicyOf(config) });
    const found = scopes.find((entry) => entry.scope === scope) ?? emptyScope(scope);
    // This isolate applies it at once; the others at their next report.
    scopeWatch().apply(scope, found.mode === 'stepped_up');
    return c.json(view(found), 200);
  });
