/**
 * Reconciliation: which known contacts, calendars and folders a completed backfill's whole listings no
 * longer returned, so are emitted as deleted (README "Backfill", docs/processor-internals.md
 * "Reconciliation").
 *
 * An object is judged deleted when all of these hold:
 * - its family was listed whole by this backfill, every page of it (RunningBackfill.listedFrom, the
 *   listed pages);
 * - the known-objects index says it exists (the processor emitted it, and no delete since);
 * - it was last emitted before the listing's first page was answered (`at` < listedFrom): anything
 *   emitted at or after that second may have been created after its page was fetched, and is left alone;
 * - no page of the listing returned it.
 * The delete it becomes carries the listing's first-page time, as a backfill version (time·1000 − 1):
 * the order stage applies a backfill's delete only over an older state (stages/order.ts), so a live
 * update of that second or later, arriving in any order, keeps the object.
 *
 * What it cannot see: an object created and deleted while no notification reached us was never known, so
 * never emitted, and nothing is owed downstream for it.
 */
import type { GrantKnownObjects, ReconciledFamily } from './known-objects';
import { isReconciled } from './known-objects';
import type { ListedPage, RunningBackfill } from './records';

export interface Unlisted {
  family: ReconciledFamily;
  objectId: string;
  /** The listing's first-page time (Unix s, Nylas's clock): the delete's `time`. */
  at: number;
}

export function unlisted(
  running: RunningBackfill,
  pages: Iterable<ListedPage>,
  known: GrantKnownObjects | undefined,
): Unlisted[] {
  const listed = new Map<ReconciledFamily, Set<string>>();
  for (const page of pages) {
    if (!isReconciled(page.family)) continue;
    const ids = listed.get(page.family) ?? new Set<string>();
    listed.set(page.family, ids);
    for (const id of page.ids) ids.add(id);
  }
  const out: Unlisted[] = [];
  for (const [family, from] of Object.entries(running.listedFrom ?? {})) {
    if (!isReconciled(family as ReconciledFamily) || from === undefined) continue;
    const f = family as ReconciledFamily;
    const ids = listed.get(f) ?? new Set<string>();
    for (const [objectId, at] of known?.get(f) ?? []) {
      if (at < from && !ids.has(objectId)) out.push({ family: f, objectId, at: from });
    }
  }
  return out;
}
