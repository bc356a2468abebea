import { env } from 'cloudflare:test';

export interface MeteredStatement {
  sql: string;
  rowsWritten: number;
}

/**
 * A D1 binding that records, for every statement run through it (alone or in a batch), its SQL and
 * the rows D1 says it wrote (`meta.rows_written`: the row and each index entry it added or
 * changed), which is what D1 bills.
 */
export function meteredDb() {
  const ran: MeteredStatement[] = [];
  const sqlOf = new WeakMap<object, string>();
  const note = (statement: object, result: D1Result<unknown> | undefined) => {
    ran.push({ sql: sqlOf.get(statement) ?? '?', rowsWritten: result?.meta.rows_written ?? 0 });
  };
  const wrap = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    sqlOf.set(statement, sql);
    const bind = statement.bind.bind(statement);
    const run = statement.run.bind(statement);
    const all = statement.all.bind(statement);
    const first = statement.first.bind(statement);
    return Object.assign(statement, {
      bind: (...args: unknown[]) => wrap(bind(...args), sql),
      run: async () => {
        const result = await run();
        note(statement, result);
        return result;
      },
      all: async () => {
        const result = await all();
        note(statement, result);
        return result;
      },
      // `first` answers no meta; a read-only statement writes nothing to record.
      first: (column?: string) => (column === undefined ? first() : first(column)),
    }) as D1PreparedStatement;
  };
  const db = new Proxy(env.DB, {
    get(target, property) {
      if (property === 'prepare') return (sql: string) => wrap(target.prepare(sql), sql);
      if (property === 'batch') {
        return async (statements: D1PreparedStatement[]) => {
          const results = await target.batch(statements);
          statements.forEach((statement, index) => note(statement, results[index]));
          return results;
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  /** Rows written by the statements whose SQL matches, summed. */
  const rowsWritten = (match: RegExp = /./) => ran.filter((statement) => match.test(statement.sql)).reduce((sum, statement) => sum + statement.rowsWritten, 0);
  return { db, ran, rowsWritten, reset: () => ran.splice(0) };
}
