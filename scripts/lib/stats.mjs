/** Summary statistics of latency samples and run results. */

/**
 * The p-th percentile of an ascending list, by nearest rank. `empty` is what an empty list
 * yields: NaN by default, so that arithmetic on it stays visibly not-a-number.
 */
export function percentile(sorted, p, empty = NaN) {
  if (sorted.length === 0) return empty;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** The median of the finite values (in any order); NaN when there is none. */
export function median(values) {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
