import type { Config } from '../config';
import type { CallOutcome } from '../routing/circuit';
import { reportHealth } from '../routing/provider-health-client';

/**
 * The outcomes of a send batch's calls, on their way to the providers' health objects: reported
 * once when the batch ends, except that once the batch's own calls show a provider down, its
 * outcomes so far go at once. Its health object then opens the circuit while this batch is still
 * running, and the batches that start meanwhile (or run alongside) route around the provider from
 * their first call, instead of each learning of the outage from failures of its own.
 */
export class BatchHealth {
  private readonly unreported = new Map<string, CallOutcome[]>();
  private readonly early: Promise<void>[] = [];

  constructor(
    private readonly env: Env,
    private readonly config: Config,
  ) {}

  note(provider: string, outcome: CallOutcome): void {
    this.unreported.set(provider, [...(this.unreported.get(provider) ?? []), outcome]);
  }

  /** Reports `provider`'s outcomes so far without waiting for the batch's end; resolves once reported (or the report failed). */
  reportNow(provider: string): Promise<void> {
    const outcomes = this.unreported.get(provider);
    if (!outcomes?.length) return Promise.resolve();
    this.unreported.delete(provider);
    const report = reportHealth(this.env, this.config, new Map([[provider, outcomes]]));
    this.early.push(report);
    return report;
  }

  /** Reports the rest, after the early reports (reportHealth logs its failures, never throws). */
  async reportRest(): Promise<void> {
    await Promise.all(this.early);
    await reportHealth(this.env, this.config, this.unreported);
  }
}
