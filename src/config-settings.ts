import { z } from 'zod';
import { countriesOfCallingCodes, isKnownCountry } from './countries.ts';
import { REFUSABLE_NUMBER_TYPES, type RefusableNumberType } from './phone-check.ts';
import type { WindowRule } from './window-rules';

/**
 * The building blocks of the settings schema in config.ts: one `setting()` per var (its name, the
 * form it takes, its default, one line of doc), `secret()` per secret, `group()` per group, and
 * the walk that lists them all for the loader and the docs. Imports carry their `.ts` extension
 * and only types come from elsewhere, so that Node can load this file to write the docs.
 */

/** What the loader and the docs know about one setting besides how it parses. */
export interface SettingInfo {
  /** The var or secret name, as set in wrangler.toml, `--var` or `wrangler secret put`. */
  env: string;
  /** As written in wrangler.toml; undefined for secrets, which never have one. */
  default: string | undefined;
  accepts: string;
  description: string;
  /** Secrets only. */
  secret?: { needed: string; requiredBecause: string | undefined };
}

export interface GroupInfo {
  title: string;
  description: string;
}

export const settingInfo = z.registry<SettingInfo>();
export const groupInfo = z.registry<GroupInfo>();

/** How a setting's text becomes its value. `fail` records a problem naming the var and returns nothing usable. */
export interface Parser<T> {
  accepts: string;
  /** false: a blank value is refused instead of standing for the default. */
  blankIsDefault?: false;
  parse(text: string, name: string, fail: (message: string) => never): T;
}

/** One var: unset (or blank) takes `fallback`, written as it would be in wrangler.toml. */
export function setting<T>(env: string, parser: Parser<T>, fallback: string, description: string) {
  const schema = z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      const unset = raw === undefined || (parser.blankIsDefault !== false && raw.trim() === '');
      const fail = (message: string): never => {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      };
      return parser.parse(unset ? fallback : raw, env, fail);
    });
  settingInfo.add(schema, { env, default: fallback, accepts: parser.accepts, description });
  return schema;
}

/** A secret: never a default; blank is unset. */
export function secret(env: string, spec: { needed: string; description: string; requiredBecause?: string }) {
  const schema = z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));
  settingInfo.add(schema, {
    env,
    default: undefined,
    accepts: 'secret',
    description: spec.description,
    secret: { needed: spec.needed, requiredBecause: spec.requiredBecause },
  });
  return schema;
}

export function group<Shape extends z.ZodRawShape>(title: string, description: string, shape: Shape) {
  const schema = z.object(shape);
  groupInfo.add(schema, { title, description });
  return schema;
}

export interface SettingEntry {
  /** Where the value sits in the parsed config, e.g. `['otp', 'length']`. */
  path: readonly string[];
  info: SettingInfo;
  /** The group() it belongs to; undefined at the top level. */
  group: GroupInfo | undefined;
}

/** Every setting and secret of a schema, in declaration order. */
export function settingEntries(schema: z.ZodObject, path: readonly string[] = [], group?: GroupInfo): SettingEntry[] {
  return Object.entries(schema.shape).flatMap(([key, child]) => {
    const at = [...path, key];
    if (child instanceof z.ZodObject) return settingEntries(child, at, groupInfo.get(child) ?? group);
    const info = settingInfo.get(child);
    if (!info) throw new Error(`config: ${at.join('.')} is declared without setting() or secret()`);
    return [{ path: at, info, group }];
  });
}

/** The parsers. Messages name the var and the accepted form, since they are what an operator reads. */

export const integer = (min: number, max: number): Parser<number> => ({
  accepts: `integer, ${min} to ${max}`,
  parse(text, name, fail) {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) return fail(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
    return value;
  },
});

export const ratio: Parser<number> = {
  accepts: 'number, 0 to 1',
  parse(text, name, fail) {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0 || value > 1) return fail(`${name} must be a number from 0 to 1, got "${text}"`);
    return value;
  },
};

/** `"1/60,5/3600"`: at most 1 per 60 s and at most 5 per 3,600 s. */
export const windowRules: Parser<WindowRule[]> = {
  accepts: '`count/seconds`, comma-separated',
  parse(text, name, fail) {
    const rules: WindowRule[] = [];
    for (const part of text.split(',')) {
      const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(part);
      const limit = Number(match?.[1]);
      const windowSeconds = Number(match?.[2]);
      if (!match || limit < 1 || windowSeconds < 1 || windowSeconds > 7 * 86400) {
        return fail(`${name} must look like "1/60,5/3600" (count/seconds), got "${text}"`);
      }
      rules.push({ limit, windowSeconds });
    }
    return rules;
  },
};

/** `"30,60,120,300"`: seconds, used in order. */
export const secondsList: Parser<number[]> = {
  accepts: 'up to 10 whole seconds, comma-separated',
  parse(text, name, fail) {
    const values = text.split(',').map((part) => Number(part.trim()));
    if (values.length > 10 || values.some((value) => !Number.isInteger(value) || value < 0 || value > 86400)) {
      return fail(`${name} must be up to 10 comma-separated whole seconds, got "${text}"`);
    }
    return values;
  },
};

/** `"*"` (any: null) or `"IN,US"`: ISO 3166-1 alpha-2 countries (`001`: numbers of no country). */
export const allowedCountries: Parser<string[] | null> = {
  accepts: '`*` or ISO countries, comma-separated',
  parse(text, name, fail) {
    const trimmed = text.trim();
    if (trimmed === '*') return null;
    return countryList.parse(trimmed, name, fail);
  },
};

/** `"IN,US"`; empty is none. */
export const countryList: Parser<string[]> = {
  accepts: 'ISO countries, comma-separated',
  parse(text, name, fail) {
    const countries = commaList(text).map((country) => country.toUpperCase());
    const unknown = countries.filter((country) => !isKnownCountry(country));
    if (unknown.length > 0) return fail(`${name} takes ISO 3166-1 alpha-2 countries like "IN,US" (or 001), got "${unknown.join(',')}"`);
    return countries;
  },
};

/** Number types refused by default that are admitted; empty is none. */
export const numberTypes: Parser<RefusableNumberType[]> = {
  accepts: `any of ${REFUSABLE_NUMBER_TYPES.map((type) => `\`${type}\``).join(', ')}, comma-separated`,
  parse(text, name, fail) {
    const types = commaList(text).map((type) => type.toLowerCase());
    const unknown = types.filter((type) => !(REFUSABLE_NUMBER_TYPES as readonly string[]).includes(type));
    if (unknown.length > 0) return fail(`${name} takes ${REFUSABLE_NUMBER_TYPES.join(', ')}, got "${unknown.join(',')}"`);
    return types as RefusableNumberType[];
  },
};

/**
 * The calling codes of the retired ALLOWED_COUNTRY_CODES: refused when set, with the ISO countries
 * they stood for, rather than translated. "1" stood for every NANP country, Caribbean ranges
 * included; carrying that over silently would keep the very hole the ISO list closes.
 */
export const retiredCallingCodes: Parser<null> = {
  accepts: 'unset (retired)',
  parse(text, name, fail) {
    const codes = commaList(text).map((code) => code.replace(/^\+/, ''));
    if (codes.length === 0) return null;
    if (codes.includes('*')) return fail(`${name} is retired: remove it (ALLOWED_COUNTRIES defaults to "*")`);
    const countries = countriesOfCallingCodes(codes.filter((code) => /^[1-9]\d{0,2}$/.test(code)));
    return fail(
      `${name} is retired: set ALLOWED_COUNTRIES to ISO countries instead. "${text.trim()}" stood for ${countries.join(',') || 'no country'}; list only those you mean (e.g. "US" rather than every +1 country)`,
    );
  },
};

function commaList(text: string): string[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

/** Exact origins, comma-separated; empty is none. */
export const exactOrigins: Parser<string[]> = {
  accepts: 'origins, comma-separated',
  parse(text, name, fail) {
    const origins = text
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean);
    for (const origin of origins) {
      if (origin === '*' || originOf(origin) !== origin) {
        return fail(`${name} takes exact origins like https://app.example.com (never *, since responses carry cookies), got "${origin}"`);
      }
    }
    return origins;
  },
};

function originOf(text: string): string | undefined {
  try {
    return new URL(text).origin;
  } catch {
    return undefined;
  }
}

/** An http(s) URL, without its trailing slashes. */
export const httpUrl: Parser<string> = {
  accepts: 'http(s) URL',
  blankIsDefault: false,
  parse(text, name, fail) {
    if (!z.url({ protocol: /^https?$/ }).safeParse(text).success) return fail(`${name} must be an http(s) URL`);
    return text.replace(/\/+$/, '');
  },
};

/** Empty (null: the caller decides) or an https URL, kept as written: it is compared verbatim by whoever checks it. */
export const httpsUrlOrEmpty: Parser<string | null> = {
  accepts: 'empty or https URL',
  parse(text, name, fail) {
    const trimmed = text.trim();
    if (trimmed === '') return null;
    if (!z.url({ protocol: /^https$/ }).safeParse(trimmed).success) return fail(`${name} must be empty or an https URL, got "${trimmed}"`);
    return trimmed;
  },
};

/** Empty (null: none) or an http(s) URL, kept as written; what else it must meet is checked where it is used. */
export const httpUrlOrEmpty: Parser<string | null> = {
  accepts: 'empty or http(s) URL',
  parse(text, name, fail) {
    const trimmed = text.trim();
    if (trimmed === '') return null;
    if (!z.url({ protocol: /^https?$/ }).safeParse(trimmed).success) return fail(`${name} must be empty or an http(s) URL, got "${trimmed}"`);
    return trimmed;
  },
};

export const oneOf = <const Options extends readonly string[]>(...options: Options): Parser<Options[number]> => ({
  accepts: options.map((option) => `\`${option}\``).join(', '),
  blankIsDefault: false,
  parse(text, name, fail) {
    const option = options.find((candidate) => candidate === text);
    if (option === undefined) return fail(`${name} must be one of ${options.join(', ')}, got "${text}"`);
    return option;
  },
});

/** A parser whose value is reshaped once parsed. */
export const mapped = <T, U>(parser: Parser<T>, reshape: (value: T) => U): Parser<U> => ({
  ...parser,
  parse: (text, name, fail) => reshape(parser.parse(text, name, fail)),
});

/** Empty (null) or text matching `pattern`, as `accepts` describes it. */
export const optionalMatching = (pattern: RegExp, accepts: string): Parser<string | null> => ({
  accepts: `empty or ${accepts}`,
  parse(text, name, fail) {
    const trimmed = text.trim();
    if (trimmed === '') return null;
    if (!pattern.test(trimmed)) return fail(`${name} must be empty or ${accepts}, got "${trimmed}"`);
    return trimmed;
  },
});

/** Empty (null: the caller's default) or distinct names from `options`, comma-separated, in order. */
export const nameList = <const Options extends readonly string[]>(...options: Options): Parser<Options[number][] | null> => ({
  accepts: `empty or names of ${options.map((option) => `\`${option}\``).join(', ')}, comma-separated`,
  parse(text, name, fail) {
    const trimmed = text.trim();
    if (trimmed === '') return null;
    const names = trimmed.split(',').map((part) => part.trim());
    const unknown = names.find((candidate) => !options.includes(candidate));
    if (unknown !== undefined) return fail(`${name} takes names of ${options.join(', ')}, got "${unknown}"`);
    if (new Set(names).size !== names.length) return fail(`${name} names each provider once, got "${trimmed}"`);
    return names as Options[number][];
  },
});
