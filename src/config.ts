import { z } from 'zod';
import { checkProviderOrder, routingGroup, twilioGroup } from './config-providers.ts';
import { SECRETS } from './config-secrets.ts';
import {
  allowedCountries,
  countryList,
  exactOrigins,
  group,
  httpsUrlOrEmpty,
  httpUrl,
  httpUrlOrEmpty,
  integer,
  mapped,
  numberTypes,
  oneOf,
  ratio,
  retiredCallingCodes,
  secondsList,
  secret,
  setting,
  settingEntries,
  windowRules,
} from './config-settings.ts';

/**
 * Every var and secret the Worker reads, each declared once below: its name, the form it takes,
 * its default and what it does. The groups are the `Config` type; docs/configuration.md is
 * generated from them (`npm run docs:config`), and wrangler.toml sets only what differs from the
 * defaults. Parsed once per isolate: a bad value is a deployment mistake, so it is reported by
 * name instead of surfacing later as a confusing runtime failure.
 */

export type { WindowRule } from './window-rules';

/** The longest SESSION_TTL_SECONDS accepted: a revocation must outlive every session it refuses. */
export const SESSION_TTL_MAX_SECONDS = 30 * 86400;

/**
 * The longest code lifetime accepted, here (OTP_TTL_SECONDS) and in an app's settings: no request
 * waits to be sent for longer, which bounds the sweeper's reads (src/db/stalled-work.ts).
 */
export const OTP_TTL_MAX_SECONDS = 3600;

/** The phone cooldown steps back to its first entry after an hour without a send. */
const PHONE_COOLDOWN_RESET_SECONDS = 3600;

const configSchema = z
  .object({
    environment: setting(
      'ENVIRONMENT',
      oneOf('development', 'test', 'production'),
      'development',
      "`production` refuses `PROVIDER_MODE=sandbox`, `TURNSTILE_MODE=stub` and Turnstile's testing secret keys; `development` answers only on localhost or an IP address; `test` is what the test suite runs as",
    ),
    provider: group('Provider', 'Where SMS go and how fast.', {
      mode: setting(
        'PROVIDER_MODE',
        oneOf('startmessaging', 'sandbox'),
        'sandbox',
        'where codes go: the real providers of `PROVIDER_ORDER` (`startmessaging`, named from when it was the only one), or the sandbox (D1 only, no secret)',
      ),
      baseUrl: setting('SM_BASE_URL', httpUrl, 'https://api.startmessaging.com', "StartMessaging's base URL"),
      timeoutMs: setting('SM_TIMEOUT_MS', integer(100, 30_000), '8000', 'hard timeout of one StartMessaging (or sandbox) call, in ms'),
      ratePerSecond: setting('PROVIDER_RATE_PER_SECOND', integer(1, 10_000), '20', 'StartMessaging (and sandbox) calls per second, account-wide'),
      concurrency: setting(
        'SEND_CONCURRENCY',
        integer(1, 100),
        '50',
        'provider calls in flight per consumer batch (pacing sets the rate; on Cloudflare, fetches beyond six per invocation wait for a connection)',
      ),
      maxAttempts: setting('SEND_MAX_ATTEMPTS', integer(1, 50), '8', 'provider attempts before a request fails with `retries_exhausted`'),
      retry: z.object({
        baseSeconds: setting('SEND_RETRY_BASE_SECONDS', integer(1, 600), '2', 'first retry waits up to this (full jitter), doubling per attempt'),
        maxSeconds: setting('SEND_RETRY_MAX_SECONDS', integer(1, 3600), '60', 'cap on one retry delay'),
      }),
    }),
    routing: routingGroup(),
    twilio: twilioGroup(),
    otp: group('Codes', 'The one-time codes.', {
      length: setting('OTP_LENGTH', integer(4, 8), '6', 'digits per code'),
      ttlSeconds: setting('OTP_TTL_SECONDS', integer(30, OTP_TTL_MAX_SECONDS), '300', 'code lifetime'),
      maxVerifyAttempts: setting('OTP_MAX_VERIFY_ATTEMPTS', integer(1, 20), '5', 'wrong guesses per code'),
    }),
    session: group('Sessions', 'The session cookie a verified code starts.', {
      ttlSeconds: setting('SESSION_TTL_SECONDS', integer(60, SESSION_TTL_MAX_SECONDS), '86400', 'session cookie lifetime'),
    }),
    limits: group('Limits', 'Who may send how much; `count/seconds` windows all hold at once.', {
      phone: setting('PHONE_LIMITS', windowRules, '1/60,3/600,5/3600,10/86400', 'per-phone sends'),
      phoneCooldown: setting(
        'PHONE_COOLDOWN_SECONDS',
        mapped(secondsList, (scheduleSeconds) => ({ scheduleSeconds, resetSeconds: PHONE_COOLDOWN_RESET_SECONDS })),
        '30,60,120,300',
        'least gap after the 1st, 2nd, 3rd, then every later send of the last hour',
      ),
      ip: setting('IP_LIMITS', windowRules, '10/60,40/600,100/3600', 'per client IP (IPv6: per /64)'),
      unknownIp: setting('UNKNOWN_IP_LIMITS', windowRules, '5/60,20/3600', 'the one bucket all clients with a missing or unreadable `CF-Connecting-IP` share'),
      prefix: setting('PREFIX_LIMITS', windowRules, '60/60,600/3600', 'per destination prefix (`+` and 5 digits)'),
      global: setting('GLOBAL_SEND_LIMIT', windowRules, '6000/60', 'all sends; 503 when spent'),
      globalShards: setting('GLOBAL_SHARDS', integer(1, 256), '16', 'objects the global budget is split over'),
      budgetLeaseUnits: setting(
        'BUDGET_LEASE_UNITS',
        integer(1, 1000),
        '16',
        "units of the global budget (per shard) or an app's daily budget an isolate's lease starts with; never more than 1/32 of the window",
      ),
      budgetLeaseMaxUnits: setting(
        'BUDGET_LEASE_MAX_UNITS',
        integer(1, 1000),
        '128',
        'most units a lease grows to: a busy isolate leases what it spends in half of `BUDGET_LEASE_SECONDS`; never more than a quarter of the window',
      ),
      budgetLeaseSeconds: setting('BUDGET_LEASE_SECONDS', integer(1, 300), '10', 'how long an isolate may spend a leased block of budget'),
      verifyFailures: setting(
        'VERIFY_FAILURE_LIMITS',
        windowRules,
        '10/3600',
        'wrong codes per phone across its requests; once spent the phone is locked: verifying answers `429 too_many_attempts`, sending `429 phone_locked`',
      ),
    }),
    destinations: group('Destinations', 'Which numbers may receive codes at all (docs/abuse-defence.md#destinations).', {
      allowedCountries: setting('ALLOWED_COUNTRIES', allowedCountries, '*', 'countries whose numbers may receive codes (`001`: numbers of no country)'),
      blockedCountries: setting('BLOCKED_COUNTRIES', countryList, '', 'countries refused even when allowed, for every app'),
      allowedNumberTypes: setting(
        'ALLOWED_NUMBER_TYPES',
        numberTypes,
        '',
        'number types refused by default that are admitted anyway; mobile, fixed-line-or-mobile, VoIP and personal numbers always pass',
      ),
      retiredCountryCodes: setting(
        'ALLOWED_COUNTRY_CODES',
        retiredCallingCodes,
        '',
        'retired: calling codes are refused at start-up with the ISO countries they stood for; use `ALLOWED_COUNTRIES`',
      ),
    }),
    pumping: group('Pumping defence', 'Blocks a destination prefix whose codes are sent but not verified.', {
      windowSeconds: setting('PUMPING_WINDOW_SECONDS', integer(60, 7 * 86400), '3600', 'window of the conversion signal'),
      graceSeconds: setting('PUMPING_GRACE_SECONDS', integer(0, 3600), '120', 'sends younger than this are not judged yet'),
      minSends: setting('PUMPING_MIN_SENDS', integer(1, 100_000), '20', 'settled sends needed before conversion is judged'),
      minConversion: setting('PUMPING_MIN_CONVERSION', ratio, '0.3', 'below this share verified, the prefix is blocked'),
      blockSeconds: setting('PUMPING_BLOCK_SECONDS', integer(60, 30 * 86400), '43200', 'length of an automatic block'),
      sequentialNumbers: setting('SEQUENTIAL_BURST_NUMBERS', integer(2, 1000), '5', 'distinct numbers of one thousand-block that trigger a block'),
      sequentialSeconds: setting('SEQUENTIAL_BURST_SECONDS', integer(1, 86400), '600', 'window of the sequential signal'),
    }),
    stepUp: group(
      'Conversion step-up',
      'Tightens a whole country, app or the deployment when its codes stop being verified (docs/abuse-defence.md#conversion-scopes-and-the-step-up).',
      {
        windowSeconds: setting(
          'STEP_UP_WINDOW_SECONDS',
          integer(10, 86400),
          '300',
          "sliding window of each scope's conversion: short, so that a scope's earlier real traffic cannot hide an attack's first minutes",
        ),
        graceSeconds: setting('STEP_UP_GRACE_SECONDS', integer(0, 3600), '30', 'sends younger than this are not judged yet'),
        minSends: setting('STEP_UP_MIN_SENDS', integer(1, 1_000_000), '50', 'settled sends a scope needs in the window before its conversion is judged'),
        enterConversion: setting('STEP_UP_ENTER_CONVERSION', ratio, '0.4', 'below this share verified, the scope steps up'),
        exitConversion: setting(
          'STEP_UP_EXIT_CONVERSION',
          ratio,
          '0.6',
          'a stepped-up scope relaxes once this share is verified again (and refusals no longer outnumber sends)',
        ),
        trickle: setting(
          'STEP_UP_TRICKLE',
          windowRules,
          '5/60,60/3600',
          'sends to numbers never verified before that a stepped-up scope admits from secret keys',
        ),
        refreshSeconds: setting('STEP_UP_REFRESH_SECONDS', integer(1, 60), '5', "how often an isolate reports its counts and reads the scopes' states"),
        returningDays: setting('STEP_UP_RETURNING_DAYS', integer(1, 400), '90', 'a number verified within this many days passes a step-up'),
      },
    ),
    deliveryChecks: group('Delivery reports', 'Status checks of each SMS the provider accepted.', {
      baseSeconds: setting(
        'DELIVERY_CHECK_BASE_SECONDS',
        integer(1, 3600),
        '30',
        'first check this long after the provider accepted the SMS; each later one waits twice as long (at most an hour)',
      ),
      maxChecks: setting('DELIVERY_CHECK_MAX', integer(0, 20), '6', 'checks per SMS before its delivery is recorded `unknown` (0 turns delivery reports off)'),
    }),
    resend: group('Bulk resend', "Operators' resends after a provider outage.", {
      dailyCapPerPhone: setting(
        'RESEND_PHONE_DAILY_CAP',
        integer(1, 1000),
        '10',
        'a resend skips a phone that already had this many requests in the last 24 hours',
      ),
      sendsPerSecond: setting(
        'RESEND_SENDS_PER_SECOND',
        integer(1, 100),
        '10',
        'pace at which a resend hands new sends to the queue (the provider allows 20/s for the whole account)',
      ),
    }),
    retention: group('Retention', 'The daily clean-up of audit rows.', {
      days: setting('RETENTION_DAYS', integer(1, 3650), '30', 'requests, attempts and checks older than this are deleted'),
    }),
    tokens: group('Verification tokens', 'The signed token (ES256 JWT) a verified code hands to an app.', {
      ttlSeconds: setting('TOKEN_TTL_SECONDS', integer(60, 86400), '300', 'token lifetime (`exp` is `iat` plus this)'),
      issuer: setting('TOKEN_ISSUER', httpsUrlOrEmpty, '', "the tokens' `iss`; empty is the origin the request reached, e.g. `https://otp.example.com`"),
    }),
    cors: group('CORS', 'Browser apps calling the API with credentials.', {
      allowedOrigins: setting('CORS_ALLOWED_ORIGINS', exactOrigins, '', 'exact app origins allowed to call with credentials; never `*`'),
    }),
    turnstile: group('Turnstile', 'Server-side checks of the Cloudflare Turnstile tokens browser sends carry, for apps that require them.', {
      mode: setting(
        'TURNSTILE_MODE',
        oneOf('siteverify', 'stub'),
        'siteverify',
        'check tokens with Cloudflare siteverify, or the local stub (no network: `XXXX.DUMMY.TOKEN.XXXX` passes, every other token fails)',
      ),
      verifyUrl: setting('TURNSTILE_VERIFY_URL', httpUrl, 'https://challenges.cloudflare.com/turnstile/v0/siteverify', 'the siteverify endpoint'),
      timeoutMs: setting(
        'TURNSTILE_TIMEOUT_MS',
        integer(100, 10_000),
        '3000',
        'hard timeout of one token check, retry included, in ms; past it the send is refused with `503 turnstile_unavailable`',
      ),
    }),
    webhooks: group('Webhooks', "Signed posts of request events to apps' receivers (docs/webhooks.md).", {
      timeoutMs: setting(
        'WEBHOOK_TIMEOUT_MS',
        integer(100, 15_000),
        '5000',
        'hard timeout of one post to a receiver, in ms; past it the attempt failed and is retried',
      ),
      concurrency: setting('WEBHOOK_CONCURRENCY', integer(1, 6), '4', 'posts in flight per webhook consumer batch'),
    }),
    alerts: group('Alerts', 'Rules the every-minute cron evaluates, and where their incidents are posted (docs/operators.md#alerts).', {
      webhookUrl: setting(
        'ALERT_WEBHOOK_URL',
        httpUrlOrEmpty,
        '',
        "the operators' receiver of signed `alert.opened` and `alert.cleared` posts, under the rules of app webhooks (https; no private or loopback address); empty: incidents are only listed",
      ),
      secretVersion: setting(
        'ALERT_WEBHOOK_SECRET_VERSION',
        integer(1, 1_000_000),
        '1',
        "the receiver's signing secret is derived from `WEBHOOK_SECRET_KEY` and this number: raise it to rotate the secret",
      ),
      successThreshold: setting(
        'ALERT_SUCCESS_THRESHOLD',
        ratio,
        '0.8',
        "`delivery_success` opens when a provider's share of calls that sent an SMS falls below this over the window",
      ),
      successWindowSeconds: setting('ALERT_SUCCESS_WINDOW_SECONDS', integer(60, 3600), '300', 'window of `delivery_success`'),
      successMinCalls: setting(
        'ALERT_SUCCESS_MIN_CALLS',
        integer(1, 100_000),
        '20',
        'provider calls in the window below which `delivery_success` does not judge a provider (and an open incident clears)',
      ),
      budgetWindowSeconds: setting(
        'ALERT_BUDGET_WINDOW_SECONDS',
        integer(60, 86400),
        '300',
        '`global_budget_spent` holds while the global budget refused a send within this many seconds',
      ),
      deadLetterWindowSeconds: setting(
        'ALERT_DEAD_LETTER_WINDOW_SECONDS',
        integer(60, 86400),
        '600',
        '`dead_letters` holds while a dead letter was received within this many seconds',
      ),
    }),
    secrets: group(
      'Secrets',
      'Set with `wrangler secret put` (locally in `.dev.vars`); none has a default.',
      Object.fromEntries(Object.entries(SECRETS).map(([name, spec]) => [name, secret(name, spec)])) as {
        [Name in keyof typeof SECRETS]: ReturnType<typeof secret>;
      },
    ),
  })
  .superRefine((config, ctx) => {
    checkProviderOrder(config, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
    if (config.environment === 'production' && config.provider.mode === 'sandbox') {
      ctx.addIssue({
        code: 'custom',
        path: ['provider', 'mode'],
        message: 'PROVIDER_MODE=sandbox is refused in the production environment: no SMS would ever be sent',
      });
    }
    if (config.environment === 'production' && config.turnstile.mode === 'stub') {
      ctx.addIssue({
        code: 'custom',
        path: ['turnstile', 'mode'],
        message: 'TURNSTILE_MODE=stub is refused in the production environment: anyone could pass with the published stub token',
      });
    }
    if (config.environment === 'production' && isTurnstileTestingSecret(config.secrets.TURNSTILE_SECRET_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['secrets', 'TURNSTILE_SECRET_KEY'],
        message: "TURNSTILE_SECRET_KEY is one of Cloudflare's published testing keys, refused in the production environment: its answers ignore the token",
      });
    }
  });

export type Config = z.output<typeof configSchema>;

/** Cloudflare's testing secret keys (`1x…AA`, `2x…AA`, `3x…AA`) answer the same whatever token they are given. */
function isTurnstileTestingSecret(secret: string | undefined): boolean {
  return secret !== undefined && /^\dx0+AA$/.test(secret.trim());
}

/** Every setting and secret with where it sits in `Config`: the loader's map and the docs' rows. */
export const SETTINGS = settingEntries(configSchema);

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const envNameByPath = new Map(SETTINGS.map(({ path, info }) => [path.join('.'), info.env]));
const cache = new WeakMap<object, Config>();

/** Parses the environment once per isolate; throws ConfigError naming every bad var. */
export function loadConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = configSchema.safeParse(nestedInput(env));
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const where = issue.path.join('.');
        return where ? `${envNameByPath.get(where) ?? where}: ${issue.message}` : issue.message;
      }),
    );
  }
  cache.set(env, parsed.data);
  return parsed.data;
}

/** The vars, placed where the schema expects them. Vars wrangler.toml leaves to their defaults are not in `Env`, hence the lookup by name. */
function nestedInput(env: object): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const { path, info } of SETTINGS) {
    let node = input;
    for (const key of path.slice(0, -1)) {
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = Reflect.get(env, info.env);
  }
  return input;
}

type Secret = keyof typeof SECRETS;
export type RequiredSecret = { [Name in Secret]: (typeof SECRETS)[Name] extends { requiredBecause: string } ? Name : never }[Secret];

/** The secrets the Worker cannot do without, by what needs them. */
export const REQUIRED_SECRETS = Object.fromEntries(
  Object.entries(SECRETS).flatMap(([name, spec]) => ('requiredBecause' in spec ? [[name, spec.requiredBecause]] : [])),
) as Record<RequiredSecret, string>;

/** The value of a required secret, or undefined when the deployment lacks it. */
export function secretValue(config: Config, name: RequiredSecret): string | undefined {
  return config.secrets[name];
}
