import { z } from 'zod';
import type { WindowRule } from './window-rules';

/**
 * Every var and secret the Worker reads, parsed once per isolate. A bad value is a deployment
 * mistake, so it is reported by name instead of surfacing later as a confusing runtime failure.
 */

const intVar = (name: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return fallback;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be an integer from ${min} to ${max}, got "${raw}"` });
        return z.NEVER;
      }
      return value;
    });

/** `"1/60,5/3600"`: at most 1 per 60 s and at most 5 per 3,600 s. */
export const windowRulesVar = (name: string, fallback: string) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const text = raw === undefined || raw.trim() === '' ? fallback : raw;
      const rules: WindowRule[] = [];
      for (const part of text.split(',')) {
        const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(part);
        const limit = Number(match?.[1]);
        const windowSeconds = Number(match?.[2]);
        if (!match || limit < 1 || windowSeconds < 1 || windowSeconds > 7 * 86400) {
          ctx.addIssue({ code: 'custom', message: `${name} must look like "1/60,5/3600" (count/seconds), got "${text}"` });
          return z.NEVER;
        }
        rules.push({ limit, windowSeconds });
      }
      return rules;
    });

export type { WindowRule } from './window-rules';

/** The longest SESSION_TTL_SECONDS accepted: a revocation must outlive every session it refuses. */
export const SESSION_TTL_MAX_SECONDS = 30 * 86400;

/** `"30,60,120,300"`: seconds, ascending use. */
const secondsListVar = (name: string, fallback: string) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const text = raw === undefined || raw.trim() === '' ? fallback : raw;
      const values = text.split(',').map((part) => Number(part.trim()));
      if (values.length > 10 || values.some((value) => !Number.isInteger(value) || value < 0 || value > 86400)) {
        ctx.addIssue({ code: 'custom', message: `${name} must be up to 10 comma-separated whole seconds, got "${text}"` });
        return z.NEVER;
      }
      return values;
    });

const ratioVar = (name: string, fallback: number) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return fallback;
      const value = Number(raw);
      if (!Number.isFinite(value) || value < 0 || value > 1) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a number from 0 to 1, got "${raw}"` });
        return z.NEVER;
      }
      return value;
    });

/** `"*"` (any) or `"91,44"`: E.164 country calling codes. */
const countryCodesVar = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    const text = (raw ?? '*').trim() || '*';
    if (text === '*') return null;
    const codes = text.split(',').map((code) => code.trim().replace(/^\+/, ''));
    if (codes.some((code) => !/^[1-9]\d{0,2}$/.test(code))) {
      ctx.addIssue({ code: 'custom', message: `ALLOWED_COUNTRY_CODES must be "*" or calling codes like "91,44", got "${text}"` });
      return z.NEVER;
    }
    return codes;
  });

const optionalSecret = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));

const configSchema = z
  .object({
    ENVIRONMENT: z.enum(['development', 'test', 'production']).default('development'),
    PROVIDER_MODE: z.enum(['startmessaging', 'sandbox']).default('sandbox'),
    SM_BASE_URL: z
      .url({ protocol: /^https?$/, message: 'SM_BASE_URL must be an http(s) URL' })
      .default('https://api.startmessaging.com')
      .transform((url) => url.replace(/\/+$/, '')),
    SM_TIMEOUT_MS: intVar('SM_TIMEOUT_MS', 100, 30_000, 8000),
    OTP_LENGTH: intVar('OTP_LENGTH', 4, 8, 6),
    OTP_TTL_SECONDS: intVar('OTP_TTL_SECONDS', 30, 3600, 300),
    OTP_MAX_VERIFY_ATTEMPTS: intVar('OTP_MAX_VERIFY_ATTEMPTS', 1, 20, 5),
    PHONE_LIMITS: windowRulesVar('PHONE_LIMITS', '1/60,3/600,5/3600,10/86400'),
    PHONE_COOLDOWN_SECONDS: secondsListVar('PHONE_COOLDOWN_SECONDS', '30,60,120,300'),
    IP_LIMITS: windowRulesVar('IP_LIMITS', '10/60,40/600,100/3600'),
    UNKNOWN_IP_LIMITS: windowRulesVar('UNKNOWN_IP_LIMITS', '5/60,20/3600'),
    PREFIX_LIMITS: windowRulesVar('PREFIX_LIMITS', '60/60,600/3600'),
    GLOBAL_SEND_LIMIT: windowRulesVar('GLOBAL_SEND_LIMIT', '6000/60'),
    GLOBAL_SHARDS: intVar('GLOBAL_SHARDS', 1, 256, 16),
    ALLOWED_COUNTRY_CODES: countryCodesVar,
    PUMPING_WINDOW_SECONDS: intVar('PUMPING_WINDOW_SECONDS', 60, 7 * 86400, 3600),
    PUMPING_GRACE_SECONDS: intVar('PUMPING_GRACE_SECONDS', 0, 3600, 120),
    PUMPING_MIN_SENDS: intVar('PUMPING_MIN_SENDS', 1, 100_000, 20),
    PUMPING_MIN_CONVERSION: ratioVar('PUMPING_MIN_CONVERSION', 0.3),
    PUMPING_BLOCK_SECONDS: intVar('PUMPING_BLOCK_SECONDS', 60, 30 * 86400, 43200),
    SEQUENTIAL_BURST_NUMBERS: intVar('SEQUENTIAL_BURST_NUMBERS', 2, 1000, 5),
    SEQUENTIAL_BURST_SECONDS: intVar('SEQUENTIAL_BURST_SECONDS', 1, 86400, 600),
    PROVIDER_RATE_PER_SECOND: intVar('PROVIDER_RATE_PER_SECOND', 1, 10_000, 20),
    SEND_RETRY_BASE_SECONDS: intVar('SEND_RETRY_BASE_SECONDS', 1, 600, 2),
    SEND_RETRY_MAX_SECONDS: intVar('SEND_RETRY_MAX_SECONDS', 1, 3600, 60),
    SEND_CONCURRENCY: intVar('SEND_CONCURRENCY', 1, 100, 50),
    SEND_MAX_ATTEMPTS: intVar('SEND_MAX_ATTEMPTS', 1, 50, 8),
    VERIFY_FAILURE_LIMITS: windowRulesVar('VERIFY_FAILURE_LIMITS', '10/3600'),
    SESSION_TTL_SECONDS: intVar('SESSION_TTL_SECONDS', 60, SESSION_TTL_MAX_SECONDS, 86400),
    DELIVERY_CHECK_BASE_SECONDS: intVar('DELIVERY_CHECK_BASE_SECONDS', 1, 3600, 30),
    DELIVERY_CHECK_MAX: intVar('DELIVERY_CHECK_MAX', 0, 20, 6),
    RESEND_PHONE_DAILY_CAP: intVar('RESEND_PHONE_DAILY_CAP', 1, 1000, 10),
    RESEND_SENDS_PER_SECOND: intVar('RESEND_SENDS_PER_SECOND', 1, 100, 10),
    RETENTION_DAYS: intVar('RETENTION_DAYS', 1, 3650, 30),
    CORS_ALLOWED_ORIGINS: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        const origins = (raw ?? '').split(',').map((origin) => origin.trim()).filter(Boolean);
        for (const origin of origins) {
          let parsed: URL | undefined;
          try {
            parsed = new URL(origin);
          } catch {
            parsed = undefined;
          }
          if (origin === '*' || !parsed || parsed.origin !== origin) {
            ctx.addIssue({
              code: 'custom',
              message: `CORS_ALLOWED_ORIGINS takes exact origins like https://app.example.com (never *, since responses carry cookies), got "${origin}"`,
            });
            return z.NEVER;
          }
        }
        return origins;
      }),
    SM_API_KEY: optionalSecret,
    OTP_SECRET: optionalSecret,
    SESSION_SECRET: optionalSecret,
    SESSION_SECRET_PREVIOUS: optionalSecret,
    ADMIN_TOKEN: optionalSecret,
  })
  .superRefine((config, ctx) => {
    if (config.ENVIRONMENT === 'production' && config.PROVIDER_MODE === 'sandbox') {
      ctx.addIssue({
        code: 'custom',
        path: ['PROVIDER_MODE'],
        message: 'PROVIDER_MODE=sandbox is refused in the production environment: no SMS would ever be sent',
      });
    }
  });

export type RawConfig = z.output<typeof configSchema>;

export interface Config {
  environment: RawConfig['ENVIRONMENT'];
  providerMode: RawConfig['PROVIDER_MODE'];
  provider: { baseUrl: string; timeoutMs: number; apiKey: string | undefined };
  otp: { length: number; ttlSeconds: number; maxVerifyAttempts: number; secret: string | undefined };
  phoneLimits: WindowRule[];
  limits: {
    phoneCooldown: { scheduleSeconds: number[]; resetSeconds: number };
    ip: WindowRule[];
    /** The one bucket every client whose address is missing or unreadable shares. */
    unknownIp: WindowRule[];
    prefix: WindowRule[];
    global: WindowRule[];
    globalShards: number;
    allowedCountryCodes: string[] | null;
  };
  pumping: {
    windowSeconds: number;
    graceSeconds: number;
    minSends: number;
    minConversion: number;
    blockSeconds: number;
    sequentialNumbers: number;
    sequentialSeconds: number;
  };
  providerRatePerSecond: number;
  retry: { baseSeconds: number; maxSeconds: number };
  sendConcurrency: number;
  maxSendAttempts: number;
  verifyFailureLimits: WindowRule[];
  session: { ttlSeconds: number; secret: string | undefined; previousSecret: string | undefined };
  corsAllowedOrigins: string[];
  adminToken: string | undefined;
  /** Delivery reports: the first status check waits `baseSeconds`, each later one twice as long; `maxChecks` 0 turns them off. */
  deliveryChecks: { baseSeconds: number; maxChecks: number };
  /** Operator resends: at most `dailyCapPerPhone` requests per phone in 24 h, queued at `sendsPerSecond`. */
  resend: { dailyCapPerPhone: number; sendsPerSecond: number };
  retentionDays: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const cache = new WeakMap<object, Config>();

/** Parses the environment once per isolate; throws ConfigError naming every bad var. */
export function loadConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message)),
    );
  }
  const raw = parsed.data;
  const config: Config = {
    environment: raw.ENVIRONMENT,
    providerMode: raw.PROVIDER_MODE,
    provider: { baseUrl: raw.SM_BASE_URL, timeoutMs: raw.SM_TIMEOUT_MS, apiKey: raw.SM_API_KEY },
    otp: {
      length: raw.OTP_LENGTH,
      ttlSeconds: raw.OTP_TTL_SECONDS,
      maxVerifyAttempts: raw.OTP_MAX_VERIFY_ATTEMPTS,
      secret: raw.OTP_SECRET,
    },
    phoneLimits: raw.PHONE_LIMITS,
    limits: {
      // The cooldown steps back to the first entry after an hour without a send.
      phoneCooldown: { scheduleSeconds: raw.PHONE_COOLDOWN_SECONDS, resetSeconds: 3600 },
      ip: raw.IP_LIMITS,
      unknownIp: raw.UNKNOWN_IP_LIMITS,
      prefix: raw.PREFIX_LIMITS,
      global: raw.GLOBAL_SEND_LIMIT,
      globalShards: raw.GLOBAL_SHARDS,
      allowedCountryCodes: raw.ALLOWED_COUNTRY_CODES,
    },
    pumping: {
      windowSeconds: raw.PUMPING_WINDOW_SECONDS,
      graceSeconds: raw.PUMPING_GRACE_SECONDS,
      minSends: raw.PUMPING_MIN_SENDS,
      minConversion: raw.PUMPING_MIN_CONVERSION,
      blockSeconds: raw.PUMPING_BLOCK_SECONDS,
      sequentialNumbers: raw.SEQUENTIAL_BURST_NUMBERS,
      sequentialSeconds: raw.SEQUENTIAL_BURST_SECONDS,
    },
    providerRatePerSecond: raw.PROVIDER_RATE_PER_SECOND,
    retry: { baseSeconds: raw.SEND_RETRY_BASE_SECONDS, maxSeconds: raw.SEND_RETRY_MAX_SECONDS },
    sendConcurrency: raw.SEND_CONCURRENCY,
    maxSendAttempts: raw.SEND_MAX_ATTEMPTS,
    verifyFailureLimits: raw.VERIFY_FAILURE_LIMITS,
    session: { ttlSeconds: raw.SESSION_TTL_SECONDS, secret: raw.SESSION_SECRET, previousSecret: raw.SESSION_SECRET_PREVIOUS },
    corsAllowedOrigins: raw.CORS_ALLOWED_ORIGINS,
    adminToken: raw.ADMIN_TOKEN,
    deliveryChecks: { baseSeconds: raw.DELIVERY_CHECK_BASE_SECONDS, maxChecks: raw.DELIVERY_CHECK_MAX },
    resend: { dailyCapPerPhone: raw.RESEND_PHONE_DAILY_CAP, sendsPerSecond: raw.RESEND_SENDS_PER_SECOND },
    retentionDays: raw.RETENTION_DAYS,
  };
  cache.set(env, config);
  return config;
}

/** The secrets the Worker cannot do without, by what needs them. None has a built-in default. */
export const REQUIRED_SECRETS = {
  OTP_SECRET: 'codes can be neither sent nor checked',
  SESSION_SECRET: 'sessions can be neither started nor read',
  ADMIN_TOKEN: 'the admin API is closed',
} as const;
export type RequiredSecret = keyof typeof REQUIRED_SECRETS;

/** The value of a required secret, or undefined when the deployment lacks it. */
export function secretValue(config: Config, name: RequiredSecret): string | undefined {
  switch (name) {
    case 'OTP_SECRET':
      return config.otp.secret;
    case 'SESSION_SECRET':
      return config.session.secret;
    case 'ADMIN_TOKEN':
      return config.adminToken;
  }
}
