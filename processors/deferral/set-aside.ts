/**
 * The pipeline's half of the deferral: which notifications of a round wait for the Nylas API.
 *
 * Expansions of a round run concurrently; when some are still pending after `deferAfterMs`, every
 * notification of those objects (grant, type, id: the unit order is kept for, its "lane") is set aside
 * and the rest of the round proceeds, the same grant's other objects included. Notifications of a lane
 * that already waits from an earlier round join the back of it untouched (not deduped, not ordered):
 * their order is decided when the lane is resubmitted. Records that do not decode have no object and are
 * never set aside. The partition's half (lanes.ts) keeps the lanes between rounds.
 */
import { withTimeout } from '../../lib/timeout';
import { objectKeyString } from '../object-identity';
import { type ExpandOutcome, needsExpansion } from '../stages/expand';
import type { Notification, RawRecord } from '../types';
import type { ExpansionCache } from './expansion-cache';

/** A record set aside, and the lane (object) it waits in. */
export interface DeferredRecord {
  lane: string;
  record: RawRecord;
}

/** The lane of a notification: its object, the unit whose order must be kept. */
export function laneOf(n: Notification): string {
  return objectKeyString(n.object);
}

/** The notifications whose lane does not wait. Lanes are only computed when some lane waits (a slow
 * API), not for every record of every round. */
export function outsideWaitingLanes(
  notifications: Notification[],
  waitingLanes: ReadonlySet<string>,
): Notification[] {
  return waitingLanes.size === 0 ? notifications : notifications.filter((n) => !waitingLanes.has(laneOf(n)));
}

/** The round's records set aside, by offset (with their lane). */
export class SetAside {
  constructor(private readonly lanes: ReadonlyMap<string, string>) {}

  /** False for a record set aside: the round neither handles nor counts it. */
  active(r: RawRecord): boolean {
    return !this.lanes.has(r.offset);
  }

  /** The records set aside, in offset order, with their lanes. */
  deferred(records: readonly RawRecord[]): DeferredRecord[] {
    // Almost every round sets nothing aside: no copy, no sort of the round's records then.
    if (this.lanes.size === 0) return [];
    const out: DeferredRecord[] = [];
    for (const record of records) {
      const lane = this.lanes.get(record.offset);
      if (lane !== undefined) out.push({ lane, record });
    }
    return out.sort((a, b) => byOffset(a.record, b.record));
  }
}

export interface ExpandOrSetAsideInput {
  /** The notifications the round would emit (those needing expansion are expanded). */
  candidates: readonly Notification[];
  /** Every decoded notification of the round (a set-aside lane takes all of its own). */
  decoded: readonly Notification[];
  expansions: ExpansionCache;
  expand: (n: Notification, dropped: AbortSignal) => Promise<ExpandOutcome>;
  deferAfterMs: number;
  waitingLanes: ReadonlySet<string>;
}

/** Starts the candidates' expansions, waits for them at most `deferAfterMs`, then sets aside the lanes
 * still waiting (and those already waiting). */
export async function expandOrSetAside(input: ExpandOrSetAsideInput): Promise<SetAside> {
  const { expansions } = input;
  const toExpand = input.candidates.filter(needsExpansion);
  for (const n of toExpand) expansions.start(n, input.expand);
  const pending = toExpand.filter((n) => !expansions.settled(n.record.offset));
  if (pending.length > 0 && input.deferAfterMs > 0) {
    await withTimeout(allEnded(pending.map((n) => expansions.promise(n.record.offset))), input.deferAfterMs);
  }
  const waiting = new Set(input.waitingLanes);
  for (const n of toExpand) if (!expansions.settled(n.record.offset)) waiting.add(laneOf(n));
  const lanes = new Map<string, string>();
  if (waiting.size > 0) {
    for (const n of input.decoded) {
      const lane = laneOf(n);
      if (waiting.has(lane)) lanes.set(n.record.offset, lane);
    }
  }
  return new SetAside(lanes);
}

/**
 * Resolves once every promise has settled, keeping none of their values. Not Promise.allSettled: that
 * keeps each outcome until the last one settles, and the wait is given up after `deferAfterMs` while the
 * expansions go on, so a round that set aside a burst kept every body fetched for it alive, released from
 * the expansion budget or not. The callbacks close over a counter only, not over the promises (a closure
 * over the array keeps every settled promise's value alive just the same, as a heap snapshot showed). With
 * allSettled a child capped at 224 MB ran out with 27 bodies of 8 MB alive in its snapshot; put back, it
 * fails both bursts of test/integration/processors/expansion-memory.test.ts.
 */
function allEnded(promises: ReadonlyArray<Promise<unknown> | undefined>): Promise<void> {
  if (promises.length === 0) return Promise.resolve();
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const ended = countdown(promises.length, done);
  for (const p of promises) {
    if (p === undefined) ended();
    else p.then(ended, ended);
  }
  return all;
}

function countdown(n: number, done: () => void): () => void {
  let left = n;
  return () => {
    if (--left === 0) done();
  };
}

export function byOffset(a: RawRecord, b: RawRecord): number {
  const x = BigInt(a.offset);
  const y = BigInt(b.offset);
  return x < y ? -1 : x > y ? 1 : 0;
}
