/** Waiting and bounded concurrency, for the scripts and the benchmarks alike. */

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Runs `fn` over items with at most `limit` in flight; results keep the input order. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  });
  await Promise.all(workers);
  return results;
}
