import { OtpWebhookError, verifyWebhook, type WebhookEvent } from '@otp-dispatcher/client';
import type { Env } from './env';

/** What this app keeps of an event: enough to show it. */
export interface StoredEvent {
  id: string;
  type: string;
  occurredAt: string;
  errorCode: string | null;
}

/** Kept for a day: enough to show a login's story, and to recognise a post seen before. */
const EVENT_TTL_SECONDS = 86_400;

/**
 * POST /webhooks/otp: checks the signature (Standard Webhooks, with the secret the service showed
 * when the webhook was set) on the raw body, then keeps the event under its request, once per
 * event id (the service may post an event twice). Answers at once: 204, or 400 when the signature
 * does not verify.
 */
export async function receiveWebhook(request: Request, env: Env): Promise<Response> {
  if (!env.OTP_WEBHOOK_SECRET) return Response.json({ error: 'This app has no webhook set up' }, { status: 404 });
  const body = await request.text();
  let event: WebhookEvent;
  try {
    event = await verifyWebhook(body, request.headers, env.OTP_WEBHOOK_SECRET);
  } catch (error) {
    if (error instanceof OtpWebhookError) return Response.json({ error: error.reason }, { status: 400 });
    throw error;
  }
  const stored: StoredEvent = { id: event.id, type: event.type, occurredAt: event.data.occurredAt, errorCode: event.data.errorCode };
  // One key per event: a second post of the same event writes the same key, and two events of one
  // request never overwrite each other.
  await env.STORE.put(`events:${event.data.requestId}:${event.id}`, '', { metadata: stored, expirationTtl: EVENT_TTL_SECONDS });
  return new Response(null, { status: 204 });
}

/** The events received for a request, oldest first. */
export async function eventsOf(env: Env, requestId: string): Promise<StoredEvent[]> {
  const { keys } = await env.STORE.list<StoredEvent>({ prefix: `events:${requestId}:` });
  return keys.flatMap((key) => (key.metadata ? [key.metadata] : [])).sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
}
