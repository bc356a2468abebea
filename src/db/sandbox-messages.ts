/** What the sandbox provider "sent" (never the code: the sandbox listing derives it). */
export interface SandboxMessageRow {
  message_id: string;
  request_id: string;
  phone_number: string;
  created_at: number;
}

/** Records one sandbox send; a repeated idempotency key is recorded once, as the real provider sends once. */
export async function recordSandboxMessage(
  db: D1Database,
  message: { idempotencyKey: string; messageId: string; requestId: string; phoneNumber: string; createdAt: number },
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO sandbox_messages (idempotency_key, message_id, request_id, phone_number, created_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
    )
    .bind(message.idempotencyKey, message.messageId, message.requestId, message.phoneNumber, message.createdAt)
    .run();
}

export async function getSandboxMessage(db: D1Database, messageId: string): Promise<{ phone_number: string; created_at: number } | null> {
  return db
    .prepare('SELECT phone_number, created_at FROM sandbox_messages WHERE message_id = ?1')
    .bind(messageId)
    .first<{ phone_number: string; created_at: number }>();
}

/** The newest sandbox messages, of one phone or of all. */
export async function recentSandboxMessages(db: D1Database, limit: number, phoneNumber?: string): Promise<SandboxMessageRow[]> {
  const statement = phoneNumber
    ? db.prepare('SELECT * FROM sandbox_messages WHERE phone_number = ?1 ORDER BY created_at DESC LIMIT ?2').bind(phoneNumber, limit)
    : db.prepare('SELECT * FROM sandbox_messages ORDER BY created_at DESC LIMIT ?1').bind(limit);
  const { results } = await statement.all<SandboxMessageRow>();
  return results;
}
