/** What the sandbox provider "sent" (never the code: the sandbox listing derives it). */
export interface SandboxMessageRow {
  message_id: string;
  request_id: string;
  phone_number: string;
  created_at: number;
  /** From the request: its app and its code's length (NULL: the deployment's OTP_LENGTH). */
  app_id: string | null;
  code_length: number | null;
}

/** Records one sandbox send; a repeated idempotency key is recorded once, as the real provider sends once. */
export async function recordSandboxMessage(
  db: D1Database,
  message: { idempotencyKey: string; messageId: string; requestId: string; phoneNumber: string; createdAt: number; provider: string; channel: string },
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO sandbox_messages (idempotency_key, message_id, request_id, phone_number, created_at, provider, channel)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
    )
    .bind(message.idempotencyKey, message.messageId, message.requestId, message.phoneNumber, message.createdAt, message.provider, message.channel)
    .run();
}

export async function getSandboxMessage(db: D1Database, messageId: string): Promise<{ phone_number: string; created_at: number } | null> {
  return db
    .prepare('SELECT phone_number, created_at FROM sandbox_messages WHERE message_id = ?1')
    .bind(messageId)
    .first<{ phone_number: string; created_at: number }>();
}

/** The newest sandbox messages, of one phone, of one request, or of all. */
export async function recentSandboxMessages(
  db: D1Database,
  limit: number,
  filter: { phoneNumber?: string; requestId?: string } = {},
): Promise<SandboxMessageRow[]> {
  const { results } = await db
    .prepare(
      `SELECT m.message_id, m.request_id, m.phone_number, m.created_at, r.app_id, r.code_length
       FROM sandbox_messages m LEFT JOIN otp_requests r ON r.id = m.request_id
       WHERE (?1 IS NULL OR m.phone_number = ?1) AND (?2 IS NULL OR m.request_id = ?2)
       ORDER BY m.created_at DESC LIMIT ?3`,
    )
    .bind(filter.phoneNumber ?? null, filter.requestId ?? null, limit)
    .all<SandboxMessageRow>();
  return results;
}
