import type { SendRow } from './send-log';

/** What the index keeps of a send: no thousand-block hash, which only the prefix's signals read, from the table. */
export type IndexedSend = Omit<SendRow, 'blockKey'>;

/**
 * The PrefixGuard's send log held in memory, by request and by number, so that a number's own
 * windows (a day of its sends) and a send found by its request id cost no read of the log, which
 * is clustered by time. Built from the log when the object starts (one scan of the kept rows) and
 * changed with every write, refund, prune and erasure in the same synchronous turn as the storage
 * change: an object runs one call at a time and its storage writes of a turn commit together, so
 * the index is exactly the log. A restarted or reset object builds it again.
 */
export class SendIndex {
  private readonly byRequest = new Map<string, IndexedSend>();
  /** Each number's sends, oldest first. */
  private readonly byNumber = new Map<string, IndexedSend[]>();

  constructor(rows: Iterable<IndexedSend> = []) {
    for (const row of rows) this.add(row);
  }

  get size(): number {
    return this.byRequest.size;
  }

  add(send: IndexedSend): void {
    this.remove(send.requestId);
    const sends = this.byNumber.get(send.numberKey);
    // One copy of each number's hash however many sends it has (a day holds up to ten).
    const row: IndexedSend = {
      at: send.at,
      requestId: send.requestId,
      numberKey: sends?.[0]?.numberKey ?? send.numberKey,
      prefixScope: send.prefixScope,
      phoneScope: send.phoneScope,
    };
    this.byRequest.set(row.requestId, row);
    if (!sends) {
      this.byNumber.set(row.numberKey, [row]);
      return;
    }
    // Sends arrive in time order; the search keeps the order should a clock step back.
    let at = sends.length;
    while (at > 0 && sends[at - 1]!.at > row.at) at -= 1;
    sends.splice(at, 0, row);
  }

  get(requestId: string): IndexedSend | undefined {
    return this.byRequest.get(requestId);
  }

  /** Takes a send out; answers it, if it was there. */
  remove(requestId: string): IndexedSend | undefined {
    const row = this.byRequest.get(requestId);
    if (!row) return undefined;
    this.byRequest.delete(requestId);
    const sends = this.byNumber.get(row.numberKey)!.filter((send) => send !== row);
    if (sends.length > 0) this.byNumber.set(row.numberKey, sends);
    else this.byNumber.delete(row.numberKey);
    return row;
  }

  /** The times of the number's sends its own windows count, oldest first. */
  phoneTimes(numberKey: string): number[] {
    return (this.byNumber.get(numberKey) ?? []).filter((send) => send.phoneScope).map((send) => send.at);
  }

  /** The number's sends, all of them or only those of the given requests. */
  sendsOf(numberKey: string, requestIds: readonly string[] | null): IndexedSend[] {
    const sends = this.byNumber.get(numberKey) ?? [];
    if (requestIds === null) return [...sends];
    const wanted = new Set(requestIds);
    return sends.filter((send) => wanted.has(send.requestId));
  }

  /** Drops the sends at or before `olderThan`, as the log's prune does. */
  prune(olderThan: number): void {
    for (const [numberKey, sends] of this.byNumber) {
      if (sends[0]!.at > olderThan) continue;
      const kept = sends.filter((send) => send.at > olderThan);
      for (const send of sends) if (send.at <= olderThan) this.byRequest.delete(send.requestId);
      if (kept.length > 0) this.byNumber.set(numberKey, kept);
      else this.byNumber.delete(numberKey);
    }
  }
}
