import { env } from 'cloudflare:test';

/**
 * Records every statement sent through a D1 binding, with its arguments, so that a test can ask
 * SQLite how it would run each one.
 */
export function recordingDb() {
  const statements: Array<{ sql: string; args: unknown[] }> = [];
  const db = new Proxy(env.DB, {
    get(target, property) {
      if (property === 'prepare') {
        return (sql: string) => {
          const entry = { sql, args: [] as unknown[] };
          statements.push(entry);
          const statement = target.prepare(sql);
          const bind = statement.bind.bind(statement);
          return Object.assign(statement, {
            bind: (...args: unknown[]) => {
              entry.args = args;
              return bind(...args);
            },
          });
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { db, statements };
}

export async function queryPlan(sql: string, args: unknown[]): Promise<string[]> {
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...args)
    .all<{ detail: string }>();
  return results.map((row) => row.detail);
}

const AUDIT_TABLES = /^SCAN (otp_requests|delivery_attempts|status_checks|resend_jobs)\b(?!.*USING)/;

/** Plan lines that read a whole table of `tables` (the audit tables by default) row by row. */
export async function tableScans(sql: string, args: unknown[], tables: RegExp = AUDIT_TABLES): Promise<string[]> {
  return (await queryPlan(sql, args)).filter((detail) => tables.test(detail));
}
