import { env } from 'cloudflare:test';
import { type AppSettings, effectiveSettings } from '../../src/apps/app-settings';
import { type AppCaller, forgetCachedKeys } from '../../src/apps/authenticate';
import { generateApiKey, hashApiKey, visiblePrefix } from '../../src/apps/key-material';
import type { Config } from '../../src/config';
import { insertKeyIfMissingStatement, insertKeyStatement } from '../../src/db/api-keys';
import { insertAppIfMissingStatement, insertAppStatement } from '../../src/db/apps';
import { newApiKeyId, newAppId } from '../../src/ids';

/**
 * The app most tests call as: seeded in every test file (setup.ts), with fixed keys. It keeps the
 * session cookie on, so the cookie tests run as before apps existed; its allowed origin is the
 * one browser-like tests send.
 */
export const TEST_APP = {
  id: 'app_testsuite',
  secretKey: 'sk_TestSuiteSecretKey0000000000000000000000',
  publishableKey: 'pk_TestSuitePublishableKey00000000000000000',
  origin: 'https://app.example',
  settings: { sessionCookie: true, allowedOrigins: ['https://app.example'] } satisfies AppSettings,
} as const;

export async function seedTestApp(): Promise<void> {
  const now = Date.now();
  await env.DB.batch([
    insertAppIfMissingStatement(env.DB, { id: TEST_APP.id, name: 'Test suite', settingsJson: JSON.stringify(TEST_APP.settings), now }),
    ...(await Promise.all(
      (
        [
          ['key_testsuitesecret0', 'secret', TEST_APP.secretKey],
          ['key_testsuitepublish', 'publishable', TEST_APP.publishableKey],
        ] as const
      ).map(async ([id, kind, key]) =>
        insertKeyIfMissingStatement(env.DB, { id, appId: TEST_APP.id, kind, hash: await hashApiKey(key), prefix: visiblePrefix(key), now }),
      ),
    )),
  ]);
}

/** `Authorization` for the test app's secret key (or the given key). */
export function withKey(headers: Record<string, string> = {}, key: string = TEST_APP.secretKey): Record<string, string> {
  return { Authorization: `Bearer ${key}`, ...headers };
}

export interface MadeApp {
  id: string;
  secretKey: string;
  publishableKey: string;
  secretKeyId: string;
  publishableKeyId: string;
}

/** A fresh app with its own settings and keys, written straight to D1. */
export async function makeApp(settings: AppSettings = {}, name = 'Another app'): Promise<MadeApp> {
  const now = Date.now();
  const id = newAppId();
  const secret = await generateApiKey('secret');
  const publishable = await generateApiKey('publishable');
  const secretKeyId = newApiKeyId();
  const publishableKeyId = newApiKeyId();
  await env.DB.batch([
    insertAppStatement(env.DB, { id, name, settingsJson: JSON.stringify(settings), now }),
    insertKeyStatement(env.DB, { id: secretKeyId, appId: id, kind: 'secret', hash: secret.hash, prefix: secret.prefix, now }),
    insertKeyStatement(env.DB, { id: publishableKeyId, appId: id, kind: 'publishable', hash: publishable.hash, prefix: publishable.prefix, now }),
  ]);
  return { id, secretKey: secret.key, publishableKey: publishable.key, secretKeyId, publishableKeyId };
}

/** Writes settings straight to D1 and makes this isolate forget what it cached of the app's keys. */
export async function setAppSettings(appId: string, settings: AppSettings): Promise<void> {
  await env.DB.prepare('UPDATE apps SET settings_json = ?2 WHERE id = ?1').bind(appId, JSON.stringify(settings)).run();
  forgetCachedKeys();
}

/** The test app as a caller, for tests that call the create or verify flow directly. */
export function testCaller(config: Config, settings: AppSettings = TEST_APP.settings): AppCaller {
  return { appId: TEST_APP.id, appName: 'Test suite', keyId: 'key_testsuitesecret0', keyKind: 'secret', settings: effectiveSettings(config, settings) };
}
