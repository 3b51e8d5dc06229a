/**
 * order: per object (grant, object type, object id) keep the last emitted version and emit only what is
 * newer, so a consumer never sees an older state after a newer one (docs/architecture.md, "Processors" step 3).
 *
 * Nylas guarantees no order (docs/nylas-contract.md §5): an `.updated` may arrive before its
 * `.created`, a burst of updates can share one envelope `time` (1 s resolution). The rules, per trigger
 * family (docs/processor-internals.md, "Version rules"):
 *
 * - version = the object's own clock where it has one, else the envelope `time`, on one scale per object:
 *   epoch milliseconds for clocks (events: `updated_at`·1000 + `sequence` (capped at 999) so a re-sequenced
 *   event in the same second is newer; others: `time`·1000), plain counts for tracking counters
 *   (opens: `message_data.count`, clicks: the sum of `link_data[].count`, replies: `reply_data.count`).
 * - newer version → emitted; older → stale (counted, not emitted); equal → the later arrival (Kafka offset)
 *   wins, except that a `.created` never supersedes a state of the same version (it cannot follow it).
 * - nothing known about the object → emitted, whatever the action (an `.updated` before its `.created` is
 *   the newest state we know).
 * - a delete is final: it applies to any live state, and after it only a strictly newer create/update
 *   (a resurrection) is emitted; the tombstone keeps the highest version seen, so a late copy of an
 *   update the delete already superseded stays stale. A second delete is stale.
 * - except a backfill's delete (reconciliation: the object was missing from a whole re-listing): it is
 *   an inference at the listing's time, not Nylas's word, so it applies only to older states; a live
 *   state of the listing's second or later means the object exists, and the delete is stale.
 * - events that are not states (send results, bounces, `.legacy` tracking, tracking without counters)
 *   carry no version state: each distinct notification is emitted once (dedupe still applies).
 *
 * Within one batch the notifications of an object are sorted by (version, offset) before the rules run, so
 * near-simultaneous arrivals come out in version order instead of the later one being suppressed; the
 * emitted ones take the object's arrival slots in the batch, so output order across objects follows input.
 */
import { obj } from '../../lib/json';
import { objectKeyString, trackingCounter } from '../object-identity';
import { stateKeyOf } from '../state/keys';
import type { Notification, ObjectKey } from '../types';

/** What the store remembers per object: the last emitted version, and whether it was a delete. */
export interface VersionEntry {
  version: bigint;
  /** Offset of the notification that set it (diagnostics; ties are decided by processing order). */
  offset: string;
  deleted: boolean;
}

/** Events that are not object states: each is emitted once, no version is kept. */
export function isStateless(n: Notification): boolean {
  if (n.family === 'delivery') return true;
  if (n.family === 'tracking') {
    return trackingCounter(n, obj(n.envelope.data.object) ?? {}) === undefined;
  }
  return false;
}

export function isDelete(n: Notification): boolean {
  return n.action === 'deleted' || n.goneOnExpand;
}

/** The rule table, for one notification against what is known about its object. */
export function supersedes(current: VersionEntry | undefined, n: Notification): boolean {
  if (current === undefined) return true;
  if (isDelete(n)) return !current.deleted && (n.origin !== 'backfill' || n.version > current.version);
  if (current.deleted) return n.version > current.version;
  if (n.version !== current.version) return n.version > current.version;
  return n.action !== 'created';
}

export function nextEntry(current: VersionEntry | undefined, n: Notification): VersionEntry {
  if (isDelete(n)) {
    const version = current !== undefined && current.version > n.version ? current.version : n.version;
    return { version, offset: n.record.offset, deleted: true };
  }
  return { version: n.version, offset: n.record.offset, deleted: false };
}

export interface OrderResult {
  /** To emit, in output order. */
  emit: Notification[];
  /** Suppressed because something newer (or equal and final) was already emitted. */
  stale: Notification[];
  /** The new last-emitted entry of every object whose entry changed (map key: objectKeyString; `key`:
   * the object key with its parts bounded as the state keeps them, state/keys.ts). */
  versions: Map<string, { key: ObjectKey; entry: VersionEntry }>;
}

/** Kafka offsets are int64 but stay far below 2^53 in practice; numbers sort much faster than BigInt. */
function offsetOf(n: Notification): number {
  return Number(n.record.offset);
}

function byOffset(a: Notification, b: Notification): number {
  return offsetOf(a) - offsetOf(b);
}

/**
 * Decides, for a batch of unique notifications of one partition (any order), what to emit. Pure:
 * `lookup` reads the store and is not written to.
 */
export function order(
  notifications: readonly Notification[],
  lookup: (key: string) => VersionEntry | undefined,
): OrderResult {
  const sorted = [...notifications].sort(byOffset);
  const groups = new Map<string, Notification[]>();
  const stateless: Notification[] = [];
  for (const n of sorted) {
    if (isStateless(n)) {
      stateless.push(n);
      continue;
    }
    const k = objectKeyString(n.object);
    const g = groups.get(k);
    if (g) g.push(n);
    else groups.set(k, [n]);
  }
  const stale: Notification[] = [];
  const versions = new Map<string, { key: ObjectKey; entry: VersionEntry }>();
  const placed: Array<{ offset: number; n: Notification }> = stateless.map((n) => ({
    offset: offsetOf(n),
    n,
  }));
  for (const [k, group] of groups) {
    let current = lookup(k);
    if (group.length === 1) {
      // The common case: one notification of the object in the batch.
      const n = group[0] as Notification;
      if (supersedes(current, n)) {
        versions.set(k, { key: stateKeyOf(n.object), entry: nextEntry(current, n) });
        placed.push({ offset: offsetOf(n), n });
      } else {
        stale.push(n);
      }
      continue;
    }
    const arrivalSlots = group.map(offsetOf);
    const byVersion = [...group].sort((a, b) =>
      a.version !== b.version ? (a.version < b.version ? -1 : 1) : byOffset(a, b),
    );
    let changed: ObjectKey | undefined;
    let slot = 0;
    for (const n of byVersion) {
      if (supersedes(current, n)) {
        current = nextEntry(current, n);
        changed = n.object;
        placed.push({ offset: arrivalSlots[slot++] ?? offsetOf(n), n });
      } else {
        stale.push(n);
      }
    }
    if (changed !== undefined && current !== undefined) {
      versions.set(k, { key: stateKeyOf(changed), entry: current });
    }
  }
  placed.sort((a, b) => a.offset - b.offset);
  return { emit: placed.map((p) => p.n), stale, versions };
}
