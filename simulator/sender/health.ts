/**
 * Destination health (docs/nylas-contract.md §2.4, §9 #17): `failing` when 95% or more of
 * responses over 15 minutes are non-200 or missing; `failed` when that stays so for 72 hours, after
 * which delivery stops and nothing is replayed. `failing` recovers on its own when the ratio drops;
 * `failed` never does (a user must reactivate it, which re-runs the challenge).
 */

export type HealthStatus = 'active' | 'failing' | 'failed';

export interface HealthOptions {
  failingWindowMs: number;
  failedWindowMs: number;
  /** Failure share that counts as failing (0.95). */
  threshold: number;
}

export const DEFAULT_HEALTH: HealthOptions = {
  failingWindowMs: 15 * 60_000,
  failedWindowMs: 72 * 3_600_000,
  threshold: 0.95,
};

const BUCKET_MS = 60_000;

/** Counts attempts per simulated minute, so days of traffic cost a few thousand buckets. */
export class DestinationHealth {
  private readonly options: HealthOptions;
  private readonly buckets = new Map<number, { ok: number; failed: number }>();
  private firstSeenAt: number | undefined;
  private failingSince: number | undefined;
  status: HealthStatus = 'active';

  constructor(options: Partial<HealthOptions> = {}) {
    this.options = { ...DEFAULT_HEALTH, ...options };
  }

  private ratio(fromMs: number, toMs: number): { failed: number; total: number } {
    let failed = 0;
    let total = 0;
    for (let b = Math.floor(fromMs / BUCKET_MS); b <= Math.floor(toMs / BUCKET_MS); b++) {
      const x = this.buckets.get(b);
      if (!x) continue;
      failed += x.failed;
      total += x.ok + x.failed;
    }
    return { failed, total };
  }

  /** Records one attempt's result at simulated time `atMs` and returns the (possibly new) status. */
  record(atMs: number, ok: boolean): HealthStatus {
    this.firstSeenAt ??= atMs;
    const b = Math.floor(atMs / BUCKET_MS);
    const bucket = this.buckets.get(b) ?? { ok: 0, failed: 0 };
    if (ok) bucket.ok += 1;
    else bucket.failed += 1;
    this.buckets.set(b, bucket);
    // Forget what no window can see any more.
    const horizon = Math.floor((atMs - this.options.failedWindowMs) / BUCKET_MS) - 1;
    if (this.buckets.size > 5000)
      for (const k of this.buckets.keys()) if (k < horizon) this.buckets.delete(k);

    if (this.status === 'failed') return this.status;
    const { failingWindowMs, failedWindowMs, threshold } = this.options;
    const recent = this.ratio(atMs - failingWindowMs, atMs);
    const recentFailing = recent.total > 0 && recent.failed / recent.total >= threshold;
    if (this.status === 'active') {
      // "over 15 minutes": the destination must have been observed for the whole window.
      if (recentFailing && atMs - this.firstSeenAt >= failingWindowMs) {
        this.status = 'failing';
        this.failingSince = atMs;
      }
    } else if (this.status === 'failing') {
      const since = this.failingSince ?? atMs;
      const long = this.ratio(Math.max(since, atMs - failedWindowMs), atMs);
      if (atMs - since >= failedWindowMs && long.total > 0 && long.failed / long.total >= threshold) {
        this.status = 'failed';
      } else if (!recentFailing) {
        this.status = 'active';
        this.failingSince = undefined;
      }
    }
    return this.status;
  }
}
