import { z } from 'zod';
import { REQUEST_ID_PATTERN, RESEND_ID_PATTERN } from '../ids';

/**
 * Queue message bodies. They carry ids only: the phone number lives in D1 and the code is
 * derived when sending, so a queue message holds nothing worth stealing.
 */
export const SendJob = z.object({
  type: z.literal('send'),
  v: z.literal(1),
  requestId: z.string().regex(REQUEST_ID_PATTERN),
});
export type SendJob = z.infer<typeof SendJob>;

/** Asks the provider what became of a sent request's SMS; `check` counts from 1 and bounds the polling. */
export const StatusCheck = z.object({
  type: z.literal('status_check'),
  v: z.literal(1),
  requestId: z.string().regex(REQUEST_ID_PATTERN),
  check: z.number().int().min(1).max(50),
});
export type StatusCheck = z.infer<typeof StatusCheck>;

/** As many checks as one consumer batch can accept sends (`max_batch_size`, wrangler.toml). */
export const MAX_CHECKS_PER_MESSAGE = 100;

/**
 * The first status checks of one consumer batch's accepted sends that fall due together, in one
 * message: Queues bill each message's write, read and delete, so a batch's first checks cost three
 * operations, not three each. Every later check (a follow-up, the sweeper's, a check coming back
 * from the pacer) travels alone as a `status_check`.
 */
export const StatusChecks = z.object({
  type: z.literal('status_checks'),
  v: z.literal(1),
  checks: z
    .array(StatusCheck.pick({ requestId: true, check: true }))
    .min(1)
    .max(MAX_CHECKS_PER_MESSAGE),
});
export type StatusChecks = z.infer<typeof StatusChecks>;

/** One page of a bulk resend's matches; `step` is the page number, so a stale copy is recognised. */
export const ResendFanout = z.object({
  type: z.literal('resend_fanout'),
  v: z.literal(1),
  resendId: z.string().regex(RESEND_ID_PATTERN),
  step: z.number().int().min(0),
});
export type ResendFanout = z.infer<typeof ResendFanout>;

/** What the consumer puts on the dead-letter queue for a message it could not even parse. */
export const RejectedMessage = z.object({
  type: z.literal('rejected'),
  v: z.literal(1),
  sourceMessageId: z.string(),
  reason: z.string().max(500),
});
export type RejectedMessage = z.infer<typeof RejectedMessage>;

const text = z.string().max(300);
export const Decision = z.discriminatedUnion('action', [
  z.object({ action: z.literal('sent'), messageId: z.string().max(200).nullable() }),
  z.object({ action: z.literal('fail'), errorCode: text, message: text }),
  z.object({ action: z.literal('retry'), delaySeconds: z.number().int().min(0).max(43200), errorCode: text, message: text }),
  z.object({ action: z.literal('expire'), errorCode: text, message: text }),
]);

export const AttemptRecord = z.object({
  requestId: z.string().regex(REQUEST_ID_PATTERN),
  attemptNumber: z.number().int().min(1),
  startedAt: z.number().int(),
  finishedAt: z.number().int(),
  httpStatus: z.number().int().nullable(),
  decision: Decision,
  /** Which provider the call went to; absent in records made before providers were named. */
  provider: z.string().max(40).optional(),
  /** The channel of the call; absent: SMS. */
  channel: z.enum(['sms', 'whatsapp']).optional(),
  /** The message may have gone out although the call failed (see `SendOutcome`). */
  ambiguous: z.boolean().optional(),
  /** An `auto` request's WhatsApp message: its first status check, the fallback decision, this long after. */
  fallbackAfterSeconds: z.number().int().min(1).max(3600).optional(),
  /** An `auto` request gives up on WhatsApp with this attempt: its next attempt is an SMS. */
  fallbackToSms: z.boolean().optional(),
  /** The number of its first status check (after a fallback, the WhatsApp message's checks came first). */
  firstCheck: z.number().int().min(1).max(50).optional(),
});

/**
 * The outcomes of provider calls whose D1 write failed. Carrying them through the queue means
 * the calls are recorded without being made again. Error texts are already redacted.
 */
export const RecordAttempts = z.object({
  type: z.literal('record_attempts'),
  v: z.literal(1),
  attempts: z.array(AttemptRecord).min(1).max(100),
});
export type RecordAttempts = z.infer<typeof RecordAttempts>;

const WORK_MESSAGES = [SendJob, RecordAttempts, StatusCheck, StatusChecks, ResendFanout] as const;

/** Every kind of work the `otp-send` queue carries, told apart by `type`. */
export const WorkMessage = z.discriminatedUnion('type', [...WORK_MESSAGES]);
export type WorkMessage = z.infer<typeof WorkMessage>;

/**
 * What `otp-send-dlq` holds: any work message that ran out of retries, and the rejections the
 * consumer sends there itself. Built from the same list as `WorkMessage`, so a new kind of work
 * cannot reach the dead-letter queue without its consumer being able to read it.
 */
export const DeadLetterBody = z.discriminatedUnion('type', [...WORK_MESSAGES, RejectedMessage]);
export type DeadLetterBody = z.infer<typeof DeadLetterBody>;

export function sendJob(requestId: string): SendJob {
  return { type: 'send', v: 1, requestId };
}

export function statusCheck(requestId: string, check: number): StatusCheck {
  return { type: 'status_check', v: 1, requestId, check };
}

export function statusChecks(checks: ReadonlyArray<{ requestId: string; check: number }>): StatusChecks {
  return { type: 'status_checks', v: 1, checks: checks.map(({ requestId, check }) => ({ requestId, check })) };
}

export function resendFanout(resendId: string, step: number): ResendFanout {
  return { type: 'resend_fanout', v: 1, resendId, step };
}
