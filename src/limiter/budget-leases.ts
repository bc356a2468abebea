import type { WindowRule } from '../window-rules';
import type { LeaseGrant, LeaseInput } from './rate-limiter';

/**
 * A budget (the global one over its shards, an app's daily one) spent through leases, as one
 * isolate sees it: it takes a block of units from a shard in one call and spends them locally, so
 * most sends make no budget call at all. The shards never grant more than their windows allow
 * (lease-log.ts), so the total admitted stays within the budget however many isolates lease.
 *
 * - A unit taken for a send that another scope refused is given back to the lease it came from.
 * - When the lease runs low, the next one is taken in the background (big enough leases only), so
 *   a send waits on a lease call only when the isolate holds no unit (a cold start, a budget
 *   nearly spent).
 * - A lease that lapses with units left returns them with the next call to the same shard;
 *   otherwise they stop counting a window after the lease ended.
 * - When the shard refuses, one other shard is tried, as sharding without leases did.
 */

export interface BudgetShape {
  /** Each shard's windows (its share of the budget). */
  rules: WindowRule[];
  shards: number;
  /** Most units one lease starts with; fewer when the windows are small (see `leaseUnitsFor`). */
  maxUnits: number;
  /**
   * Most units a lease grows to while the isolate spends each lease fast (see `growthUnitsFor`);
   * absent, leases stay at their start.
   */
  growUnits?: number;
  leaseMs: number;
}

/** A shard's `lease` call: the object behind `shard`, asked with its input. */
export type LeaseCall = (shard: number, input: LeaseInput) => Promise<LeaseGrant>;

export type Taken = { ok: true; giveBack: () => void } | { ok: false; retryAfterSeconds: number };

/** A lease starts at most this share of its tightest window, so an isolate that sends little holds little of a budget. */
export const LEASE_SHARE_OF_WINDOW = 1 / 32;
/** A lease grows to at most this share, and only for an isolate that spends each lease within a quarter of its time. */
export const GROWN_LEASE_SHARE_OF_WINDOW = 1 / 4;
/** Below this many units a lease is taken only when a send needs it: a lease taken ahead would strand units of a small budget. */
const REFILL_AHEAD_MIN_UNITS = 4;

const tightestOf = (rules: WindowRule[]) => Math.min(...rules.map((rule) => rule.limit));

export function leaseUnitsFor(rules: WindowRule[], maxUnits: number): number {
  return Math.max(1, Math.min(maxUnits, Math.floor(tightestOf(rules) * LEASE_SHARE_OF_WINDOW)));
}

/** The most a lease grows to: `growUnits`, within a quarter of the tightest window, never below the start. */
export function growthUnitsFor(rules: WindowRule[], maxUnits: number, growUnits: number | undefined): number {
  const start = leaseUnitsFor(rules, maxUnits);
  // A small budget's leases stay small: they are not even taken ahead.
  if (growUnits === undefined || start < REFILL_AHEAD_MIN_UNITS) return start;
  return Math.max(start, Math.min(growUnits, Math.floor(tightestOf(rules) * GROWN_LEASE_SHARE_OF_WINDOW)));
}

interface HeldLease {
  shard: number;
  leaseId: number;
  left: number;
  /** Units granted: the lease is refilled ahead once a quarter of them is left. */
  size: number;
  /** Counted from before the call was made, so never later than the shard's own end of it. */
  expiresAt: number;
}

/** A lease is refilled ahead once a quarter of it is left; a small one only when spent (`REFILL_AHEAD_MIN_UNITS`). */
const lowWater = (lease: HeldLease) => (lease.size >= REFILL_AHEAD_MIN_UNITS ? Math.floor(lease.size / 4) : -1);

/** A grown lease holds what its isolate spends in this share of a lease's time. */
const LEASE_SHARE_OF_SPENDING = 1 / 2;

type Outcome = { granted: true } | { granted: false; retryAfterSeconds: number };

export class BudgetLeases {
  private readonly startUnits: number;
  private readonly mostUnits: number;
  /**
   * Units the next lease asks for: what this isolate spent in half a lease's time, at the rate it
   * spent since the last lease was granted, within [start, `mostUnits`]. A busy isolate makes one
   * lease call for many sends; a quiet one (or one idle since) takes small leases and strands little.
   */
  private units: number;
  /** Units taken by sends so far, less those given back: the spending rate is read from it. */
  private taken = 0;
  private lastGrant: { at: number; taken: number } | null = null;
  private current: HeldLease | null = null;
  private next: HeldLease | null = null;
  private toReturn: { shard: number; leaseId: number; units: number } | null = null;
  private inflight: Promise<Outcome> | null = null;
  private shard: number;

  constructor(
    private readonly shape: BudgetShape,
    private readonly clock: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.startUnits = leaseUnitsFor(shape.rules, shape.maxUnits);
    this.mostUnits = growthUnitsFor(shape.rules, shape.maxUnits, shape.growUnits);
    this.units = this.startUnits;
    this.shard = Math.floor(random() * shape.shards);
  }

  /**
   * Takes one unit for a send: locally when a lease has one, else by leasing through `call` (or
   * waiting for the lease call under way). `background` runs the early refill without the send
   * waiting for it; without it, leases are taken only when needed.
   */
  async take(call: LeaseCall, background?: (work: Promise<unknown>) => void): Promise<Taken> {
    for (;;) {
      const lease = this.usable();
      if (lease) {
        lease.left -= 1;
        this.taken += 1;
        if (lease.left <= lowWater(lease) && !this.next && !this.inflight && background) background(this.leaseMore(call).catch(() => {}));
        return { ok: true, giveBack: () => this.giveBack(lease) };
      }
      const outcome = await (this.inflight ?? this.leaseMore(call));
      if (!outcome.granted) return { ok: false, retryAfterSeconds: outcome.retryAfterSeconds };
    }
  }

  /**
   * What the isolate spends in half a lease's time, at the rate it spent since the last lease was
   * granted (so a pause since lowers it); the start before any grant.
   */
  private sizeFor(now: number): number {
    if (!this.lastGrant || this.mostUnits === this.startUnits) return this.startUnits;
    const perMs = (this.taken - this.lastGrant.taken) / Math.max(1, now - this.lastGrant.at);
    return Math.max(this.startUnits, Math.min(this.mostUnits, Math.ceil(perMs * this.shape.leaseMs * LEASE_SHARE_OF_SPENDING)));
  }

  /** Units the last lease asked for (for tests and the docs' bound). */
  leaseSize(): number {
    return this.units;
  }

  /** Units this isolate holds and may still spend (for tests and the docs' bound). */
  held(): number {
    const now = this.clock();
    return [this.current, this.next].reduce((total, lease) => total + (lease && lease.expiresAt > now ? lease.left : 0), 0);
  }

  private giveBack(lease: HeldLease): void {
    if ((lease === this.current || lease === this.next) && lease.expiresAt > this.clock()) {
      lease.left += 1;
      this.taken -= 1;
    }
  }

  /** The lease to spend from, dropping spent and lapsed ones (a lapsed one's units are returned later). */
  private usable(): HeldLease | null {
    const now = this.clock();
    while (this.current && (this.current.left <= 0 || this.current.expiresAt <= now)) {
      if (this.current.left > 0) this.toReturn = { shard: this.current.shard, leaseId: this.current.leaseId, units: this.current.left };
      this.current = this.next;
      this.next = null;
    }
    return this.current;
  }

  /** One lease call at a time per isolate and budget; everyone short of a unit waits for it. */
  private leaseMore(call: LeaseCall): Promise<Outcome> {
    if (!this.inflight) {
      this.inflight = this.askShards(call).finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async askShards(call: LeaseCall): Promise<Outcome> {
    const { shards } = this.shape;
    const first = this.shard;
    const order = shards > 1 ? [first, (first + 1 + Math.floor(this.random() * (shards - 1))) % shards] : [first];
    let retryAfterSeconds = 1;
    this.units = this.sizeFor(this.clock());
    for (const shard of order) {
      const returned = this.toReturn?.shard === shard ? this.toReturn : null;
      if (returned) this.toReturn = null;
      const startedAt = this.clock();
      const grant = await call(shard, {
        rules: this.shape.rules,
        units: this.units,
        leaseMs: this.shape.leaseMs,
        returned: returned ? { leaseId: returned.leaseId, units: returned.units } : undefined,
      });
      if (grant.units > 0 && grant.leaseId !== undefined) {
        const lease = { shard, leaseId: grant.leaseId, left: grant.units, size: grant.units, expiresAt: startedAt + this.shape.leaseMs };
        if (this.usable()) this.next = lease;
        else this.current = lease;
        this.shard = shard;
        this.lastGrant = { at: startedAt, taken: this.taken };
        return { granted: true };
      }
      retryAfterSeconds = grant.retryAfterSeconds;
    }
    return { granted: false, retryAfterSeconds };
  }
}
