import { z } from 'zod';
import { REQUEST_ID_PATTERN } from '../ids';

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

/** What the consumer puts on the dead-letter queue for a message it could not even parse. */
export const RejectedMessage = z.object({
  type: z.literal('rejected'),
  v: z.literal(1),
  sourceMessageId: z.string(),
  reason: z.string().max(500),
});
export type RejectedMessage = z.infer<typeof RejectedMessage>;

/** Every kind of work the `otp-send` queue carries, told apart by `type`. */
export const WorkMessage = z.discriminatedUnion('type', [SendJob]);
export type WorkMessage = z.infer<typeof WorkMessage>;

export const DeadLetterBody = z.discriminatedUnion('type', [SendJob, RejectedMessage]);

export function sendJob(requestId: string): SendJob {
  return { type: 'send', v: 1, requestId };
}
