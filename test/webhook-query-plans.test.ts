import { describe, expect, it } from 'vitest';
import { deleteOldWebhookEvents } from '../src/db/retention-deletes';
import { expireUnsentRequests } from '../src/db/stalled-work';
import { claimEvents, readEventStates, recordWebhookAttemptStatements } from '../src/db/webhook-delivery';
import { requestEventStatement } from '../src/db/webhook-events';
import { getWebhookEvent, listWebhookAttempts, listWebhookEvents, redeliverFailedStatement } from '../src/db/webhook-listing';
import { dueExpiryStatements, markEventsReenqueued, stalledEventIds } from '../src/db/webhook-outbox';
import { makeApp } from './support/apps';
import { recordingDb, tableScans } from './support/query-plans';
import { setReceiver } from './support/webhooks';

const WHOLE_TABLE = /^SCAN (webhook_events|webhook_attempts|webhooks|otp_requests)\b(?!.*USING)/;

/**
 * Webhook work runs on every request change, every minute and on every operator page: each of its
 * statements reads through an index, never a whole table.
 */
describe('webhook statements read through indexes', () => {
  it('the check recognises a scan of the events table', async () => {
    expect(await tableScans('SELECT * FROM webhook_events WHERE error_code = ?1', ['x'], WHOLE_TABLE)).toEqual(['SCAN webhook_events']);
  });

  it('writing events, claiming and recording them, the sweeper, listings, redelivery and retention', async () => {
    const app = await makeApp();
    await setReceiver(app.id);
    const { db, statements } = recordingDb();
    const now = Date.now();
    const eventId = 'evt_AAAAAAAAAAAAAAAAAAAAAA_sent';
    requestEventStatement(db, 'otp_AAAAAAAAAAAAAAAAAAAAAA', now);
    await expireUnsentRequests(db, now);
    await claimEvents(db, [eventId], now, 30_000);
    await readEventStates(db, [eventId]);
    recordWebhookAttemptStatements(db, {
      eventId,
      attemptNumber: 1,
      startedAt: now,
      finishedAt: now,
      httpStatus: 500,
      outcome: 'retry',
      errorCode: 'http_error',
      errorMessage: 'x',
      retryDelaySeconds: 10,
    });
    await stalledEventIds(db, now, 60_000, 100);
    await markEventsReenqueued(db, [eventId], now);
    dueExpiryStatements(db, now, 100);
    for (const state of [undefined, 'failed', 'pending', 'delivered'] as const) {
      await listWebhookEvents(db, app.id, { state }, { after: null, limit: 50 });
      await listWebhookEvents(db, app.id, { state }, { after: { at: now, id: eventId }, limit: 50 });
    }
    await getWebhookEvent(db, app.id, eventId);
    await listWebhookAttempts(db, eventId);
    redeliverFailedStatement(db, app.id, now);
    await deleteOldWebhookEvents(db, now - 86_400_000, 500);

    const webhookStatements = statements.filter((statement) => /webhook_(events|attempts)/.test(statement.sql));
    expect(webhookStatements.length).toBeGreaterThan(15);
    for (const { sql, args } of webhookStatements) expect(await tableScans(sql, args, WHOLE_TABLE), sql).toEqual([]);
  });
});
