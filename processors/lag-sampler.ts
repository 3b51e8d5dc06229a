/**
 * Reads, every PROCESSOR_LAG_INTERVAL, the group's committed offsets and the log ends of the assigned
 * partitions and folds them into the stall monitor (stall-monitor.ts): the lag and stall gauges, the
 * longest stall for /healthz, and one error log per stall saying what each stalled partition waits for.
 */
import type { Logger } from '../lib/logger';
import { withTimeout } from '../lib/timeout';
import { type PartitionOffsets, StallMonitor } from './stall-monitor';

/** Bound of one reading of committed offsets and log ends (at least the sampling interval). */
const LAG_READ_TIMEOUT_MS = 10_000;

export interface LagReading {
  /** The group's committed offsets (negative: none). */
  committed: ReadonlyMap<number, bigint>;
  /** Log start and end offsets. */
  ends: ReadonlyArray<{ partition: number; low: bigint; high: bigint }>;
}

export interface LagSamplerOptions {
  read(): Promise<LagReading>;
  /** The partitions to watch (assigned now). */
  assigned(): readonly number[];
  /** Where a partition stands, for the stall log. */
  describe(partition: number): Record<string, unknown>;
  progress(partition: number, lag: number, stalledSeconds: number): void;
  intervalMs: number;
  stallTimeoutMs: number;
  log: Logger;
  clock: () => number;
}

export class LagSampler {
  private readonly monitor = new StallMonitor();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Longest stall seen by the last sample, in seconds (for /healthz). */
  private longestStallSeconds = 0;
  /** When committed offsets and log ends were last read, and the failed reads since. */
  private lastRead = 0;
  private readFailures = 0;

  constructor(private readonly o: LagSamplerOptions) {}

  /** Seconds of the longest stall of an assigned partition, as of the last sample. */
  get longestStall(): number {
    return this.longestStallSeconds;
  }

  /** No assigned partition has had records waiting without progress for PROCESSOR_STALL_TIMEOUT. */
  get live(): boolean {
    return this.longestStallSeconds * 1000 < this.o.stallTimeoutMs;
  }

  start(): void {
    this.lastRead = this.o.clock();
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  forget(partition: number): void {
    this.monitor.forget(partition);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.sample().finally(() => this.schedule());
    }, this.o.intervalMs);
    this.timer.unref();
  }

  /**
   * A broker that does not answer leaves the gauges as they were, and the stall keeps growing from the
   * last sample that saw it: a processor cut off from its broker is not live.
   */
  async sample(): Promise<void> {
    if (this.o.assigned().length === 0) {
      this.longestStallSeconds = 0;
      return;
    }
    // Reads get a bound of their own, not the sampling interval: after a broker outage the admin
    // reconnects and refreshes metadata, which took longer than a 1 s interval, and every sample failed.
    const read = await withTimeout(this.o.read(), Math.max(this.o.intervalMs, LAG_READ_TIMEOUT_MS)).catch(
      (err: unknown) => ({ failed: err }),
    );
    if (read === 'timeout' || 'failed' in read) {
      this.readFailures++;
      // Logged the first time and then every tenth, not every interval.
      if (this.readFailures % 10 === 1) {
        this.o.log.warn(
          { err: read === 'timeout' ? 'timed out' : read.failed, failures: this.readFailures },
          'reading committed offsets and log ends for the lag failed',
        );
      }
      // Blind is not live: unable to read for longer than the stall bound counts as a stall.
      const blindSeconds = (this.o.clock() - this.lastRead) / 1000;
      this.longestStallSeconds = Math.max(this.longestStallSeconds, blindSeconds);
      return;
    }
    this.readFailures = 0;
    this.lastRead = this.o.clock();
    const offsets = new Map<number, PartitionOffsets>();
    const assigned = new Set(this.o.assigned());
    for (const o of read.ends) {
      if (!assigned.has(o.partition)) continue;
      offsets.set(o.partition, {
        committed: read.committed.get(o.partition) ?? -1n,
        low: o.low,
        high: o.high,
      });
    }
    let longest = 0;
    const stalled: number[] = [];
    for (const [p, progress] of this.monitor.sample(offsets, this.o.clock())) {
      this.o.progress(p, progress.lag, progress.stalledSeconds);
      longest = Math.max(longest, progress.stalledSeconds);
      if (progress.stalledSeconds * 1000 >= this.o.stallTimeoutMs) stalled.push(p);
    }
    if (stalled.length > 0 && this.live) {
      // Once per stall: what each stalled partition is waiting for, so a hang explains itself.
      this.o.log.error(
        {
          stalledSeconds: longest,
          stallTimeoutMs: this.o.stallTimeoutMs,
          partitions: stalled.map((p) => this.o.describe(p)),
        },
        'a partition has made no progress while records wait; /healthz now answers 503',
      );
    }
    this.longestStallSeconds = longest;
  }
}
