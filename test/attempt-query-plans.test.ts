import { describe, expect, it } from 'vitest';
import { listAttempts, requestHistory } from '../src/db/audit-queries';
import { recordAttemptStatements } from '../src/db/delivery-attempts';
import { queryPlan, recordingDb } from './support/query-plans';

/**
 * delivery_attempts has no rowid since 0016: its key (request_id, attempt_number) is the table.
 * The operators' listing by time still walks delivery_attempts_stats, a request's timeline is a
 * range of the key, and the id an insert assigns is read from the stats index, never a scan.
 */
const plansOf = async (statements: Array<{ sql: string; args: unknown[] }>, match: RegExp) => {
  const plans: string[][] = [];
  for (const { sql, args } of statements.filter((statement) => match.test(statement.sql))) plans.push(await queryPlan(sql, args));
  return plans;
};

describe('delivery_attempts query plans', () => {
  it('the listing by time walks delivery_attempts_stats, first page, later pages and a time range', async () => {
    const { db, statements } = recordingDb();
    const now = Date.now();
    await listAttempts(db, {}, { after: null, limit: 50 });
    await listAttempts(db, {}, { after: { at: now, id: now * 1024 }, limit: 50 });
    await listAttempts(db, { since: now - 3_600_000, until: now }, { after: null, limit: 50 });
    await listAttempts(db, { outcomes: ['failed'] }, { after: { at: now, id: now * 1024 }, limit: 50 });
    const plans = await plansOf(statements, /FROM delivery_attempts a/);
    expect(plans).toHaveLength(4);
    const [first, later, range, byOutcome] = plans as [string[], string[], string[], string[]];
    expect(first).toContainEqual(expect.stringMatching(/^SCAN a USING INDEX delivery_attempts_stats$/));
    expect(later).toContainEqual(expect.stringMatching(/^SEARCH a USING INDEX delivery_attempts_stats \(started_at<\?\)$/));
    expect(range).toContainEqual(expect.stringMatching(/^SEARCH a USING INDEX delivery_attempts_stats \(started_at>\? AND started_at<\?\)$/));
    expect(byOutcome).toContainEqual(expect.stringMatching(/^SEARCH a USING INDEX delivery_attempts_stats \(started_at<\?\)$/));
    for (const plan of plans) expect(plan.filter((line) => /^SCAN a\b(?!.*USING)/.test(line))).toEqual([]);
  });

  it('a request’s timeline is a range of the primary key', async () => {
    const { db, statements } = recordingDb();
    await requestHistory(db, 'otp_AAAAAAAAAAAAAAAAAAAAAA');
    const plans = await plansOf(statements, /FROM delivery_attempts a/);
    expect(plans).toHaveLength(1);
    expect(plans[0]).toContainEqual(expect.stringMatching(/^SEARCH a USING PRIMARY KEY \(request_id=\?\)$/));
  });

  it('an insert reads the ids of its millisecond from delivery_attempts_stats', async () => {
    const { db, statements } = recordingDb();
    const now = Date.now();
    recordAttemptStatements(db, {
      requestId: 'otp_AAAAAAAAAAAAAAAAAAAAAA',
      attemptNumber: 1,
      startedAt: now,
      finishedAt: now + 40,
      httpStatus: 201,
      decision: { action: 'sent', messageId: 'm-1' },
    });
    const plans = await plansOf(statements, /INSERT INTO delivery_attempts/);
    expect(plans).toHaveLength(1);
    expect(plans[0]).toContainEqual(expect.stringMatching(/^SEARCH delivery_attempts USING INDEX delivery_attempts_stats \(started_at=\?\)$/));
  });
});
