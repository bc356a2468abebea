import { z } from 'zod';
import { type Config, OTP_TTL_MAX_SECONDS } from '../config';
import { PROVIDER_NAMES, type ProviderName } from '../config-providers';
import { countriesOfCallingCodes, isKnownCountry } from '../countries';
import { E164_PATTERN } from '../phone';
import { type DestinationPolicy, REFUSABLE_NUMBER_TYPES } from '../phone-check';
import { MESSAGE_LOCALES } from '../providers/message-body';

/**
 * An app's own settings, stored as JSON on its row. Each is optional and, when set, replaces the
 * deployment's default for that app's requests. Checked with this schema when an operator writes
 * them and again when they are read.
 */

const origin = z.string().refine((value) => {
  try {
    return value !== '*' && new URL(value).origin === value;
  } catch {
    return false;
  }
}, 'must be an exact origin like https://app.example.com (scheme, host and port only)');

export const TestNumber = z
  .object({
    phoneNumber: z.string().regex(E164_PATTERN, 'must be in E.164 format, for example +15005550006'),
    code: z.string().regex(/^[0-9]{4,8}$/, 'must be 4 to 8 digits'),
  })
  .strict();

export const AppSettings = z
  .object({
    otpLength: z.number().int().min(4).max(8).optional(),
    otpTtlSeconds: z.number().int().min(30).max(OTP_TTL_MAX_SECONDS).optional(),
    /** ISO countries (`["IN", "GB"]`); absent: ALLOWED_COUNTRIES. BLOCKED_COUNTRIES applies either way. */
    allowedCountries: z.array(z.string().refine(isKnownCountry, 'must be an ISO 3166-1 alpha-2 country like "IN" (or 001)')).min(1).max(250).optional(),
    /** Number types refused by default that this app admits; absent: ALLOWED_NUMBER_TYPES. */
    allowedNumberTypes: z.array(z.enum(REFUSABLE_NUMBER_TYPES)).max(REFUSABLE_NUMBER_TYPES.length).optional(),
    /** StartMessaging's `templateId` for this app's SMS (DLT routes). */
    templateId: z
      .string()
      .regex(/^[\x21-\x7e]{1,100}$/, 'must be 1 to 100 printable ASCII characters')
      .optional(),
    /** SMS per rolling 24 hours; once spent, sends answer 429 `app_budget_exhausted`. */
    dailySmsBudget: z.number().int().min(1).max(100_000_000).optional(),
    /** Origins a publishable key is accepted from (and given CORS answers). */
    allowedOrigins: z.array(origin).max(20).optional(),
    /** Browser sends (publishable key) must carry a Turnstile token checked server-side. */
    turnstileRequired: z.boolean().optional(),
    /** A verification also starts the signed session cookie (same-site deployments). */
    sessionCookie: z.boolean().optional(),
    /** The domain of the `@domain #code` autofill line of its messages (Twilio; WebOTP, iOS and Android read it). */
    smsDomain: z
      .string()
      .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a lower-case domain name like shop.example.com')
      .optional(),
    /** Built-in wording of its messages by language (providers that take the whole text). */
    smsLocale: z.enum(MESSAGE_LOCALES).optional(),
    /** Its own wording: `{code}` (required, best first) and `{app}` are filled in. */
    smsTemplate: z
      .string()
      .min(6)
      .max(300)
      .refine((template) => template.includes('{code}'), 'must contain {code}')
      .optional(),
    /** Providers its codes may go through, in order: a reordering or subset of PROVIDER_ORDER. */
    providers: z
      .array(z.enum(PROVIDER_NAMES))
      .min(1)
      .max(PROVIDER_NAMES.length)
      .refine((names) => new Set(names).size === names.length, 'each provider may appear once')
      .optional(),
    /** For `channel: "auto"`: how long a WhatsApp message has to be delivered before the code goes by SMS. */
    whatsappTimeoutSeconds: z.number().int().min(10).max(600).optional(),
    /** Numbers with a fixed code that never reach a provider (store reviewers, monitoring). */
    testNumbers: z
      .array(TestNumber)
      .max(50)
      .refine((numbers) => new Set(numbers.map((entry) => entry.phoneNumber)).size === numbers.length, 'each phone number may appear once')
      .optional(),
  })
  .strict();
export type AppSettings = z.infer<typeof AppSettings>;

/** The settings a request of the app runs with: its own where set, the deployment's otherwise. */
export interface EffectiveSettings {
  otpLength: number;
  otpTtlSeconds: number;
  destinations: DestinationPolicy;
  templateId: string | null;
  dailySmsBudget: number | null;
  allowedOrigins: string[];
  turnstileRequired: boolean;
  sessionCookie: boolean;
  testNumbers: ReadonlyMap<string, string>;
  providers: ProviderName[] | null;
  whatsappTimeoutSeconds: number;
}

/** How long an `auto` request's WhatsApp message has to be delivered, unless the app says otherwise. */
export const DEFAULT_WHATSAPP_TIMEOUT_SECONDS = 30;

export function effectiveSettings(config: Config, settings: AppSettings): EffectiveSettings {
  return {
    otpLength: settings.otpLength ?? config.otp.length,
    otpTtlSeconds: settings.otpTtlSeconds ?? config.otp.ttlSeconds,
    destinations: {
      allowedCountries: settings.allowedCountries ?? config.destinations.allowedCountries,
      blockedCountries: config.destinations.blockedCountries,
      allowedNumberTypes: settings.allowedNumberTypes ?? config.destinations.allowedNumberTypes,
    },
    templateId: settings.templateId ?? null,
    dailySmsBudget: settings.dailySmsBudget ?? null,
    allowedOrigins: settings.allowedOrigins ?? [],
    turnstileRequired: settings.turnstileRequired ?? false,
    sessionCookie: settings.sessionCookie ?? false,
    testNumbers: new Map((settings.testNumbers ?? []).map((entry) => [entry.phoneNumber, entry.code])),
    providers: settings.providers ?? null,
    whatsappTimeoutSeconds: settings.whatsappTimeoutSeconds ?? DEFAULT_WHATSAPP_TIMEOUT_SECONDS,
  };
}

/**
 * Settings stored before countries were ISO codes held calling codes (`allowedCountryCodes`); read
 * back, they become the countries those codes stood for, so an app keeps sending where it did. The
 * next change an operator makes writes `allowedCountries`; writing the old key is refused.
 */
const StoredSettings = z.preprocess((value) => {
  if (typeof value !== 'object' || value === null || !('allowedCountryCodes' in value)) return value;
  const { allowedCountryCodes, ...rest } = value as { allowedCountryCodes: unknown } & Record<string, unknown>;
  const codes = Array.isArray(allowedCountryCodes) ? allowedCountryCodes.filter((code): code is string => typeof code === 'string') : [];
  return { allowedCountries: countriesOfCallingCodes(codes), ...rest };
}, AppSettings);

/** Stored settings JSON, read back; a row that no longer parses is reported, never guessed at. */
export function parseStoredSettings(json: string): AppSettings | null {
  try {
    const parsed = StoredSettings.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
