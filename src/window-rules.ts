import { z } from 'zod';

/** How a rate limit is written in the settings: at most `limit` events per `windowSeconds`. */
export const WindowRule = z.object({
  limit: z.number().int().min(1),
  windowSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 86400),
});
export type WindowRule = z.infer<typeof WindowRule>;

/**
 * Progressive cooldown: after the k-th event within `resetSeconds`, the next one must wait
 * `scheduleSeconds[k-1]` (the last entry repeats) after the latest event.
 */
export const Cooldown = z.object({
  scheduleSeconds: z.array(z.number().int().min(0).max(86400)).min(1).max(10),
  resetSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 86400),
});
export type Cooldown = z.infer<typeof Cooldown>;
