import type { AppChangeAction } from '../db/app-changes';
import { logInfo } from '../log';
import { forgetCachedKeys } from './authenticate';

/**
 * After an operator's change is written: this isolate forgets the keys it cached, so its next call
 * sees the change at once (other isolates within KEY_CACHE_TTL_MS), and the change is logged with
 * ids only, never a key.
 */
export function afterChange(change: { appId: string; action: AppChangeAction; actor: string; keyId?: string }): void {
  forgetCachedKeys();
  logInfo('app.changed', change);
}
