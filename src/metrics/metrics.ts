import { errorName, logInfo, logWarn } from '../log';

/**
 * Per-event metrics for operators' per-minute views: accepted sends, provider calls (outcome and
 * latency, by provider), verification outcomes and refusals by reason. In production each is one
 * Analytics Engine data point (`METRICS` binding), written fire-and-forget: no await, no D1 write,
 * nothing the request waits for. Without the binding (`npm run dev`, the tests) they are counted
 * per minute in the isolate instead (`localMetrics`). docs/operators.md#metrics has the layout and
 * the queries.
 */
export type MetricPoint =
  | { metric: 'send'; appId: string; testNumber: boolean }
  | { metric: 'provider_call'; provider: string; outcome: string; errorCode: string | null; durationMs: number }
  | { metric: 'verification'; outcome: string; appId: string }
  | { metric: 'denial'; reason: string; appId: string };

/** A provider call's data point, from what the consumer knows of the call. */
export function providerCall(call: { provider: string; outcome: string; errorCode: string | null; durationMs: number }): MetricPoint {
  return { metric: 'provider_call', ...call };
}

export interface Metrics {
  record(point: MetricPoint): void;
}

/** The data point's layout: index 1 the metric, blob 1 the metric again, blobs 2-4 its dimensions, double 1 the count, double 2 a duration. */
export function dataPoint(point: MetricPoint): { indexes: string[]; blobs: string[]; doubles: number[] } {
  const dimensions = pointDimensions(point);
  return {
    indexes: [point.metric],
    blobs: [point.metric, ...dimensions, ...Array(3 - dimensions.length).fill('')],
    doubles: [1, point.metric === 'provider_call' ? point.durationMs : 0],
  };
}

function pointDimensions(point: MetricPoint): string[] {
  switch (point.metric) {
    case 'send':
      return [point.appId, point.testNumber ? 'test_number' : 'sms'];
    case 'provider_call':
      return [point.provider, point.outcome, point.errorCode ?? ''];
    case 'verification':
      return [point.outcome, point.appId];
    case 'denial':
      return [point.reason, point.appId];
  }
}

export function analyticsEngineMetrics(dataset: AnalyticsEngineDataset): Metrics {
  return {
    record(point) {
      try {
        dataset.writeDataPoint(dataPoint(point));
      } catch (error) {
        // A metric is never worth a failed request.
        logWarn('metrics.write_failed', { metric: point.metric, error: errorName(error) });
      }
    },
  };
}

/** One minute's counts of one metric and its dimensions. */
export interface MinuteCount {
  minute: string;
  metric: MetricPoint['metric'];
  dimensions: string[];
  count: number;
  totalDurationMs: number;
}

/** Minutes the local fallback keeps. */
const LOCAL_MINUTES = 60;

/**
 * The fallback: per-minute counts in this isolate's memory, the last hour of them, and one
 * `metrics.minute` log line as each minute closes, so `npm run dev` shows them in its console.
 */
export class LocalMetrics implements Metrics {
  private readonly minutes = new Map<number, Map<string, MinuteCount>>();

  constructor(private readonly clock: () => number = Date.now) {}

  record(point: MetricPoint): void {
    const minute = Math.floor(this.clock() / 60_000) * 60_000;
    let counts = this.minutes.get(minute);
    if (!counts) {
      this.closeMinutesBefore(minute);
      counts = new Map();
      this.minutes.set(minute, counts);
    }
    const dimensions = pointDimensions(point);
    const key = [point.metric, ...dimensions].join('\u0000');
    const entry = counts.get(key) ?? { minute: new Date(minute).toISOString(), metric: point.metric, dimensions, count: 0, totalDurationMs: 0 };
    entry.count += 1;
    entry.totalDurationMs += point.metric === 'provider_call' ? point.durationMs : 0;
    counts.set(key, entry);
  }

  /** Every kept minute's counts, oldest first. */
  snapshot(): MinuteCount[] {
    return [...this.minutes.entries()].sort(([a], [b]) => a - b).flatMap(([, counts]) => [...counts.values()].map((entry) => ({ ...entry })));
  }

  private closeMinutesBefore(minute: number): void {
    const last = Math.max(-Infinity, ...this.minutes.keys());
    const closing = this.minutes.get(last);
    if (closing) {
      logInfo('metrics.minute', {
        minute: new Date(last).toISOString(),
        counts: JSON.stringify(
          Object.fromEntries([...closing.values()].map((entry) => [[entry.metric, ...entry.dimensions].filter(Boolean).join(':'), entry.count])),
        ),
      });
    }
    for (const kept of this.minutes.keys()) if (kept <= minute - LOCAL_MINUTES * 60_000) this.minutes.delete(kept);
  }
}

/** The isolate's fallback sink. */
export const localMetrics = new LocalMetrics();

/** Analytics Engine when the Worker has the binding, else the isolate's local counts. */
export function metricsFor(env: Env): Metrics {
  return env.METRICS ? analyticsEngineMetrics(env.METRICS) : localMetrics;
}
