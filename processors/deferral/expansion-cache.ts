import { AbortedError, type ExpandOutcome } from '../stages/expand';
import type { Notification } from '../types';

interface Entry {
  promise: Promise<ExpandOutcome>;
  outcome?: ExpandOutcome;
  /** Deleted before it settled (a record isolated while an earlier round's expansion ran). */
  deleted?: boolean;
}

/** Expansions in flight or settled, by source offset; kept by the partition across rounds. A settled
 * body holds its bytes in the instance's expansion budget (processors/expansion-budget.ts) until the
 * partition lets go of it: delete() once its round committed, drop() when the partition goes. */
export class ExpansionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<() => void>();
  private dropped = false;
  /** Aborted by drop(): expansions of this partition still waiting for room stop waiting (the expander). */
  private readonly gone = new AbortController();

  start(n: Notification, expand: (n: Notification, dropped: AbortSignal) => Promise<ExpandOutcome>): void {
    const offset = n.record.offset;
    if (this.entries.has(offset)) return;
    const entry: Entry = {
      promise: expand(n, this.gone.signal).then((outcome) => {
        entry.outcome = outcome;
        // Settled after the partition went, or after its record was let go: nobody will delete it.
        if (this.dropped || entry.deleted) release(outcome);
        for (const l of this.listeners) l();
        return outcome;
      }),
    };
    // A rejection means the expander was closed (shutdown/teardown) or the partition dropped: the record
    // stays unsettled and is never committed; swallow it here so it is not reported as unhandled.
    entry.promise.catch(() => undefined);
    this.entries.set(offset, entry);
  }

  outcome(offset: string): ExpandOutcome | undefined {
    return this.entries.get(offset)?.outcome;
  }

  settled(offset: string): boolean {
    return this.entries.get(offset)?.outcome !== undefined;
  }

  promise(offset: string): Promise<ExpandOutcome> | undefined {
    return this.entries.get(offset)?.promise;
  }

  delete(offset: string): void {
    const entry = this.entries.get(offset);
    if (entry === undefined) return;
    if (entry.outcome) release(entry.outcome);
    else entry.deleted = true;
    this.entries.delete(offset);
  }

  /** The partition is gone (revoked, stopped or failed): every body's bytes go back to the budget, also
   * those of expansions that settle from now on. The outcomes stay readable for a round still running. */
  drop(): void {
    this.dropped = true;
    for (const entry of this.entries.values()) if (entry.outcome) release(entry.outcome);
    this.gone.abort(new AbortedError('partition dropped'));
  }

  /** Called whenever an expansion settles (the partition worker wakes up to resubmit its lane). */
  onSettled(listener: () => void): void {
    this.listeners.add(listener);
  }

  get size(): number {
    return this.entries.size;
  }
}

function release(outcome: ExpandOutcome): void {
  if (outcome.kind === 'expanded') outcome.hold?.release();
}
