/**
 * The two profiles of the end-to-end fault run, one code path: `short` runs inside `npm test` (a few
 * minutes on a 2-core machine, still with every fault type), `full` is `npm run test:chaos` (the size the
 * issue asks for: ≥ 10 000 notifications over ≥ 100 grants). NYLAS_STREAM_E2E_PROFILE selects one;
 * NYLAS_STREAM_E2E_SEED changes the seed (the default makes every run the same traffic).
 */

export interface E2eProfile {
  name: 'short' | 'full';
  seed: number;
  /** Notifications generated (duplicates are extra deliveries on top). */
  count: number;
  grants: number;
  /** First attempts per wall-clock second: spreads the burst over the fault schedule. */
  ratePerSecond: number;
  /** Share of new messages with a body over 1 MB (delivered as `.truncated`, expanded via the API). */
  largeRate: number;
  /**
   * Simulated time runs this many times faster than wall time (retry delays, Retry-After, health
   * windows). 33 maps Nylas's ~16.5-minute retry window (90 s, then 900 s) to ~30 s, longer than each
   * outage, so retries really happen inside the run — with Nylas's rules unchanged (3 attempts,
   * retried statuses only).
   */
  timeScale: number;
  /** Raw-topic partitions (two processors share them). */
  partitions: number;
  /** Every n-th truncated message gets one injected 404 on its first fetch; every m-th two 429s. */
  notFoundEvery: number;
  rateLimitedEvery: number;
}

const PROFILES: Record<E2eProfile['name'], Omit<E2eProfile, 'seed'>> = {
  short: {
    name: 'short',
    count: 2000,
    grants: 30,
    ratePerSecond: 20,
    largeRate: 0.03,
    timeScale: 33,
    partitions: 6,
    notFoundEvery: 4,
    rateLimitedEvery: 3,
  },
  full: {
    name: 'full',
    count: 10_000,
    grants: 100,
    ratePerSecond: 35,
    largeRate: 0.02,
    timeScale: 33,
    partitions: 6,
    notFoundEvery: 5,
    rateLimitedEvery: 3,
  },
};

export function e2eProfile(env: NodeJS.ProcessEnv = process.env): E2eProfile {
  const name = (env.NYLAS_STREAM_E2E_PROFILE ?? 'short').trim().toLowerCase();
  if (name !== 'short' && name !== 'full')
    throw new Error(`NYLAS_STREAM_E2E_PROFILE must be "short" or "full", got "${name}"`);
  const seedText = env.NYLAS_STREAM_E2E_SEED;
  const seed = seedText === undefined || seedText === '' ? 20_240_816 : Number(seedText);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`NYLAS_STREAM_E2E_SEED must be a non-negative integer, got "${seedText}"`);
  const base = PROFILES[name];
  const count = env.NYLAS_STREAM_E2E_COUNT ? Number(env.NYLAS_STREAM_E2E_COUNT) : base.count;
  if (!Number.isSafeInteger(count) || count < 1)
    throw new Error(`NYLAS_STREAM_E2E_COUNT must be a positive integer, got "${env.NYLAS_STREAM_E2E_COUNT}"`);
  return { ...base, count, seed };
}
