import { insertKeyIfMissingStatement } from '../db/api-keys';
import { insertAppIfMissingStatement } from '../db/apps';
import type { AppSettings } from './app-settings';
import { hashApiKey, visiblePrefix } from './key-material';

/**
 * The app `npm run dev` gives every local Worker, with public, documented keys (README "Try it").
 * It is written to D1 only by a Worker whose ENVIRONMENT is `development` (which answers only on
 * localhost), and keys of the `sk_dev_`/`pk_dev_` form are refused in production before any lookup.
 */
export const DEVELOPMENT_APP = {
  id: 'app_localdev',
  name: 'Local development',
  secretKey: 'sk_dev_local_development_secret_key',
  publishableKey: 'pk_dev_local_development_publishable_key',
  settings: {
    sessionCookie: true,
    allowedOrigins: ['http://localhost:8787', 'http://127.0.0.1:8787', 'http://localhost:8788', 'http://127.0.0.1:8788'],
    testNumbers: [{ phoneNumber: '+15005550006', code: '123456' }],
  } satisfies AppSettings,
} as const;

let seeded = false;

/** Writes the development app and its keys unless they exist; once per isolate. */
export async function ensureDevelopmentApp(db: D1Database, now: number): Promise<void> {
  if (seeded) return;
  const app = DEVELOPMENT_APP;
  const keys = [
    { id: 'key_localdevsecret00000', kind: 'secret' as const, key: app.secretKey },
    { id: 'key_localdevpublish0000', kind: 'publishable' as const, key: app.publishableKey },
  ];
  await db.batch([
    insertAppIfMissingStatement(db, { id: app.id, name: app.name, settingsJson: JSON.stringify(app.settings), now }),
    ...(await Promise.all(
      keys.map(async (key) =>
        insertKeyIfMissingStatement(db, { id: key.id, appId: app.id, kind: key.kind, hash: await hashApiKey(key.key), prefix: visiblePrefix(key.key), now }),
      ),
    )),
  ]);
  seeded = true;
}
