/**
 * How far V8 lets the processor's heap grow before a full collection (PROCESSOR_HEAP_GROWING_PERCENT).
 *
 * Why: after each full collection V8 sets the next one's trigger at a factor times what survived it, and
 * under a heap limit of 2 GB or more (Node's default here: 4,144 MB on the 24 GB build machine) V8's heap
 * controller lets that factor go up to 4 while the processor allocates fast (V8's rule, not measured
 * directly; the RSS figures below are). A processor draining a backlog allocates fast: its heap then held
 * three to four times its live data, and that garbage, not the state, set its RSS (a 2,000,000 drain
 * peaked at 610–682 MB and stood at 470–565 MB three seconds after it, depending on when V8 had last
 * collected). A fixed factor of 2 bounds that: 494–523 MB peak and 416–436 MB after, for about 10 % of the
 * drain's speed (docs/benchmarks.md, "Rounds, not the store").
 *
 * Capping the heap (`--max-old-space-size`) is not the same lever: past the limit V8 stops the process,
 * and what the processor may hold at once is not bounded yet (expansions of truncated messages are not
 * budgeted), so a limit is an operator's choice, not a default (docs/operations.md, "Processor memory").
 *
 * The flag is set at run time because `--heap-growing-percent` is not allowed in NODE_OPTIONS, and every
 * way the processor starts (the image, `npm start`, the chart, the benchmarks) goes through
 * `nylas-stream processor`. V8 reads it each time it computes the next trigger, so setting it before the
 * processor allocates its working set is enough. It is process-wide: only the CLI command sets it, never
 * startProcessor (the tests run processors inside jest's process).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../lib/logger';

/** Sets V8's heap growing factor to 1 + percent/100; 0 leaves V8's own. Returns the flag set, if any. */
export function applyHeapGrowing(
  percent: number,
  setFlags: (flag: string) => void = setFlagsFromString,
): string | undefined {
  if (percent <= 0) return undefined;
  const flag = `--heap-growing-percent=${Math.floor(percent)}`;
  setFlags(flag);
  return flag;
}

/**
 * V8's --optimize-for-size (PROCESSOR_OPTIMIZE_FOR_SIZE, off by default): for a processor whose memory
 * must stay under a tighter limit than the sizing table's, at a cost in throughput.
 *
 * Why it holds the RSS down on Node 24: V8 then starts its incremental full collections as
 * memory-reducing ones (the kind the idle release below asks for; Heap::GCFlagsForIncrementalMarking in
 * V8's heap.h, read, not traced), so the pages a collection frees go back to the system instead of into
 * V8's pool, where they stay resident. Measured, not derived: a flat-out 2 M drain peaked at 487-496 MB
 * with it against 548-560 without (docs/benchmarks.md, "What a queued record costs").
 * V8 reads the flag at each collection, so setting it at run time, before the processor allocates its
 * working set, is enough (it is not allowed in NODE_OPTIONS); process-wide, so only the CLI sets it.
 */
export function applyOptimizeForSize(
  on: boolean,
  setFlags: (flag: string) => void = setFlagsFromString,
): string | undefined {
  if (!on) return undefined;
  const flag = '--optimize-for-size';
  setFlags(flag);
  return flag;
}

/**
 * Gives back, once a busy processor falls idle, the heap pages V8 keeps for reuse
 * (PROCESSOR_IDLE_MEMORY_RELEASE).
 *
 * Why: since V8 13 (Node 24) the pages a full collection frees stay resident in a pool, for the heap to
 * grow into again, until a memory-reducing collection. V8 starts one itself when it sees the process idle,
 * but judges idleness by the allocation rate measured at its last collections: a script that allocated in
 * a burst and then idled got "high alloc" from `--trace-memory-reducer` for a minute and kept its peak,
 * and a processor that had drained 2,000,000 notifications stayed at 667 MB for the minute it was watched
 * (docs/benchmarks.md, "Node 24: the young generation and V8's page pool"). So the processor asks for that
 * collection when it has handled no record for the configured time after handling some: one collection
 * per quiet spell. After a 2 M drain it took 196-282 ms on Node 24 (RSS 582-596 -> 259-310 MB) and 73 ms on
 * Node 20, where V8 unmaps the freed pages on its own thread afterwards: the log line shows no change, and
 * the benchmark read 373 MB instead of 428 when it saw it. A quiet spell can also be a long restore or a stalled partition: the
 * collection then runs once on whatever the heap holds.
 *
 * V8 offers the collection to scripts only through `gc()`, which Node exposes with --expose-gc; the flag
 * set at run time exposes it to contexts created afterwards, so a fresh context fetches it once.
 */
export interface IdleReleaseOptions {
  /** A count, from 0 at the process's start, that grows while the processor works (records handled). */
  activity(): number | Promise<number>;
  /** Quiet time after which the memory is released; 0 disables. */
  idleMs: number;
  log: Logger;
  /** Runs the memory-reducing collection (tests count calls instead). */
  collect?: () => void;
  clock?: () => number;
}

/** What the processor logs at each release (the state benchmark waits for it). */
export const IDLE_RELEASE_MESSAGE = 'idle: heap memory given back';

export class IdleMemoryRelease {
  private timer: NodeJS.Timeout | undefined;
  /** The count counts from the process's start: anything above 0 was work. */
  private lastActivity = 0;
  private quietSince: number;
  /** Work was done since the last release. */
  private busy = false;
  private readonly clock: () => number;
  private readonly collect: () => void;

  constructor(private readonly o: IdleReleaseOptions) {
    this.clock = o.clock ?? (() => performance.now());
    this.collect = o.collect ?? memoryReducingCollection;
    this.quietSince = this.clock();
  }

  start(): this {
    if (this.o.idleMs <= 0 || this.timer) return this;
    // Checked at a quarter of the quiet time: released at most 25 % later than configured.
    this.timer = setInterval(
      () => {
        this.check().catch((err: unknown) => this.o.log.warn({ err }, 'idle memory release failed'));
      },
      Math.max(250, this.o.idleMs / 4),
    );
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look at the activity count; public for tests. */
  async check(): Promise<void> {
    const activity = await this.o.activity();
    const now = this.clock();
    if (activity !== this.lastActivity) {
      this.lastActivity = activity;
      this.quietSince = now;
      this.busy = true;
      return;
    }
    if (!this.busy || now - this.quietSince < this.o.idleMs) return;
    this.busy = false;
    const before = process.memoryUsage.rss();
    const started = performance.now();
    this.collect();
    this.o.log.info(
      {
        ms: Math.round(performance.now() - started),
        rssMbBefore: Math.round(before / 1048576),
        rssMbAfter: Math.round(process.memoryUsage.rss() / 1048576),
      },
      IDLE_RELEASE_MESSAGE,
    );
  }
}

type GcFunction = (options?: { type: string; execution: string; flavor: string }) => void;
let gcFunction: GcFunction | undefined;

/**
 * A full, memory-reducing collection. Two calls, because V8's `gc()` differs by version (measured with a
 * 300 MB burst, 2026-12-07): on Node 24 only the 'last-resort' flavor releases the pooled pages (RSS
 * 326 → 58 MB; a plain `gc()` gave back nothing), while Node 20's V8 ignores that options object and
 * collects nothing, and a plain `gc()` there gives the memory back (162 → 91 MB, unmapped within a
 * second). The second collection finds a compacted heap: a few milliseconds.
 */
export function memoryReducingCollection(): void {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as GcFunction;
  }
  gcFunction({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  gcFunction();
}
