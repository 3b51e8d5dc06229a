/**
 * dedupe: drop a notification whose `id` was already handled within DEDUPE_WINDOW (docs/architecture.md,
 * "Processors" step 2). The id is stable across Nylas's retries and provider upserts; the body is not
 * (`webhook_delivery_attempt` changes), so bytes are never compared. Pure: `seen` reads the store.
 *
 * Only notifications that were handled (emitted or found stale) are remembered. One that went to the DLQ
 * is not, so a later retry from Nylas, or a redrive from the DLQ, is processed again.
 */
import { stateId } from '../state/keys';
import type { Notification } from '../types';

export interface DedupeResult {
  /** First occurrences not seen before, in input order. */
  unique: Notification[];
  /** Seen in the store, or earlier in the same batch. */
  duplicates: Notification[];
}

export function dedupe(notifications: readonly Notification[], seen: (id: string) => boolean): DedupeResult {
  const unique: Notification[] = [];
  const duplicates: Notification[] = [];
  const inBatch = new Set<string>();
  for (const n of notifications) {
    const id = n.envelope.id;
    if (inBatch.has(id) || seen(id)) {
      duplicates.push(n);
    } else {
      inBatch.add(id);
      unique.push(n);
    }
  }
  return { unique, duplicates };
}

export interface DedupeEntry {
  id: string;
  /** Epoch ms after which the id is forgotten (and its changelog entry tombstoned). */
  expiresAt: number;
}

/** The ids to remember after a transaction commits: everything handled, once, for DEDUPE_WINDOW, each
 * bounded as the state keeps it (state/keys.ts; PartitionStore.seen maps the same way). */
export function dedupeEntries(
  handled: readonly Notification[],
  now: number,
  windowMs: number,
): DedupeEntry[] {
  const ids = new Set<string>();
  for (const n of handled) ids.add(stateId(n.envelope.id));
  return [...ids].map((id) => ({ id, expiresAt: now + windowMs }));
}
