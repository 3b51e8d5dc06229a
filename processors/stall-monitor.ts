/**
 * Lag and stalls, seen from outside the workers (issue: "a stalled partition is invisible").
 *
 * The lag gauge used to be set by a partition's worker after each of its commits, so a partition whose
 * worker was stuck, torn down or never taken over kept its last value (0) for ever. Here it comes from
 * what the group has committed against the log end, read every PROCESSOR_LAG_INTERVAL for every assigned
 * partition, whatever its worker is doing. A partition with records waiting whose committed offset has
 * not moved since an earlier sample is stalled since that sample; the stall gauge says for how long, the
 * alert NylasStreamPartitionStalled fires on it, and /healthz turns 503 past PROCESSOR_STALL_TIMEOUT.
 *
 * `sample` is pure over what was read; the processor does the reading (bounded by a timeout) and the
 * scheduling.
 */

export interface PartitionOffsets {
  /** The group's committed offset, -1 when it has none. */
  committed: bigint;
  /** First offset still in the log (where a partition without a committed offset starts). */
  low: bigint;
  /** Log end offset. */
  high: bigint;
}

export interface PartitionProgress {
  lag: number;
  /** Seconds the committed offset has not moved while records waited (0 when caught up or moving). */
  stalledSeconds: number;
}

interface Seen {
  position: bigint;
  /** When `position` was first seen with records waiting behind it. */
  since: number;
}

export class StallMonitor {
  private readonly seen = new Map<number, Seen>();

  /** Folds one reading into the per-partition view; partitions not in `offsets` are forgotten. */
  sample(offsets: ReadonlyMap<number, PartitionOffsets>, now: number): Map<number, PartitionProgress> {
    const out = new Map<number, PartitionProgress>();
    for (const p of this.seen.keys()) if (!offsets.has(p)) this.seen.delete(p);
    for (const [p, o] of offsets) {
      // Without a committed offset the group starts at the log start (the reset policy, earliest).
      const position = o.committed >= 0n ? o.committed : o.low;
      const lag = o.high > position ? Number(o.high - position) : 0;
      const prev = this.seen.get(p);
      if (lag === 0) {
        this.seen.delete(p);
        out.set(p, { lag, stalledSeconds: 0 });
        continue;
      }
      if (!prev || prev.position !== position) {
        this.seen.set(p, { position, since: now });
        out.set(p, { lag, stalledSeconds: 0 });
        continue;
      }
      out.set(p, { lag, stalledSeconds: Math.max(0, (now - prev.since) / 1000) });
    }
    return out;
  }

  forget(partition: number): void {
    this.seen.delete(partition);
  }
}
