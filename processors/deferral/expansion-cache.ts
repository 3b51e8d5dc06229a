import type { ExpandOutcome } from '../stages/expand';
import type { Notification } from '../types';

interface Entry {
  promise: Promise<ExpandOutcome>;
  outcome?: ExpandOutcome;
}

/** Expansions in flight or settled, by source offset; kept by the partition across rounds. */
export class ExpansionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<() => void>();

  start(n: Notification, expand: (n: Notification) => Promise<ExpandOutcome>): void {
    const offset = n.record.offset;
    if (this.entries.has(offset)) return;
    const entry: Entry = {
      promise: expand(n).then((outcome) => {
        entry.outcome = outcome;
        for (const l of this.listeners) l();
        return outcome;
      }),
    };
    // A rejection means the expander was closed (shutdown/teardown): the record stays unsettled and is
    // never committed; swallow it here so it is not reported as unhandled.
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
    this.entries.delete(offset);
  }

  /** Called whenever an expansion settles (the partition worker wakes up to resubmit its lane). */
  onSettled(listener: () => void): void {
    this.listeners.add(listener);
  }

  get size(): number {
    return this.entries.size;
  }
}
