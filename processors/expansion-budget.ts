/**
 * The process-wide budget of memory held by expansions of truncated messages (EXPANSION_MAX_HELD_BYTES),
 * beside the queue budget (queue-budget.ts), so that what the processor holds at once is bounded and a heap
 * limit is safe (lib/service-runtime.ts, PROCESSOR_NODE_FLAGS). By default the budget is derived from the
 * limit (expansionBudgetBytes below).
 *
 * Why: a truncated message is one over 1 MB (docs/nylas-contract.md §4.1), its fetched body is held from
 * the moment the call returns until the round that emits it commits, and a set-aside lane keeps it longer
 * (processors/deferral/). Without a budget, EXPANSION_CONCURRENCY calls of up to TOPIC_MAX_MESSAGE_BYTES
 * each, and any number of settled ones, could be held at once: past a heap limit V8 stops the process, the
 * restarted processor takes the same records and stops again, and the partition is stuck.
 *
 * What is counted: an expansion that starts reserves `reserveBytes` (TOPIC_MAX_MESSAGE_BYTES, the largest
 * message the domain topic takes whole; a larger one is emitted without its body, or dead-lettered), kept
 * across its retries and their waits so that an admitted expansion always ends without asking again. When
 * the body arrives the reservation becomes its measured size (`approximateBytes`), held until the partition
 * lets go of the outcome (its round committed, or the partition left). An expansion that ends without a
 * body (404, dead letter) gives its reservation back at once.
 *
 * Admission: an expansion starts when the bytes held plus its reservation fit the budget, first come first
 * served. Or when nothing else can free room: no expansion is running and every body held belongs to a
 * lane that waits for an expansion not yet admitted. That can happen: a lane set aside is handed back to
 * its partition only once every expansion in it has settled, and a lane handed back can be set aside
 * again with its earlier bodies when a later notification of the same object needs one more expansion.
 * Without the second rule a budget full of such lanes would wait for itself for ever. With it one
 * expansion runs at a time until a lane completes. A simpler rule, "start one whenever none runs", would
 * pass the budget whenever calls end before their rounds commit, which is the common case; this one only
 * in the deadlock itself. (A first version had the simpler rule. Its test runs ran out of heap, but they
 * also had the leak described at allEnded in processors/deferral/set-aside.ts, so what the rule itself
 * cost was not measured apart.)
 *
 * The bound is therefore the budget plus one reservation, plus what lanes that need more bodies than the
 * budget hold while they complete (one object's notifications in one round; rare, and bounded by the round).
 */
import { setMaxListeners } from 'node:events';
import { isObj } from '../lib/json';

/** An expansion's claim on the budget: a reservation until its body arrives, then the body's size until
 * released. */
export interface ExpansionHold {
  /** The body arrived, this many bytes: the reservation becomes that. */
  settle(bytes: number): void;
  /** Gives the bytes back (idempotent). */
  release(): void;
}

interface Held {
  /** The partition and object the expansion is for (see admit()). */
  lane: string;
  bytes: number;
  /** The body arrived (the expansion no longer runs). */
  settled: boolean;
}

export class ExpansionBudget {
  private held = 0;
  /** Expansions admitted whose bodies have not arrived: calls, retries and their waits. */
  private running = 0;
  /** Bodies that arrived and are not released, for the deadlock check. */
  private readonly bodies = new Set<Held>();
  private readonly waiting: Array<{ lane: string; admit: (hold: ExpansionHold) => void }> = [];

  constructor(
    /** EXPANSION_MAX_HELD_BYTES. */
    readonly maxBytes: number,
    /** What an expansion reserves until its body arrives: TOPIC_MAX_MESSAGE_BYTES. */
    readonly reserveBytes: number,
  ) {}

  /** Bytes held now: reservations of expansions running and bodies not yet released. */
  get heldBytes(): number {
    return this.held;
  }

  /** Expansions waiting for room. */
  get waitingCalls(): number {
    return this.waiting.length;
  }

  /**
   * Waits until an expansion may start (see the module comment); the hold comes with its reservation made.
   * `lane` names the partition and the object (a lane of processors/deferral/): what the deadlock check
   * needs to tell bodies that wait for this expansion from bodies a commit will release.
   *
   * A wait ends early, rejected with the signal's reason, when any of `cancel` aborts: the expander closed,
   * or the partition the expansion is for went (revoked or failed). Without that, a wait left behind by a
   * partition that went would still be admitted later, and spend an API call and the budget on a body
   * nobody takes.
   */
  admit(lane: string, cancel: readonly AbortSignal[] = []): Promise<ExpansionHold> {
    const aborted = cancel.find((s) => s.aborted);
    if (aborted !== undefined) return Promise.reject(aborted.reason);
    // Behind earlier waiters even when this one would fit: first come, first served.
    if (this.waiting.length === 0 && this.fits(lane)) return Promise.resolve(this.reserve(lane));
    return new Promise((resolve, reject) => {
      const onAbort = (event: Event) => {
        const at = this.waiting.indexOf(waiter);
        if (at < 0) return;
        this.waiting.splice(at, 1);
        unlisten();
        reject((event.target as AbortSignal).reason);
        // Without this waiter's lane, what the bodies held wait for may have changed.
        this.admitWaiting();
      };
      const unlisten = () => {
        for (const s of cancel) s.removeEventListener('abort', onAbort);
      };
      const waiter = {
        lane,
        admit: (hold: ExpansionHold) => {
          unlisten();
          resolve(hold);
        },
      };
      // One listener per waiting expansion on the same few signals (the expander's, a partition's), each
      // removed when its wait ends: a burst past Node's default of 10 is not a leak, so no warning.
      if (cancel.length > 0) setMaxListeners(0, ...cancel);
      for (const s of cancel) s.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      // This waiter may be what the bodies held wait for.
      this.admitWaiting();
    });
  }

  /** `lane`: one more lane that waits (admit()'s own, before it joins the queue). */
  private fits(lane?: string): boolean {
    return this.held + this.reserveBytes <= this.maxBytes || this.deadlocked(lane);
  }

  /**
   * Nothing can free room without a new expansion: none is running, and every body held belongs to a lane
   * that waits for an expansion not yet admitted (a lane is handed back to its partition only once each
   * of its expansions has settled). Bodies of any other lane are released when their round commits.
   */
  private deadlocked(lane?: string): boolean {
    if (this.running > 0) return false;
    if (this.bodies.size === 0) return true;
    const lanes = new Set(this.waiting.map((w) => w.lane));
    if (lane !== undefined) lanes.add(lane);
    for (const b of this.bodies) if (!lanes.has(b.lane)) return false;
    return true;
  }

  /** Counted at once, also for a waiter handed its hold: the next fits() must see it. */
  private reserve(lane: string): ExpansionHold {
    const h: Held = { lane, bytes: this.reserveBytes, settled: false };
    this.running++;
    this.held += h.bytes;
    let released = false;
    return {
      settle: (measured) => {
        if (released || h.settled) return;
        h.settled = true;
        this.running--;
        this.held += measured - h.bytes;
        h.bytes = measured;
        this.bodies.add(h);
        this.admitWaiting();
      },
      release: () => {
        if (released) return;
        released = true;
        if (h.settled) this.bodies.delete(h);
        else this.running--;
        this.held -= h.bytes;
        this.admitWaiting();
      },
    };
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.fits()) {
      const next = this.waiting.shift();
      next?.admit(this.reserve(next.lane));
    }
  }
}

/**
 * What the rest of the processor may hold in the heap at its busiest, with the default queue budget:
 * 137 MB survived V8's full collections at most while a processor drained 2,000,000 notifications flat
 * out (Node 24, `--trace-gc`, 2026-12-07), and V8's heap limit also counts the young generation (48 MiB
 * with `--max-semi-space-size=16`).
 */
export const HEAP_WITHOUT_EXPANSIONS_BYTES = 192 * 2 ** 20;

/**
 * EXPANSION_MAX_HELD_BYTES, or when it is 0 the budget the heap limit leaves room for: the bodies take up
 * to twice their count in the heap (text outside Latin-1), and the budget can be passed by one
 * reservation, so half of what the limit leaves above HEAP_WITHOUT_EXPANSIONS_BYTES, less one
 * reservation. At least one reservation (below it only the deadlock rule would ever start an expansion),
 * at most one per EXPANSION_CONCURRENCY slot (more could not run). A 256 MB limit (304 MiB with the young
 * generation) gives 40 MiB: two expansions of unknown size at once; Node's default on the 24 GB build
 * machine (4,144 MiB) gives the cap, 256 MiB with the defaults.
 */
export function expansionBudgetBytes(o: {
  configured: number;
  heapLimitBytes: number;
  reserveBytes: number;
  concurrency: number;
}): number {
  if (o.configured > 0) return o.configured;
  const room = Math.floor((o.heapLimitBytes - HEAP_WITHOUT_EXPANSIONS_BYTES) / 2) - o.reserveBytes;
  return Math.min(Math.max(room, o.reserveBytes), o.reserveBytes * o.concurrency);
}

/**
 * The size of a fetched message as the budget counts it: the characters of its strings and 16 bytes per
 * value, a walk of its fields (the body is one string, so a 1.6 MB message is a few hundred steps). V8
 * stores a string of Latin-1 text at one byte per character and any other at two, so the heap the body
 * takes is this to twice this. A character is at least one byte of UTF-8 too, so a message whose count
 * exceeds TOPIC_MAX_MESSAGE_BYTES cannot be emitted.
 */
export function approximateBytes(value: unknown): number {
  if (typeof value === 'string') return value.length + 16;
  if (Array.isArray(value)) {
    let n = 16;
    for (const v of value) n += approximateBytes(v);
    return n;
  }
  if (isObj(value)) {
    let n = 16;
    for (const key in value) {
      if (Object.hasOwn(value, key)) n += key.length + approximateBytes(value[key]);
    }
    return n;
  }
  return 16;
}
