import type { BucketCounts } from './conversion-window';

export interface ScopeBucketCounts extends BucketCounts {
  scope: string;
}

/**
 * Counts the ledger has taken in but not yet written: summed per scope and bucket in memory, so
 * however many isolates report however often, one save writes one row per scope and bucket that
 * changed. What a restart loses is the counts since the last save, sends and verifications alike,
 * so a scope's conversion stays about right and only its volume reads low for that stretch.
 */
export class UnsavedCounts {
  private readonly byKey = new Map<string, ScopeBucketCounts>();

  get size(): number {
    return this.byKey.size;
  }

  add(rows: readonly ScopeBucketCounts[]): void {
    for (const row of rows) {
      const key = `${row.scope}\u0000${row.bucket}`;
      const held = this.byKey.get(key);
      if (!held) {
        this.byKey.set(key, { ...row });
        continue;
      }
      held.sends += row.sends;
      held.verified += row.verified;
      held.refused += row.refused;
      held.solved += row.solved;
    }
  }

  rows(): ScopeBucketCounts[] {
    return [...this.byKey.values()];
  }

  /** Forgets buckets that left every window (the ledger prunes its saved rows alike). */
  dropBefore(bucket: number): void {
    for (const [key, row] of this.byKey) if (row.bucket < bucket) this.byKey.delete(key);
  }

  clear(): void {
    this.byKey.clear();
  }
}
