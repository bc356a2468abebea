import type { AppChangeAction } from '../db/app-changes';
import { logInfo } from '../log';
import { forgetCachedOrigins } from './app-origins';
import { forgetCachedKeys } from './authenticate';

/**
 * After an operator's change is written: this isolate forgets the keys and allowed origins it
 * cached, so its next call sees the change at once (other isolates within KEY_CACHE_TTL_MS), and the change is logged with
 * ids only, never a key.
 */
export function afterChange(change: { appId: string; action: AppChangeAction; actor: string; keyId?: string }): void {
  forgetCachedKeys();
  forgetCachedOrigins();
  logInfo('app.changed', change);
}
