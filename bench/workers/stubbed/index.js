/**
 * "API, platform stubbed": the production Worker (src/index.ts, unchanged) behind a bench-only
 * entry module that hands it an env in which every platform binding the request path uses is an
 * in-memory stand-in answering at once:
 *
 * - `DB` (D1): `prepare(...).bind(...)` builds nothing; `batch`, `run`, `all` answer an empty
 *   success (`{ success: true, results: [], meta }`), `first` answers null (no row), except the
 *   API key lookup, which finds the development app's secret key (the key the benchmark sends) as
 *   a development Worker's seeded table does, and no other key;
 * - `SEND_QUEUE`, `DEAD_LETTER_QUEUE`, `WEBHOOK_QUEUE`: `send` and `sendBatch` accept and answer
 *   `{ metadata: { metrics } }`;
 * - `SCOPE_LEDGER`: the background report of conversion counts answers that no scope is stepped
 *   up, as the real ledger does for traffic that trips no conversion signal;
 * - `RATE_LIMITER`, `CLIENT_IP_GUARD`, `PREFIX_GUARD`, `PROVIDER_PACER`, `PROVIDER_HEALTH`: `idFromName` and `get` give a stand-in
 *   stub whose methods answer what the real object answers to a key it has never seen, which is
 *   every key of the benchmark: `consume` admits (`{ allowed: true, remaining, retryAfterSeconds:
 *   0, eventId }`, `remaining` as the real window log computes it for an empty log; the client
 *   address shard's `consume` the same for an address it holds no sends of), `lease`
 *   grants every unit asked for, `admit` admits (`{ allowed: true }`), `refund` does nothing. The pacer and the provider health objects are not on the admit
 *   path; their stand-ins refuse every call, so a request that reached it would fail loudly.
 *
 * Everything the Worker itself does still runs: Hono routing and middleware, zod validation,
 * config loading, hashing, id generation, the admission logic around the limiter calls, the D1
 * statements it prepares and binds, JSON. Measured next to the real API in the same runtime, the
 * difference is what the local simulation of the platform costs per request, together with the
 * objects' own code (their input validation and SQL), which the stand-ins skip too. The
 * stand-ins do no work at all, so this design's throughput is an upper bound for what the
 * Worker's own code allows here; it says nothing about production, where these bindings are
 * remote calls with their own latency.
 *
 * The stand-ins' shapes are checked: the first call of each stand-in method in an isolate
 * validates its input with the real object's schema (so the Worker is known to send what the
 * objects accept), and the benchmark's sanity request must get 202, which needs every answer
 * above to satisfy the Worker's code. Later calls skip the check and do nothing.
 */
import { DEVELOPMENT_APP } from '../../../src/apps/development-app.ts';
import { hashApiKey, visiblePrefix } from '../../../src/apps/key-material.ts';
import worker from '../../../src/index.ts';
import { ClientIpConsumeInput } from '../../../src/limiter/client-ip-guard.ts';
import { AdmitInput } from '../../../src/limiter/prefix-guard.ts';
import { ConsumeInput, LeaseInput } from '../../../src/limiter/rate-limiter.ts';
import { ReportInput } from '../../../src/limiter/scope-ledger.ts';

// The classes the wrangler config binds; the stand-ins stand in front of them, they never run.
export { ClientIpGuard, PrefixGuard, ProviderHealth, ProviderPacer, RateLimiter, ScopeLedger } from '../../../src/index.ts';

// ---------------------------------------------------------------------------------------------
// Shape checks, once per method and isolate

const checked = new Set();

function checkOnce(label, schema, input) {
  if (checked.has(label)) return;
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new Error(`stubbed ${label}: the real object would refuse this input: ${parsed.error.message}`);
  checked.add(label);
}

// ---------------------------------------------------------------------------------------------
// D1

// `changes: 1`: on the admit path every statement of the request's batch writes its row (the insert is
// held back only by an operator block or a phone lock, which nothing here has).
const D1_META = Object.freeze({ duration: 0, size_after: 0, rows_read: 0, rows_written: 0, last_row_id: 0, changed_db: true, changes: 1 });
const emptyResult = () => ({ success: true, results: [], meta: D1_META });

const stubStatement = {
  bind: () => stubStatement,
  first: async () => null,
  all: async () => emptyResult(),
  run: async () => emptyResult(),
  raw: async () => [],
};

/** The row `findKeyByHash` (src/db/api-keys.ts) reads for the development app's secret key. */
const developmentKey = (async () => ({
  hash: await hashApiKey(DEVELOPMENT_APP.secretKey),
  row: {
    id: 'key_localdevsecret00000',
    app_id: DEVELOPMENT_APP.id,
    kind: 'secret',
    prefix: visiblePrefix(DEVELOPMENT_APP.secretKey),
    created_at: 0,
    expires_at: null,
    revoked_at: null,
    replaced_by: null,
    last_used_at: null,
    app_name: DEVELOPMENT_APP.name,
    settings_json: JSON.stringify(DEVELOPMENT_APP.settings),
    app_disabled_at: null,
  },
}))();

const keyLookupStatement = {
  ...stubStatement,
  bind: (hash) => ({
    ...stubStatement,
    first: async () => {
      const key = await developmentKey;
      return hash === key.hash ? key.row : null;
    },
  }),
};

const stubD1 = {
  // Told by its text; the Worker runs the lookup once per key, isolate and 30 s (src/apps/authenticate.ts).
  prepare: (sql) => (sql.includes('FROM api_keys k JOIN apps a') ? keyLookupStatement : stubStatement),
  batch: async (statements) => {
    if (!checked.has('D1.batch')) {
      if (!Array.isArray(statements) || statements.some((statement) => statement !== stubStatement))
        throw new Error('stubbed D1.batch: expected prepared statements');
      checked.add('D1.batch');
    }
    return statements.map(() => emptyResult());
  },
  exec: async () => ({ count: 0, duration: 0 }),
  withSession: () => stubD1,
  dump: async () => new ArrayBuffer(0),
};

// ---------------------------------------------------------------------------------------------
// Queues

const QUEUE_METADATA = Object.freeze({ metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } });

const stubQueue = (name) => ({
  send: async (body) => {
    if (!checked.has(`${name}.send`)) {
      // The real producer serialises the body (structured clone); a body it cannot take fails here too.
      structuredClone(body);
      checked.add(`${name}.send`);
    }
    return QUEUE_METADATA;
  },
  sendBatch: async (messages) => {
    if (!checked.has(`${name}.sendBatch`)) {
      for (const message of messages) structuredClone(message.body);
      checked.add(`${name}.sendBatch`);
    }
    return QUEUE_METADATA;
  },
  metrics: async () => QUEUE_METADATA.metadata.metrics,
});

// ---------------------------------------------------------------------------------------------
// Durable Objects

let nextEventId = 1;

/** `remaining` as the real window log computes it for a key with no events yet. */
function remainingOnEmptyLog(rules) {
  let remaining = Number.POSITIVE_INFINITY;
  for (const rule of rules) remaining = Math.min(remaining, Math.max(0, rule.limit - 1));
  return remaining;
}

const rateLimiterStub = {
  consume: async (input) => {
    checkOnce('RateLimiter.consume', ConsumeInput, input);
    return { allowed: true, remaining: remainingOnEmptyLog(input.rules), retryAfterSeconds: 0, eventId: nextEventId++ };
  },
  hold: async (input) => {
    checkOnce('RateLimiter.hold', ConsumeInput, input);
    return { allowed: true, remaining: remainingOnEmptyLog(input.rules), retryAfterSeconds: 0, holdId: nextEventId++ };
  },
  settle: async () => {},
  refund: async () => {},
  lease: async (input) => {
    checkOnce('RateLimiter.lease', LeaseInput, input);
    return { units: input.units, leaseId: nextEventId++, retryAfterSeconds: 0 };
  },
};

/** A client address's shard, for an address it holds no sends of: every address of the benchmark. */
const clientIpGuardStub = {
  consume: async (input) => {
    checkOnce('ClientIpGuard.consume', ClientIpConsumeInput, input);
    return { allowed: true, remaining: remainingOnEmptyLog(input.rules), retryAfterSeconds: 0, eventId: nextEventId++ };
  },
  refund: async () => {},
};

const prefixGuardStub = {
  admit: async (input) => {
    checkOnce('PrefixGuard.admit', AdmitInput, input);
    return { allowed: true };
  },
  refund: async () => {},
  recordVerification: async () => {},
};

/** The conversion ledger an isolate reports to every few seconds, in the background: no scope is stepped up. */
const scopeLedgerStub = {
  report: async (input) => {
    checkOnce('ScopeLedger.report', ReportInput, input);
    return { steppedUp: [] };
  },
};

function refusingStub(className) {
  return new Proxy(
    {},
    {
      get(_target, property) {
        if (property === 'then' || typeof property !== 'string') return undefined;
        return async () => {
          throw new Error(`stubbed ${className}.${property}: not on the admit path, no stand-in`);
        };
      },
    },
  );
}

/** A namespace whose every object answers through `stub`; ids carry their name and nothing else. */
function stubNamespace(stub) {
  const idOf = (name) => ({ name, toString: () => name, equals: (other) => other?.name === name });
  return {
    idFromName: idOf,
    idFromString: idOf,
    newUniqueId: () => idOf(`unique:${nextEventId++}`),
    get: () => stub,
    getByName: () => stub,
    jurisdiction: () => stubNamespace(stub),
  };
}

// ---------------------------------------------------------------------------------------------
// The env handed to the Worker: the real one (vars, secrets) with the platform bindings replaced.
// One per real env object, so the Worker's per-env config cache works as it does in production.

const stubbedEnvs = new WeakMap();

function stubbedEnv(env) {
  let stubbed = stubbedEnvs.get(env);
  if (!stubbed) {
    stubbed = {
      ...env,
      DB: stubD1,
      SEND_QUEUE: stubQueue('SEND_QUEUE'),
      DEAD_LETTER_QUEUE: stubQueue('DEAD_LETTER_QUEUE'),
      WEBHOOK_QUEUE: stubQueue('WEBHOOK_QUEUE'),
      RATE_LIMITER: stubNamespace(rateLimiterStub),
      CLIENT_IP_GUARD: stubNamespace(clientIpGuardStub),
      PREFIX_GUARD: stubNamespace(prefixGuardStub),
      PROVIDER_PACER: stubNamespace(refusingStub('ProviderPacer')),
      PROVIDER_HEALTH: stubNamespace(refusingStub('ProviderHealth')),
      SCOPE_LEDGER: stubNamespace(scopeLedgerStub),
    };
    stubbedEnvs.set(env, stubbed);
  }
  return stubbed;
}

export default {
  async fetch(request, env, ctx) {
    return worker.fetch(request, stubbedEnv(env), ctx);
  },
};
