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

/** The most times (ms) that fall within any one second: a window starting at one of them. */
export function mostInOneSecond(times) {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i += 1) {
    while (j < sorted.length && sorted[j] < sorted[i] + 1000) j += 1;
    most = Math.max(most, j - i);
  }
  return most;
}
