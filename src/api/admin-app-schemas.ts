import { z } from '@hono/zod-openapi';
import { AppSettings } from '../apps/app-settings';
import { KEY_KINDS } from '../apps/key-material';
import { KEY_STATES } from '../apps/key-state';
import { APP_CHANGE_ACTIONS } from '../db/app-changes';
import { API_KEY_ID_PATTERN, APP_ID_PATTERN } from '../ids';

/** Request and answer shapes of the apps admin routes (routes/admin-apps.ts, routes/admin-app-keys.ts). */

export const AppSettingsSchema = AppSettings.openapi('AppSettings', {
  description: "The app's own settings; each one absent uses the deployment's default. See docs/operators.md#apps-and-keys.",
});

export const AppNameSchema = z.string().trim().min(1, 'must be 1 to 100 characters').max(100, 'must be 1 to 100 characters').openapi({ example: 'Checkout' });

/** Who made a change, as `app_changes.actor`; without the header, `admin`. */
export const OperatorHeaders = z.object({
  'x-operator': z
    .string()
    .regex(/^[\x20-\x7e]{1,64}$/, 'must be 1 to 64 printable ASCII characters')
    .optional()
    .openapi({
      description: 'Who is making the change, recorded in the change log (1 to 64 printable ASCII characters); `admin` when absent',
      example: 'alice',
    }),
});
export const DEFAULT_ACTOR = 'admin';

export const AppIdParam = z
  .string()
  .regex(APP_ID_PATTERN, 'is not a valid app id')
  .openapi({ param: { name: 'appId', in: 'path' }, example: 'app_3q2-7wEjQ1mB0Yk5c9f8Zg' });

export const KeyIdParam = z
  .string()
  .regex(API_KEY_ID_PATTERN, 'is not a valid key id')
  .openapi({ param: { name: 'keyId', in: 'path' }, example: 'key_Hq3vX0aPq5mB0Yk5' });

const time = z.string().openapi({ format: 'date-time' });

export const AppKeySchema = z
  .object({
    id: z.string(),
    kind: z.enum(KEY_KINDS),
    prefix: z.string().openapi({ description: "The key's first characters, to tell keys apart; the key itself is never shown again", example: 'sk_Hq3vX0aP' }),
    state: z.enum(KEY_STATES).openapi({
      description: 'active; expiring (rotated: works until expiresAt); expired (rotated, overlap over); revoked',
    }),
    createdAt: time,
    expiresAt: time.nullable(),
    revokedAt: time.nullable(),
    replacedBy: z.string().nullable().openapi({ description: 'The key a rotation made to replace this one' }),
    lastUsedAt: time.nullable().openapi({ description: 'Recorded at most once a minute per key and Worker instance' }),
  })
  .openapi('AppKey');

export const AppSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    settings: AppSettingsSchema.nullable().openapi({
      description: 'null: the stored settings no longer parse; the app answers 500 until new ones are PATCHed',
    }),
    createdAt: time,
    updatedAt: time,
    disabledAt: time.nullable().openapi({ description: 'Set while the app is disabled: none of its keys works' }),
    keys: z.array(AppKeySchema),
  })
  .openapi('App');

export const AppChangeSchema = z
  .object({
    id: z.number().int(),
    at: time,
    actor: z.string(),
    action: z.enum(APP_CHANGE_ACTIONS),
    detail: z.record(z.string(), z.unknown()).openapi({ description: 'Which fields or settings changed, key ids and prefixes; never a key' }),
  })
  .openapi('AppChange');
