/**
 * Bytes of processor state per entry, measured in a fresh process run with --expose-gc: the heap used
 * by a PartitionStore after applying N dedupe ids (notification ids: 36-character UUIDs, as Nylas sends)
 * and M object versions, minus the heap before, after full collections, divided by the count. The id
 * strings count: once a round has committed, the store is the only thing that keeps them.
 */
import { randomUUID } from 'node:crypto';
import { changelogMessages } from '../../../processors/state/changelog';
import { PartitionStore, type StateChange } from '../../../processors/state/store';
import { serveParent } from '../lib/child';

declare const gc: () => void;

/** A notification id as the processor holds it: a flat string out of JSON.parse (randomUUID() alone
 * returns a rope of hex pieces several times the size). */
function notificationId(): string {
  return JSON.parse(`"${randomUUID()}"`) as string;
}

function settledHeap(): number {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

export interface StateBytesResult {
  dedupeIds: number;
  bytesPerDedupeId: number;
  versions: number;
  bytesPerVersion: number;
  /** Heap held by the store with both, MB. */
  storeHeapMb: number;
}

/** Notifications per transaction: the store also tracks each transaction's changelog bucket. */
const ROUND = 500;

/**
 * Changes are built per round, encoded into changelog records (processors/state/changelog.ts) and
 * applied with their bucket bookkeeping, as the partition worker does after a commit; then they are
 * dropped, so after a collection the heap holds the store and what only the store keeps alive — as in
 * the processor, where the notification (and its id string) is garbage once the round committed.
 */
function measure(dedupeIds: number, versions: number): StateBytesResult {
  const store = new PartitionStore(0);
  const expiresAt = Date.now() + 72 * 3_600_000;
  const before = settledHeap();
  const commit = (changes: StateChange[]) => {
    const { tracking } = changelogMessages(0, 0, changes);
    store.apply([...changes, ...tracking]);
  };
  for (let done = 0; done < dedupeIds; done += ROUND) {
    const changes: StateChange[] = [];
    for (let i = done; i < Math.min(dedupeIds, done + ROUND); i++)
      changes.push({ kind: 'dedupe', id: notificationId(), expiresAt: expiresAt + done });
    commit(changes);
  }
  const afterIds = settledHeap();
  for (let done = 0; done < versions; done += ROUND) {
    const changes: StateChange[] = [];
    for (let i = done; i < Math.min(versions, done + ROUND); i++)
      changes.push({
        kind: 'version',
        key: { grantId: `grant-${i % 200}`, objectType: 'event', objectId: notificationId() },
        entry: { version: BigInt(1_723_821_000 + i), offset: String(1_000_000 + i), deleted: false },
        expiresAt: expiresAt + done,
      });
    commit(changes);
  }
  const afterVersions = settledHeap();
  const counts = store.counts();
  if (counts.dedupe !== dedupeIds || counts.version !== versions) throw new Error('unexpected store counts');
  return {
    dedupeIds,
    bytesPerDedupeId: Math.round((afterIds - before) / dedupeIds),
    versions,
    bytesPerVersion: versions > 0 ? Math.round((afterVersions - afterIds) / versions) : 0,
    storeHeapMb: Math.round(((afterVersions - before) / 1048576) * 10) / 10,
  };
}

serveParent(async (msg) => measure(Number(msg.dedupeIds), Number(msg.versions)))();
