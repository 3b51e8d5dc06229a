/**
 * The partition's half of the deferral: the lanes set aside by earlier rounds, the expansions they wait
 * for, and what the committed offset and the progress marker may say while records are set aside.
 *
 * A lane is resubmitted (before the round's new records: they are older) once every expansion it waits
 * for has settled. The committed offset stops at the first record still set aside; the progress marker
 * (kept in the state changelog) says which records between it and what was taken are already handled, so
 * a new owner neither skips the set-aside records nor handles the others twice.
 */
import type { Progress } from '../state/store';
import type { RawRecord } from '../types';
import { ExpansionCache } from './expansion-cache';
import { byOffset, type DeferredRecord } from './set-aside';

export class PartitionLanes {
  readonly expansions = new ExpansionCache();
  private readonly lanes = new Map<string, RawRecord[]>();
  private records = 0;

  /** Records set aside, all lanes together (they count against the partition's queue bound). */
  get count(): number {
    return this.records;
  }

  /** Lanes still waiting: the round sets their new records aside behind them. */
  waiting(): Set<string> {
    return new Set(this.lanes.keys());
  }

  /** Lanes whose expansions have all settled. */
  ready(): string[] {
    const ready: string[] = [];
    for (const [lane, recs] of this.lanes) {
      const settled = recs.every(
        (r) => this.expansions.promise(r.offset) === undefined || this.expansions.settled(r.offset),
      );
      if (settled) ready.push(lane);
    }
    return ready;
  }

  /** Takes the lanes out, their records in lane order, for the next round. */
  resubmit(lanes: readonly string[]): RawRecord[] {
    const out: RawRecord[] = [];
    for (const lane of lanes) {
      const recs = this.lanes.get(lane) ?? [];
      this.lanes.delete(lane);
      this.records -= recs.length;
      for (const r of recs) out.push(r);
    }
    return out;
  }

  /** Puts a round's set-aside records at their place (offset order) in their lanes. */
  setAside(deferred: readonly DeferredRecord[]): void {
    // Only the lanes this round added to can be out of order; the others were sorted when they grew.
    const touched = new Set<RawRecord[]>();
    for (const { lane, record } of deferred) {
      const list = this.lanes.get(lane) ?? [];
      list.push(record);
      this.lanes.set(lane, list);
      this.records++;
      touched.add(list);
    }
    for (const list of touched) list.sort(byOffset);
  }

  /** A committed round handled these records: their expansions are no longer needed. */
  handled(offsets: readonly string[]): void {
    for (const offset of offsets) this.expansions.delete(offset);
  }

  /** The partition is gone: the expansions' bytes go back to the instance's budget. */
  drop(): void {
    this.expansions.drop();
  }

  /** The progress marker after a round that took records up to `taken` (progressAfter). */
  progress(taken: bigint, inherited: Progress | null): Progress | null {
    const setAside: bigint[] = [];
    for (const list of this.lanes.values()) for (const r of list) setAside.push(BigInt(r.offset));
    return progressAfter(taken, inherited, setAside);
  }
}

/**
 * The committed offset and the progress marker after a round. The offset stops at the first record
 * still set aside; the marker says which records between it and what was taken are already handled,
 * merged with a marker inherited from a previous owner until the records it covers have been taken.
 * Null when nothing is set aside (the committed offset says it all).
 */
export function progressAfter(
  taken: bigint,
  inherited: Progress | null,
  setAside: readonly bigint[],
): Progress | null {
  const relevant = inherited !== null && taken < BigInt(inherited.through) ? inherited : null;
  const unprocessed = [...setAside];
  if (relevant) for (const o of relevant.unprocessed) if (BigInt(o) >= taken) unprocessed.push(BigInt(o));
  unprocessed.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const through = relevant ? BigInt(relevant.through) : taken;
  const first = unprocessed[0];
  const next = first !== undefined && first < taken ? first : taken;
  if (next >= through) return null;
  return { next: next.toString(), through: through.toString(), unprocessed: unprocessed.map(String) };
}
