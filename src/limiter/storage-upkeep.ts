/**
 * The housekeeping a limiter object does besides deciding: forgetting events older than its
 * windows, and an alarm that deletes everything once the key goes idle. Done with as few storage
 * writes as possible, since rows written are what a Durable Object's storage is billed by: the
 * window length is written only when it changes, the alarm set only when none is pending, and old
 * events pruned at most once per window.
 */
export class StorageUpkeep {
  private keepMs: number | undefined;
  private alarmAt: number | null | undefined;
  /** When each log (an object may keep several, each with its own window) was last pruned. */
  private readonly prunedAt = new Map<string, number>();

  constructor(private readonly storage: DurableObjectStorage) {}

  /** True when it is time to delete events that left every window (the caller does it). */
  shouldPrune(now: number, keepMs: number, log = ''): boolean {
    if (now - (this.prunedAt.get(log) ?? 0) < keepMs) return false;
    this.prunedAt.set(log, now);
    return true;
  }

  /** Remembers how long events are kept (for the alarm) and makes sure an alarm is pending. */
  async keep(keepMs: number, alarmAt: number): Promise<void> {
    if (this.keepMs !== keepMs) {
      if ((await this.storage.get<number>('keepMs')) !== keepMs) await this.storage.put('keepMs', keepMs);
      this.keepMs = keepMs;
    }
    await this.alarmBy(alarmAt);
  }

  /** Makes sure an alarm fires no later than `alarmAt`. */
  async alarmBy(alarmAt: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.storage.getAlarm();
    if (this.alarmAt === null || this.alarmAt > alarmAt) {
      await this.storage.setAlarm(alarmAt);
      this.alarmAt = alarmAt;
    }
  }

  async storedKeepMs(): Promise<number> {
    return this.keepMs ?? (await this.storage.get<number>('keepMs')) ?? 0;
  }

  /** The alarm fired (and is no longer pending); `next` re-arms it, if anything is left. */
  async alarmFired(next: number | null): Promise<void> {
    this.alarmAt = null;
    if (next !== null) {
      await this.storage.setAlarm(next);
      this.alarmAt = next;
    }
  }

  /** After deleteAll: nothing is stored any more. */
  forget(): void {
    this.keepMs = undefined;
    this.alarmAt = null;
    this.prunedAt.clear();
  }
}
