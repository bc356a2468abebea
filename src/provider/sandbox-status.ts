import type { DeliveryStatusSource, StatusOutcome } from './delivery-status';
import { SANDBOX_MAGIC_NUMBERS } from './sandbox';

/**
 * Delivery reports for what the sandbox "sent": every recorded message is delivered, except to
 * the undeliverable magic number, so the whole report flow runs locally without a provider.
 */
export class SandboxStatusSource implements DeliveryStatusSource {
  constructor(private readonly db: D1Database) {}

  async messageStatus(messageId: string): Promise<StatusOutcome> {
    const row = await this.db
      .prepare('SELECT phone_number, created_at FROM sandbox_messages WHERE message_id = ?1')
      .bind(messageId)
      .first<{ phone_number: string; created_at: number }>();
    if (!row) return { kind: 'permanent', httpStatus: 404, errorCode: 'provider_message_not_found', message: 'sandbox: no such message' };
    if (row.phone_number === SANDBOX_MAGIC_NUMBERS.undeliverable) {
      return { kind: 'report', httpStatus: 200, status: 'failed', deliveredAt: null, errorMessage: 'sandbox: handset unreachable' };
    }
    return { kind: 'report', httpStatus: 200, status: 'delivered', deliveredAt: Date.now(), errorMessage: null };
  }
}
