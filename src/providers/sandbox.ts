import { sha256Hex } from '../crypto';
import { getSandboxMessage, recordSandboxMessage } from '../db/sandbox-messages';
import type { Channel, SendOutcome, SendRequest, SmsProvider, StatusOutcome } from './sms-provider';

/**
 * Numbers that make the sandbox misbehave on purpose, so the retry and failure paths can be
 * tried locally with curl. They sit in the +1 555 range, which no real subscriber holds.
 */
export const SANDBOX_MAGIC_NUMBERS = {
  rejected: '+15555550100',
  unavailable: '+15555550101',
  slow: '+15555550102',
  flaky: '+15555550103',
  /** Accepted like any other, but its delivery report says `failed`. */
  undeliverable: '+15555550104',
  /** Unavailable (503) at the first sandbox provider only: the request fails over to `sandbox-backup`. */
  primaryDown: '+15555550105',
} as const;

const MAGIC_NUMBERS: readonly string[] = Object.values(SANDBOX_MAGIC_NUMBERS);

/** One of the sandbox's test numbers above: trying them is testing, not traffic (see admission). */
export function isSandboxTestNumber(phoneNumber: string): boolean {
  return MAGIC_NUMBERS.includes(phoneNumber);
}

const SLOW_ANSWER_MS = 3000;
const FLAKY_FAILURES = 2;

/**
 * Stands in for the SMS provider in development: it records each message in D1 (keyed by the
 * idempotency key, so a repeated send is recorded once, as the real provider would send once)
 * and never touches the network. The code itself is not recorded; the sandbox listing derives it.
 */
export class SandboxProvider implements SmsProvider {
  readonly idempotent = true;

  /**
   * `name` is the provider it plays (`sandbox`, or `sandbox-backup` as a second provider that
   * also has WhatsApp), so failover can be tried locally without any vendor account.
   */
  constructor(
    private readonly db: D1Database,
    readonly name = 'sandbox',
    readonly channels: readonly Channel[] = ['sms'],
  ) {}

  async send(request: SendRequest): Promise<SendOutcome> {
    if (request.phoneNumber === SANDBOX_MAGIC_NUMBERS.primaryDown && this.name === 'sandbox') {
      return { kind: 'transient', httpStatus: 503, errorCode: 'provider_unavailable', message: 'sandbox: this provider is down for this number' };
    }
    switch (request.phoneNumber) {
      case SANDBOX_MAGIC_NUMBERS.rejected:
        return { kind: 'permanent', httpStatus: 400, errorCode: 'provider_rejected_request', message: 'sandbox: number rejected' };
      case SANDBOX_MAGIC_NUMBERS.unavailable:
        return { kind: 'transient', httpStatus: 503, errorCode: 'provider_unavailable', message: 'sandbox: provider unavailable' };
      case SANDBOX_MAGIC_NUMBERS.slow:
        await new Promise((resolve) => setTimeout(resolve, SLOW_ANSWER_MS));
        break;
      case SANDBOX_MAGIC_NUMBERS.flaky:
        if (request.attemptNumber <= FLAKY_FAILURES) {
          return { kind: 'transient', httpStatus: 500, errorCode: 'provider_unavailable', message: 'sandbox: flaky failure' };
        }
        break;
    }
    // Each provider and channel sends once per key, as separate vendors would.
    const channel = request.channel ?? 'sms';
    const key = this.name === 'sandbox' && channel === 'sms' ? request.idempotencyKey : `${this.name}/${channel}/${request.idempotencyKey}`;
    const messageId = `sbx_${(await sha256Hex(key)).slice(0, 24)}`;
    await recordSandboxMessage(this.db, {
      idempotencyKey: key,
      provider: this.name,
      channel,
      messageId,
      requestId: request.requestId,
      phoneNumber: request.phoneNumber,
      createdAt: Date.now(),
    });
    return { kind: 'sent', httpStatus: 201, messageId };
  }

  /** Every recorded message is delivered, except to the undeliverable number: the report flow runs locally too. */
  async messageStatus(messageId: string): Promise<StatusOutcome> {
    const row = await getSandboxMessage(this.db, messageId);
    if (!row) return { kind: 'permanent', httpStatus: 404, errorCode: 'provider_message_not_found', message: 'sandbox: no such message' };
    if (row.phone_number === SANDBOX_MAGIC_NUMBERS.undeliverable) {
      return { kind: 'report', httpStatus: 200, status: 'failed', deliveredAt: null, errorMessage: 'sandbox: handset unreachable' };
    }
    return { kind: 'report', httpStatus: 200, status: 'delivered', deliveredAt: Date.now(), errorMessage: null };
  }
}
