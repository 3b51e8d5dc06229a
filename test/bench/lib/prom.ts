/**
 * Reading a service's /metrics: counters summed over labels, and quantiles of a histogram over a
 * window (bucket counts at the end minus at the start, linear within the bucket), so the bench can split
 * a latency into the part each service saw.
 */

export type Scrape = string;

export async function scrape(url: string): Promise<Scrape> {
  return (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
}

/** Sum of every series of `name` (optionally only lines containing `filter`). */
export function counter(text: Scrape, name: string, filter = ''): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if ((line.startsWith(`${name} `) || line.startsWith(`${name}{`)) && line.includes(filter))
      n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

/** Cumulative bucket counts of histogram `name` (label sets containing `filter` summed), by upper bound. */
function buckets(text: Scrape, name: string, filter: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`) || !line.includes(filter)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** The q-quantile (0..1) of what histogram `name` observed between two scrapes, in its unit. */
export function histogramQuantile(
  before: Scrape,
  after: Scrape,
  name: string,
  q: number,
  filter = '',
): number {
  const a = buckets(after, name, filter);
  const b = buckets(before, name, filter);
  const bounds = [...a.keys()].sort((x, y) => x - y);
  const counts = bounds.map((le) => (a.get(le) ?? 0) - (b.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i] as number;
    const c = counts[i] as number;
    if (c >= rank) {
      if (!Number.isFinite(bound)) return prevBound;
      const inBucket = c - prevCount;
      return inBucket > 0 ? prevBound + ((bound - prevBound) * (rank - prevCount)) / inBucket : bound;
    }
    prevBound = bound;
    prevCount = c;
  }
  return prevBound;
}
